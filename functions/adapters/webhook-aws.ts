/**
 * The webhook data in AWS: endpoints, attempts and replayable messages in the stack's webhooks
 * table, each endpoint's signing secrets in its own Secrets Manager secret, and the SQS FIFO
 * delivery queue (one message group per endpoint).
 *
 * Table layout (`pk`, `sk`; `expiresAt` is the TTL attribute):
 * - endpoint: `ENDPOINT` / `<endpointId>`;
 * - attempt:  `ATTEMPT#<endpointId>` / `<at>#<webhookId>#<attempt>` (by endpoint and time);
 * - message:  `MESSAGE#<endpointId>` / `<webhookId>`, with `eventTime` for the `byEventTime`
 *   local secondary index (replay since a time).
 */
import { createHash } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../domain/ports.js';
import type { WebhookEndpoint, WebhookEndpointSecrets } from '../domain/webhook-endpoints.js';
// The same ports as webhook-files.ts imports, on purpose: the two files are the two
// implementations (AWS here, local files there) of each webhook store.
import type {
  AttemptQuery,
  WebhookAttemptRecord,
  WebhookDeliveryLog,
  WebhookEndpointStore,
  WebhookMessage,
  WebhookSecretStore,
} from './webhook-attempts.js';

/** The local secondary index of messages by event time. */
export const MESSAGES_BY_EVENT_TIME_INDEX = 'byEventTime';

const ENDPOINT_PK = 'ENDPOINT';
const attemptPk = (endpointId: string) => `ATTEMPT#${endpointId}`;
const messagePk = (endpointId: string) => `MESSAGE#${endpointId}`;

export class DynamoWebhookEndpointStore implements WebhookEndpointStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async list(): Promise<WebhookEndpoint[]> {
    const endpoints: WebhookEndpoint[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': ENDPOINT_PK },
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of page.Items ?? []) endpoints.push(endpointOf(item));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return endpoints;
  }

  async get(id: string): Promise<WebhookEndpoint | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: ENDPOINT_PK, sk: id }, ConsistentRead: true }),
    );
    return Item === undefined ? undefined : endpointOf(Item);
  }

  async put(endpoint: WebhookEndpoint): Promise<void> {
    await this.documents.send(
      new PutCommand({ TableName: this.tableName, Item: { pk: ENDPOINT_PK, sk: endpoint.id, ...endpoint } }),
    );
  }

  async remove(id: string): Promise<void> {
    await this.documents.send(
      new DeleteCommand({ TableName: this.tableName, Key: { pk: ENDPOINT_PK, sk: id } }),
    );
  }
}

function endpointOf(item: Record<string, unknown>): WebhookEndpoint {
  const { pk: _pk, sk: _sk, ...endpoint } = item;
  return endpoint as unknown as WebhookEndpoint;
}

export class DynamoWebhookDeliveryLog implements WebhookDeliveryLog {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionMs: number,
    private readonly clock: Clock,
  ) {}

  private expiresAt(): number {
    return Math.floor((this.clock.now().getTime() + this.retentionMs) / 1000);
  }

  async record(entry: WebhookAttemptRecord): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: attemptPk(entry.endpointId),
          sk: `${entry.at}#${entry.webhookId}#${entry.attempt}`,
          ...entry,
          expiresAt: this.expiresAt(),
        },
      }),
    );
  }

  async attempts(endpointId: string, query: AttemptQuery): Promise<WebhookAttemptRecord[]> {
    const records: WebhookAttemptRecord[] = [];
    const now = Math.floor(this.clock.now().getTime() / 1000);
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: query.since === undefined ? 'pk = :pk' : 'pk = :pk AND sk >= :since',
          // TTL deletes within days of expiry: hide what already expired.
          FilterExpression: query.failedOnly
            ? 'expiresAt > :now AND outcome <> :delivered'
            : 'expiresAt > :now',
          ExpressionAttributeValues: {
            ':pk': attemptPk(endpointId),
            ':now': now,
            ...(query.since === undefined ? {} : { ':since': query.since }),
            ...(query.failedOnly ? { ':delivered': 'delivered' } : {}),
          },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of page.Items ?? []) {
        const { pk: _pk, sk: _sk, expiresAt: _expires, ...record } = item;
        records.push(record as unknown as WebhookAttemptRecord);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return query.limit === undefined ? records : records.slice(-query.limit);
  }

  async archive(message: WebhookMessage, _at: Date): Promise<void> {
    await this.documents.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: messagePk(message.endpointId),
          sk: message.webhookId,
          eventTime: message.event.time,
          ...message,
          expiresAt: this.expiresAt(),
        },
      }),
    );
  }

  async messages(endpointId: string, since: string): Promise<WebhookMessage[]> {
    const messages: WebhookMessage[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: MESSAGES_BY_EVENT_TIME_INDEX,
          KeyConditionExpression: 'pk = :pk AND eventTime >= :since',
          ExpressionAttributeValues: { ':pk': messagePk(endpointId), ':since': since },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of page.Items ?? []) messages.push(messageOf(item));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return messages;
  }

  async message(endpointId: string, webhookId: string): Promise<WebhookMessage | undefined> {
    const { Item } = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: messagePk(endpointId), sk: webhookId } }),
    );
    return Item === undefined ? undefined : messageOf(Item);
  }
}

