/**
 * The two webhook functions of the stack: fan-out (an EventBridge job event -> one FIFO message
 * per endpoint that wants it) and delivery (one message -> one signed attempt, the next wait set
 * as the message's visibility timeout). DynamoDB, Secrets Manager and SQS through
 * aws-sdk-client-mock; the receiver is a fake fetch, so signatures are checked without a network.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { JobEvent } from '../../functions/adapters/events.js';
import type { WebhookAttemptRecord } from '../../functions/adapters/webhook-attempts.js';
import { EnvName } from '../../functions/config/env-names.js';
import { ConfigError } from '../../functions/domain/errors.js';
import { ENDPOINT_DISABLED_METRIC, type WebhookEndpoint } from '../../functions/domain/webhook-endpoints.js';
import { createWebhookHandler } from '../../functions/webhook/handler.js';
import { createWebhookFanOutHandler } from '../../functions/webhook-fanout/handler.js';
import { FakeClock } from '../support/fakes.js';

const OLD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NEW_SECRET = 'whsec_dGhpcyBpcyBhIGJyYW5kIG5ldyBzZWNyZXQhIQ==';
const DEFAULT_SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vidflow/webhook-secret-AbCdEf';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/vidflow-webhooks.fifo';
const ENV = {
  [EnvName.webhooksTableName]: 'webhooks',
  [EnvName.webhookQueueUrl]: QUEUE_URL,
  [EnvName.webhookSecretPrefix]: 'Vidflow/webhooks/',
};

const dynamo = mockClient(DynamoDBDocumentClient);
const secrets = mockClient(SecretsManagerClient);
const sqs = mockClient(SQSClient);

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function endpoint(id: string, overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    id,
    url: `https://hooks.example.com/${id}`,
    description: '',
    events: [],
    filters: {},
    enabled: true,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

const event: JobEvent = {
  source: 'vidflow',
  detailType: 'Job Completed',
  time: '2025-05-01T11:59:00.000Z',
  detail: {
    schemaVersion: 1,
    jobId: 'job1',
    status: 'COMPLETED',
    attempt: 1,
    source: { key: 'trips/a.mp4' },
    request: { model: 'runway/gen4_aleph' },
  },
} as unknown as JobEvent;

function sqsEvent(endpointId: string, receiveCount = 1): SQSEvent {
  return {
    Records: [
      {
        messageId: 'm1',
        receiptHandle: 'r1',
        body: JSON.stringify({ endpointId, webhookId: 'job1-COMPLETED-1', event }),
        attributes: { ApproximateReceiveCount: String(receiveCount) },
      },
    ],
  } as unknown as SQSEvent;
}

interface Sent {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A fetch answering `status` (with `headers`), recording what was sent. */
function fakeFetch(status: number, headers: Record<string, string> = {}, body = '') {
  const sent: Sent[] = [];
  const fetch = async (url: string | URL | Request, init?: RequestInit) => {
    sent.push({
      url: String(url),
      headers: init?.headers as Record<string, string>,
      body: String(init?.body),
    });
    return new Response(status === 204 ? null : body, { status, headers });
  };
  return { sent, fetch: fetch as typeof globalThis.fetch };
}

/** Whether `secret` verifies what was sent, at the fake clock's time (the library checks the timestamp's age). */
function verifiesAt(secret: string, sent: Sent | undefined, at = '2025-05-01T12:00:00.000Z'): boolean {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(at));
  try {
    new Webhook(secret).verify(sent?.body ?? '', sent?.headers ?? {});
    return true;
  } catch {
    return false;
  } finally {
    vi.useRealTimers();
  }
}

const attemptsRecorded = (): WebhookAttemptRecord[] =>
  dynamo
    .commandCalls(PutCommand)
    .map((call) => call.args[0].input.Item as Record<string, unknown>)
    .filter((item) => String(item.pk).startsWith('ATTEMPT#'))
    .map((item) => item as unknown as WebhookAttemptRecord);

const endpointsSaved = (): WebhookEndpoint[] =>
  dynamo
    .commandCalls(PutCommand)
    .map((call) => call.args[0].input.Item as Record<string, unknown>)
    .filter((item) => item.pk === 'ENDPOINT')
    .map((item) => item as unknown as WebhookEndpoint);

