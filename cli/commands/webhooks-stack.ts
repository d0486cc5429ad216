/**
 * `vidflow --stack <name> webhooks ...`: the stack's webhooks table, its Secrets Manager secrets
 * and its FIFO delivery queue, found through the stack outputs `WebhooksTableName`,
 * `WebhookQueueUrl` and `WebhookSecretPrefix`.
 */
import { randomUUID } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { WebhookAdminDeps } from '../../functions/adapters/webhook-admin.js';
import {
  DynamoWebhookDeliveryLog,
  DynamoWebhookEndpointStore,
  SecretsManagerWebhookSecretStore,
  sendToDeliveryQueue,
} from '../../functions/adapters/webhook-aws.js';
import { systemClock } from '../../functions/domain/ports.js';
import { DEFAULT_WEBHOOK_RETENTION_MS } from '../../functions/domain/webhook-endpoints.js';
import { explainAwsError } from '../aws-errors.js';
import { CliError } from '../context.js';
import type { StackOptions } from '../stack.js';

/** The stack outputs the webhook commands read (set by `infra/webhook-delivery.ts`). */
export const WebhookStackOutput = {
  table: 'WebhooksTableName',
  queueUrl: 'WebhookQueueUrl',
  secretPrefix: 'WebhookSecretPrefix',
} as const;

/**
 * The stack's webhook stores.
 * @throws CliError when the stack is missing or has no webhook outputs.
 */
export async function stackWebhookAdmin(options: StackOptions): Promise<WebhookAdminDeps> {
  const config = {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
  };
  const cloudFormation = new CloudFormationClient(config);
  let outputs: Map<string, string>;
  try {
    const result = await cloudFormation.send(new DescribeStacksCommand({ StackName: options.stack }));
    outputs = new Map(
      (result.Stacks?.[0]?.Outputs ?? []).flatMap((output) =>
        output.OutputKey !== undefined && output.OutputValue !== undefined
          ? [[output.OutputKey, output.OutputValue] as const]
          : [],
      ),
    );
  } catch (error) {
    throw explainAwsError(error) ?? error;
  } finally {
    cloudFormation.destroy();
  }
  const table = outputs.get(WebhookStackOutput.table);
  const queueUrl = outputs.get(WebhookStackOutput.queueUrl);
  const secretPrefix = outputs.get(WebhookStackOutput.secretPrefix);
  if (table === undefined || queueUrl === undefined || secretPrefix === undefined) {
    throw new CliError(
      `stack ${options.stack} has no webhook endpoints: deploy this version of vidflow to it`,
    );
  }
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const sqs = new SQSClient(config);
  return {
    endpoints: new DynamoWebhookEndpointStore(documents, table),
    secrets: new SecretsManagerWebhookSecretStore(new SecretsManagerClient(config), secretPrefix),
    log: new DynamoWebhookDeliveryLog(documents, table, DEFAULT_WEBHOOK_RETENTION_MS, systemClock),
    clock: systemClock,
    requireHttps: true,
    // A fresh deduplication nonce per replay: the FIFO queue would drop a second send within 5 minutes.
    enqueueReplay: (_endpointId, messages) =>
      sendToDeliveryQueue(sqs, queueUrl, messages, { replayNonce: randomUUID() }),
  };
}