function messageOf(item: Record<string, unknown>): WebhookMessage {
  return {
    endpointId: String(item.endpointId),
    webhookId: String(item.webhookId),
    event: item.event as WebhookMessage['event'],
  };
}

/** One secret per endpoint, named `<prefix><endpointId>`, holding the JSON of its signing secrets. */
export class SecretsManagerWebhookSecretStore implements WebhookSecretStore {
  constructor(
    private readonly client: SecretsManagerClient,
    private readonly prefix: string,
  ) {}

  async get(endpointId: string): Promise<WebhookEndpointSecrets | undefined> {
    try {
      const { SecretString } = await this.client.send(
        new GetSecretValueCommand({ SecretId: this.prefix + endpointId }),
      );
      return SecretString === undefined ? undefined : (JSON.parse(SecretString) as WebhookEndpointSecrets);
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  async put(endpointId: string, secrets: WebhookEndpointSecrets): Promise<void> {
    const SecretString = JSON.stringify(secrets);
    try {
      await this.client.send(new PutSecretValueCommand({ SecretId: this.prefix + endpointId, SecretString }));
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      await this.client.send(
        new CreateSecretCommand({
          Name: this.prefix + endpointId,
          Description: `vidflow: Standard Webhooks signing secrets of endpoint ${endpointId}`,
          SecretString,
        }),
      );
    }
  }

  async remove(endpointId: string): Promise<void> {
    await this.client.send(
      new DeleteSecretCommand({ SecretId: this.prefix + endpointId, RecoveryWindowInDays: 7 }),
    );
  }
}

/** The SQS message body of one webhook message. */
export interface WebhookQueueBody extends WebhookMessage {
  readonly replay?: boolean;
}

/**
 * Puts messages on the FIFO delivery queue: message group = endpoint (its own order, its own
 * retries), deduplication id from the endpoint and webhook id (a replay adds its own nonce).
 * @throws what SQS throws, or Error naming the messages SQS refused.
 */
export async function sendToDeliveryQueue(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly WebhookMessage[],
  options: { readonly replayNonce?: string } = {},
): Promise<void> {
  for (let index = 0; index < messages.length; index += 10) {
    const batch = messages.slice(index, index + 10);
    const { Failed } = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((message, position) => {
          const body: WebhookQueueBody = {
            ...message,
            ...(options.replayNonce === undefined ? {} : { replay: true }),
          };
          return {
            Id: String(position),
            MessageBody: JSON.stringify(body),
            MessageGroupId: message.endpointId,
            MessageDeduplicationId: createHash('sha256')
              .update(`${message.endpointId}\n${message.webhookId}\n${options.replayNonce ?? ''}`)
              .digest('hex'),
          };
        }),
      }),
    );
    if (Failed !== undefined && Failed.length > 0) {
      throw new Error(
        `SQS refused ${Failed.length} webhook message(s): ${Failed.map((f) => f.Code).join(', ')}`,
      );
    }
  }
}
