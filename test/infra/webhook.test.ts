/**
 * Webhook delivery in the stack, always there (endpoints are data): the webhooks table, a rule
 * on the vidflow bus invoking the fan-out function, the SQS FIFO delivery queue (one message group
 * per endpoint) with its dead-letter queue feeding the delivery function one message at a time,
 * the alarms, the outputs the CLI reads, and `webhookUrl` as endpoint `ep_default`.
 * Permissions are checked function by function in least-privilege.test.ts.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DETAIL_TYPES } from '../../functions/adapters/events.js';
import { MESSAGES_BY_EVENT_TIME_INDEX } from '../../functions/adapters/webhook-aws.js';
import { EnvName } from '../../functions/config/env-names.js';
import { ENDPOINT_DISABLED_METRIC, WEBHOOK_MAX_ATTEMPTS } from '../../functions/domain/webhook-endpoints.js';
import { StackContextError } from '../../infra/context.js';
import {
  type CfnTemplate,
  createVidflowStack,
  findOptionalFunction,
  type TemplateFunction,
} from '../../infra/synth.js';
import { OptionalFunctionName } from '../../infra/vidflow-function.js';
import { WEBHOOK_MAX_RECEIVE_COUNT } from '../../infra/webhook-delivery.js';

type Json = Record<string, unknown>;

const WEBHOOK_URL = 'https://hooks.example.com/vidflow';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/webhook-AbCdEf';

function templateWith(context: Json = {}): Template {
  return Template.fromStack(createVidflowStack({ bundle: false, context }).stack);
}

function asRecord(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`expected an object, got ${JSON.stringify(value)}`);
  }
  return value as Json;
}

function logicalIdOf(template: CfnTemplate, type: string, prefix: string): string {
  const ids = Object.entries(asRecord(template.Resources))
    .filter(([id, value]) => asRecord(value).Type === type && id.startsWith(prefix))
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${ids.length}`);
  return ids[0] as string;
}

function fnOf(json: CfnTemplate, name: OptionalFunctionName): TemplateFunction {
  const fn = findOptionalFunction(json, name);
  if (fn === undefined) throw new Error(`no ${name} function`);
  return fn;
}

describe('webhook delivery, without any webhook context', () => {
  let template: Template;
  let json: CfnTemplate;
  let queueId: string;
  let tableId: string;

  beforeAll(() => {
    template = templateWith();
    json = template.toJSON();
    queueId = logicalIdOf(json, 'AWS::SQS::Queue', 'WebhookDeliveryQueue');
    tableId = logicalIdOf(json, 'AWS::DynamoDB::Table', 'WebhookDeliveryTable');
  });

  it('keeps endpoints, attempts by endpoint and time, and messages by event time in one table with a TTL', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        LocalSecondaryIndexes: [
          {
            IndexName: MESSAGES_BY_EVENT_TIME_INDEX,
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'eventTime', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      }),
    });
  });

  it('routes the five terminal detail-types from source vidflow on the vidflow bus to the fan-out function', () => {
    const fanOut = fnOf(json, OptionalFunctionName.webhookFanOut);
    const busId = logicalIdOf(json, 'AWS::Events::EventBus', 'EventBus');
    const fanOutDlq = logicalIdOf(json, 'AWS::SQS::Queue', 'WebhookDeliveryFanOutDeadLetterQueue');
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: busId },
      EventPattern: { source: ['vidflow'], 'detail-type': Object.values(DETAIL_TYPES) },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fanOut.logicalId, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [fanOutDlq, 'Arn'] } },
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        }),
      ],
    });
  });

  it('delivers through a high-throughput FIFO queue, per-endpoint groups, encrypted and TLS-only', () => {
    const dlq = logicalIdOf(json, 'AWS::SQS::Queue', 'WebhookDeliveryDeadLetterQueue');
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      FifoThroughputLimit: 'perMessageGroupId',
      DeduplicationScope: 'messageGroup',
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 180,
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
        maxReceiveCount: WEBHOOK_MAX_RECEIVE_COUNT,
      },
    });
    expect(WEBHOOK_MAX_RECEIVE_COUNT).toBeGreaterThan(WEBHOOK_MAX_ATTEMPTS);
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('feeds the delivery function one message at a time, with partial batch failures', () => {
    const webhook = fnOf(json, OptionalFunctionName.webhook);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: webhook.logicalId },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('gives both functions the table, the queue and the secret prefix, and no default endpoint', () => {
    for (const name of [OptionalFunctionName.webhook, OptionalFunctionName.webhookFanOut]) {
      const fn = fnOf(json, name);
      expect(fn.timeoutSeconds).toBe(30);
      expect(fn.environment[EnvName.webhooksTableName]).toStrictEqual({ Ref: tableId });
      expect(fn.environment[EnvName.webhookQueueUrl]).toStrictEqual({ Ref: queueId });
      expect(fn.environment[EnvName.webhookSecretPrefix]).toBe('Vidflow/webhooks/');
      expect(fn.environment[EnvName.webhookUrl]).toBeUndefined();
      expect(fn.environment[EnvName.webhookSecretArn]).toBeUndefined();
    }
  });

  it('alarms when an endpoint is disabled and when the fan-out dead-letters an event, to the alarm topic', () => {
    const topic = logicalIdOf(json, 'AWS::SNS::Topic', 'MonitoringAlarmTopic');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'vidflow',
      MetricName: ENDPOINT_DISABLED_METRIC,
      Dimensions: [{ Name: 'service', Value: 'vidflow' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topic }],
      OKActions: [{ Ref: topic }],
    });
    const fanOutDlq = logicalIdOf(json, 'AWS::SQS::Queue', 'WebhookDeliveryFanOutDeadLetterQueue');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [fanOutDlq, 'QueueName'] } }],
      AlarmActions: [{ Ref: topic }],
    });
  });

  it('outputs the table, the queue and the secret prefix the CLI reads, and creates no webhook secret', () => {
    template.hasOutput('WebhooksTableName', { Value: { Ref: tableId } });
    template.hasOutput('WebhookQueueUrl', { Value: { Ref: queueId } });
    template.hasOutput('WebhookSecretPrefix', { Value: 'Vidflow/webhooks/' });
    expect(Object.keys(template.findOutputs('WebhookSecretArn'))).toStrictEqual([]);
    expect(Object.keys(template.findResources('AWS::SecretsManager::Secret'))).toHaveLength(1); // the provider key
  });
});

describe('webhookUrl: endpoint ep_default', () => {
  it('creates the signing secret vidflow/webhook-secret and hands URL and secret to both functions', () => {
    const template = templateWith({ webhookUrl: WEBHOOK_URL });
    const json = template.toJSON();
    const secretId = logicalIdOf(json, 'AWS::SecretsManager::Secret', 'WebhookSecret');
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'vidflow/webhook-secret',
      GenerateSecretString: { PasswordLength: 32, ExcludePunctuation: true },
    });
    template.hasOutput('WebhookSecretArn', { Value: { Ref: secretId } });
    for (const name of [OptionalFunctionName.webhook, OptionalFunctionName.webhookFanOut]) {
      const fn = fnOf(json, name);
      expect(fn.environment[EnvName.webhookUrl]).toBe(WEBHOOK_URL);
      expect(fn.environment[EnvName.webhookSecretArn]).toStrictEqual({ Ref: secretId });
    }
  });

  it('uses an existing secret, given by its complete ARN, and creates none', () => {
    const template = templateWith({ webhookUrl: WEBHOOK_URL, webhookSecretArn: SECRET_ARN });
    const json = template.toJSON();
    expect(Object.keys(template.findResources('AWS::SecretsManager::Secret'))).toHaveLength(1); // the provider key
    expect(fnOf(json, OptionalFunctionName.webhook).environment[EnvName.webhookSecretArn]).toBe(SECRET_ARN);
  });

  it.each([
    { webhookUrl: 'http://hooks.example.com/vidflow' },
    { webhookUrl: 'hooks.example.com' },
    { webhookUrl: WEBHOOK_URL, webhookSecretArn: 'acme/webhook' },
    { webhookSecretArn: SECRET_ARN },
  ])('rejects %j with a StackContextError', (context) => {
    expect(() => createVidflowStack({ bundle: false, context })).toThrow(StackContextError);
  });
});