beforeEach(() => {
  dynamo.reset();
  secrets.reset();
  sqs.reset();
  dynamo.on(PutCommand).resolves({});
  sqs.on(ChangeMessageVisibilityCommand).resolves({});
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  secrets
    .on(GetSecretValueCommand)
    .rejects(new ResourceNotFoundException({ message: 'none', $metadata: {} }));
  secrets
    .on(GetSecretValueCommand, { SecretId: 'Vidflow/webhooks/ep_a' })
    .resolves({ SecretString: JSON.stringify({ current: OLD_SECRET }) });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('webhook-fanout', () => {
  it('queues the event for each enabled endpoint that wants it, grouped by endpoint, and archives it', async () => {
    dynamo.on(QueryCommand).resolves({
      Items: [
        {
          pk: 'ENDPOINT',
          sk: 'ep_a',
          ...endpoint('ep_a', { events: ['Job Completed'], filters: { sourcePrefix: 'trips/' } }),
        },
        { pk: 'ENDPOINT', sk: 'ep_b', ...endpoint('ep_b', { events: ['Job Failed'] }) },
        { pk: 'ENDPOINT', sk: 'ep_c', ...endpoint('ep_c', { enabled: false, disabledReason: 'manual' }) },
        { pk: 'ENDPOINT', sk: 'ep_d', ...endpoint('ep_d', { filters: { model: 'runway/gen4_aleph' } }) },
      ],
    });
    const handler = createWebhookFanOutHandler(
      {
        ...ENV,
        [EnvName.webhookUrl]: 'https://hooks.example.com/default',
        [EnvName.webhookSecretArn]: DEFAULT_SECRET_ARN,
      },
      { logger: silent, sqs: new SQSClient({}) },
    );
    const result = await handler({
      source: 'vidflow',
      'detail-type': 'Job Completed',
      time: '2025-05-01T11:59:00Z',
      detail: event.detail,
    } as never);
    expect(result).toStrictEqual({ queued: 3 });
    const entries = sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries ?? [];
    expect(entries.map((entry) => entry.MessageGroupId)).toStrictEqual(['ep_default', 'ep_a', 'ep_d']);
    expect(entries.map((entry) => JSON.parse(entry.MessageBody ?? '').webhookId)).toStrictEqual([
      'job1-COMPLETED-1',
      'job1-COMPLETED-1',
      'job1-COMPLETED-1',
    ]);
    expect(new Set(entries.map((entry) => entry.MessageDeduplicationId)).size).toBe(3);
    const archived = dynamo.commandCalls(PutCommand).map((call) => call.args[0].input.Item);
    expect(archived.map((item) => [item?.pk, item?.sk, item?.eventTime])).toStrictEqual([
      ['MESSAGE#ep_default', 'job1-COMPLETED-1', '2025-05-01T11:59:00.000Z'],
      ['MESSAGE#ep_a', 'job1-COMPLETED-1', '2025-05-01T11:59:00.000Z'],
      ['MESSAGE#ep_d', 'job1-COMPLETED-1', '2025-05-01T11:59:00.000Z'],
    ]);
  });

  it('refuses to start without its table, queue and secret prefix', () => {
    expect(() => createWebhookFanOutHandler({}, { logger: silent })).toThrow(ConfigError);
  });
});

describe('webhook delivery', () => {
  const clock = new FakeClock('2025-05-01T12:00:00.000Z');
  const publicAddress = async () => ['93.184.215.14'];

  function handlerWith(
    fetch: typeof globalThis.fetch,
    extra: { metrics?: Metrics; random?: () => number } = {},
  ) {
    return createWebhookHandler(ENV, {
      logger: silent,
      clock,
      sqs: new SQSClient({}),
      fetch,
      resolve: publicAddress,
      random: extra.random ?? (() => 0),
      ...(extra.metrics === undefined ? {} : { metrics: extra.metrics }),
    });
  }

  const withEndpoint = (value: WebhookEndpoint) =>
    dynamo.on(QueryCommand).resolves({ Items: [{ pk: 'ENDPOINT', sk: value.id, ...value }] });

  it('POSTs the event signed per Standard Webhooks and records the delivered attempt', async () => {
    withEndpoint(endpoint('ep_a'));
    const receiver = fakeFetch(204);
    const result = await handlerWith(receiver.fetch)(sqsEvent('ep_a'));
    expect(result).toStrictEqual({ batchItemFailures: [] });
    const [sent] = receiver.sent;
    expect(sent?.url).toBe('https://hooks.example.com/ep_a');
    expect(sent?.headers['webhook-id']).toBe('job1-COMPLETED-1');
    expect(JSON.parse(sent?.body ?? '')).toStrictEqual(event);
    expect(verifiesAt(OLD_SECRET, sent)).toBe(true);
    expect(verifiesAt(NEW_SECRET, sent)).toBe(false);
    expect(attemptsRecorded().map((a) => [a.endpointId, a.attempt, a.outcome, a.httpStatus])).toStrictEqual([
      ['ep_a', 1, 'delivered', 204],
    ]);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
  });

  it.each([
    [1, 500, {}, 5],
    [2, 500, {}, 300],
    [3, 503, {}, 1800],
    [4, 429, { 'retry-after': '9000' }, 9000],
    [5, 503, { 'retry-after': '999999' }, 36_000],
    [7, 500, {}, 36_000],
  ])(
    'after failed attempt %i (%i %j), hides the message for %i s: the next wait of the schedule',
    async (attempt, status, headers, seconds) => {
      withEndpoint(endpoint('ep_a'));
      const result = await handlerWith(fakeFetch(status, headers).fetch)(sqsEvent('ep_a', attempt));
      expect(result).toStrictEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
      expect(
        sqs.commandCalls(ChangeMessageVisibilityCommand).map((call) => call.args[0].input),
      ).toStrictEqual([{ QueueUrl: QUEUE_URL, ReceiptHandle: 'r1', VisibilityTimeout: seconds }]);
      expect(attemptsRecorded()[0]).toMatchObject({ attempt, outcome: 'retrying', httpStatus: status });
    },
  );

  it('adds up to 10% of jitter to the wait, never less than the schedule', async () => {
    withEndpoint(endpoint('ep_a'));
    await handlerWith(fakeFetch(500).fetch, { random: () => 0.999 })(sqsEvent('ep_a', 2));
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input.VisibilityTimeout).toBe(330);
  });

  it('gives up after the 8th attempt: the message is deleted and the attempt recorded as failed', async () => {
    withEndpoint(endpoint('ep_a'));
    const result = await handlerWith(fakeFetch(500).fetch)(sqsEvent('ep_a', 8));
    expect(result).toStrictEqual({ batchItemFailures: [] });
    expect(attemptsRecorded()[0]).toMatchObject({ attempt: 8, outcome: 'failed' });
  });

  it('disables an endpoint that answers 410 Gone and counts it for the alarm', async () => {
    withEndpoint(endpoint('ep_a'));
    const metrics = new Metrics({ namespace: 'vidflow', serviceName: 'vidflow' });
    const added = vi.spyOn(metrics, 'addMetric');
    vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
    const result = await handlerWith(fakeFetch(410).fetch, { metrics })(sqsEvent('ep_a'));
    expect(result).toStrictEqual({ batchItemFailures: [] });
    expect(endpointsSaved()).toMatchObject([{ id: 'ep_a', enabled: false, disabledReason: 'gone' }]);
    expect(added).toHaveBeenCalledWith(ENDPOINT_DISABLED_METRIC, 'Count', 1);
  });

  it('disables an endpoint whose attempts have all failed for 5 days', async () => {
    withEndpoint(endpoint('ep_a', { failingSince: '2025-04-26T12:00:00.000Z' }));
    const result = await handlerWith(fakeFetch(503).fetch)(sqsEvent('ep_a', 3));
    expect(result).toStrictEqual({ batchItemFailures: [] });
    expect(endpointsSaved()).toMatchObject([{ id: 'ep_a', enabled: false, disabledReason: 'failing' }]);
  });

  it('sends nothing to a disabled endpoint', async () => {
    withEndpoint(endpoint('ep_a', { enabled: false, disabledReason: 'manual' }));
    const receiver = fakeFetch(204);
    expect(await handlerWith(receiver.fetch)(sqsEvent('ep_a'))).toStrictEqual({ batchItemFailures: [] });
    expect(receiver.sent).toStrictEqual([]);
    expect(attemptsRecorded()).toStrictEqual([]);
  });

  it('refuses private, loopback and link-local targets without sending', async () => {
    withEndpoint(endpoint('ep_a', { url: 'https://internal.example.com/hook' }));
    const receiver = fakeFetch(204);
    const handler = createWebhookHandler(ENV, {
      logger: silent,
      clock,
      sqs: new SQSClient({}),
      fetch: receiver.fetch,
      resolve: async () => ['169.254.169.254'],
      random: () => 0,
    });
    await handler(sqsEvent('ep_a'));
    expect(receiver.sent).toStrictEqual([]);
    expect(attemptsRecorded()[0]?.error).toBe(
      'refused: internal.example.com resolves to the private address 169.254.169.254',
    );
  });

  it('refuses a plain http endpoint in AWS without sending', async () => {
    withEndpoint(endpoint('ep_a', { url: 'http://hooks.example.com/hook' }));
    const receiver = fakeFetch(204);
    await handlerWith(receiver.fetch)(sqsEvent('ep_a'));
    expect(receiver.sent).toStrictEqual([]);
    expect(attemptsRecorded()[0]?.error).toBe('refused: http: endpoints are not allowed in AWS; use https');
  });

  it('signs with both secrets while a rotation overlaps, each signature verifiable alone', async () => {
    withEndpoint(endpoint('ep_a'));
    secrets.on(GetSecretValueCommand, { SecretId: 'Vidflow/webhooks/ep_a' }).resolves({
      SecretString: JSON.stringify({
        current: NEW_SECRET,
        previous: OLD_SECRET,
        previousUntil: '2025-05-02T12:00:00.000Z',
      }),
    });
    const receiver = fakeFetch(204);
    await handlerWith(receiver.fetch)(sqsEvent('ep_a'));
    const [sent] = receiver.sent;
    expect(sent?.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    for (const secret of [OLD_SECRET, NEW_SECRET]) {
      expect(verifiesAt(secret, sent)).toBe(true);
    }
  });

  it('keeps no secret in the response snippet it records', async () => {
    withEndpoint(endpoint('ep_a'));
    await handlerWith(fakeFetch(400, {}, `bad signature for secret ${OLD_SECRET}`).fetch)(sqsEvent('ep_a'));
    const [attempt] = attemptsRecorded();
    expect(attempt?.responseSnippet).toBe('bad signature for secret [secret]');
    expect(JSON.stringify(dynamo.calls().map((call) => call.args[0].input))).not.toContain(
      OLD_SECRET.slice(6),
    );
  });

  it('signs ep_default with the secret of the stack context', async () => {
    dynamo.on(QueryCommand).resolves({ Items: [] });
    secrets
      .on(GetSecretValueCommand, { SecretId: DEFAULT_SECRET_ARN })
      .resolves({ SecretString: OLD_SECRET });
    const receiver = fakeFetch(204);
    const handler = createWebhookHandler(
      {
        ...ENV,
        [EnvName.webhookUrl]: 'https://hooks.example.com/default',
        [EnvName.webhookSecretArn]: DEFAULT_SECRET_ARN,
      },
      { logger: silent, clock, sqs: new SQSClient({}), fetch: receiver.fetch, resolve: publicAddress },
    );
    await handler(sqsEvent('ep_default'));
    expect(receiver.sent[0]?.url).toBe('https://hooks.example.com/default');
    expect(verifiesAt(OLD_SECRET, receiver.sent[0])).toBe(true);
  });

  it('reports an unreadable message as a batch item failure, for the dead-letter queue', async () => {
    const handler = handlerWith(fakeFetch(204).fetch);
    const result = await handler({
      Records: [
        {
          messageId: 'bad',
          receiptHandle: 'r',
          body: 'not json',
          attributes: { ApproximateReceiveCount: '1' },
        },
      ],
    } as unknown as SQSEvent);
    expect(result).toStrictEqual({ batchItemFailures: [{ itemIdentifier: 'bad' }] });
  });
});
