/**
 * The webhook function: SQS messages carrying EventBridge job events, POSTed to a real local
 * HTTP receiver that verifies each signature with the `standardwebhooks` library; Secrets
 * Manager and SQS through aws-sdk-client-mock.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type JobEvent, toJobEvent } from '../../functions/adapters/events.js';
import { DEFAULT_WEBHOOK_RETRY_DELAYS_MS, webhookIdOf } from '../../functions/adapters/webhooks.js';
import { EnvName } from '../../functions/config/env-names.js';
import { ConfigError } from '../../functions/domain/errors.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import type { Logger } from '../../functions/domain/ports.js';
import {
  createWebhookHandler,
  jobEventFromEnvelope,
  SQS_MAX_VISIBILITY_SECONDS,
  WEBHOOK_SECRET_CACHE_MS,
  type WebhookHandlerOverrides,
  WebhookMessageError,
} from '../../functions/webhook/handler.js';
import { thrownBy } from '../support/assertions.js';
import { FakeClock } from '../support/fakes.js';
import { aJob } from '../support/jobs.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vidflow/webhook-secret-AbCdEf';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/vidflow-webhooks';

interface Received {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Whether `Webhook.verify` accepted the signature. */
  readonly verified: boolean;
}

/** A receiver that verifies every signature; `/down` answers 503, anything else 204. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const verifier = new Webhook(SECRET);
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (typeof value === 'string') headers[name] = value;
      }
      let verified: boolean;
      try {
        verifier.verify(body, headers);
        verified = true;
      } catch {
        verified = false;
      }
      received.push({ path: request.url ?? '', headers, body, verified });
      response.writeHead(!verified ? 400 : request.url === '/down' ? 503 : 204).end();
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      }),
  };
}

interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly extra: Record<string, unknown>;
}

function recordingLogger(lines: LogLine[]): Logger {
  const at =
    (level: LogLine['level']) =>
    (message: string, ...extra: Record<string, unknown>[]) => {
      lines.push({ level, message, extra: Object.assign({}, ...extra) });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The SQS body an EventBridge rule delivers for the event `EventBridgeJobEvents` puts. */
function envelopeOf(event: JobEvent): string {
  return JSON.stringify({
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': event.detailType,
    source: event.source,
    account: '123456789012',
    // EventBridge keeps whole seconds.
    time: event.time.replace(/\.\d{3}Z$/, 'Z'),
    region: 'eu-west-1',
    resources: [],
    detail: event.detail,
  });
}

function sqsRecord(body: string, receiveCount: number, messageId = 'message-1'): SQSRecord {
  return {
    messageId,
    receiptHandle: `receipt-${messageId}-${receiveCount}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '1746100800000',
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: '1746100800000',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:vidflow-webhooks',
    awsRegion: 'eu-west-1',
  };
}

function sqsEvent(...records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

const secrets = mockClient(SecretsManagerClient);
const sqs = mockClient(SQSClient);

describe('the webhook function', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let clock: FakeClock;
  let lines: LogLine[];
  let job: Job;
  let event: JobEvent;

  beforeAll(async () => {
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await receiver.close();
  });

  beforeEach(() => {
    secrets.reset();
    sqs.reset();
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: SECRET });
    sqs.on(ChangeMessageVisibilityCommand).resolves({});
    receiver.received.length = 0;
    // Signatures carry this clock's time and receivers reject stale ones: start at the real now.
    clock = new FakeClock(new Date(Math.floor(Date.now() / 1000) * 1000));
    lines = [];
    job = aJob({ status: JobStatus.completed, attempt: 1, completedAt: clock.now().toISOString() });
    event = toJobEvent(job, clock.now());
  });

  afterEach(() => {
    secrets.reset();
    sqs.reset();
  });

  function handlerFor(path: string, overrides: WebhookHandlerOverrides = {}) {
    return createWebhookHandler(
      {
        [EnvName.webhookUrl]: `${receiver.url}${path}`,
        [EnvName.webhookSecretArn]: SECRET_ARN,
        [EnvName.webhookQueueUrl]: QUEUE_URL,
      },
      {
        logger: recordingLogger(lines),
        clock,
        secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
        sqs: new SQSClient({ region: 'eu-west-1' }),
        ...overrides,
      },
    );
  }

  function visibilityChanges() {
    return sqs.commandCalls(ChangeMessageVisibilityCommand).map((call) => call.args[0].input);
  }

  function attemptLines() {
    return lines.filter((line) => line.message.startsWith('webhook ')).map((line) => line.extra);
  }

  it('posts the event JSON the local relay posts, signed so a Standard Webhooks receiver verifies it', async () => {
    const handle = handlerFor('/hooks/vidflow');

    const response = await handle(sqsEvent(sqsRecord(envelopeOf(event), 1)));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(receiver.received).toHaveLength(1);
    const [delivery] = receiver.received;
    expect(delivery?.verified).toBe(true);
    expect(delivery?.path).toBe('/hooks/vidflow');
    expect(delivery?.body).toBe(JSON.stringify(event));
    expect(delivery?.headers['webhook-id']).toBe(`${job.jobId}-COMPLETED-1`);
    expect(delivery?.headers['content-type']).toBe('application/json');
    expect(visibilityChanges()).toEqual([]);
  });

  it('logs each attempt with the job id, attempt, HTTP status and outcome', async () => {
    const handle = handlerFor('/hooks?token=do-not-log');

    await handle(sqsEvent(sqsRecord(envelopeOf(event), 1)));

    expect(attemptLines()).toEqual([
      expect.objectContaining({
        webhookId: webhookIdOf(event),
        jobId: job.jobId,
        status: JobStatus.completed,
        attempt: 1,
        httpStatus: 204,
        outcome: 'delivered',
        url: `${receiver.url}/hooks`,
      }),
    ]);
  });

  it('delays the redelivery of a refused attempt by the first scheduled wait and reports it failed', async () => {
    const handle = handlerFor('/down');
    const record = sqsRecord(envelopeOf(event), 1);

    const response = await handle(sqsEvent(record));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(receiver.received.map((r) => r.verified)).toEqual([true]);
    expect(visibilityChanges()).toEqual([
      { QueueUrl: QUEUE_URL, ReceiptHandle: record.receiptHandle, VisibilityTimeout: 5 },
    ]);
    expect(attemptLines()).toEqual([
      expect.objectContaining({
        jobId: job.jobId,
        attempt: 1,
        httpStatus: 503,
        outcome: 'retrying',
        nextAttemptAt: new Date(clock.now().getTime() + 5_000).toISOString(),
      }),
    ]);
  });

  it('follows the local relay schedule by receive count, with the same webhook-id on every attempt', async () => {
    const handle = handlerFor('/down');
    const delays: number[] = [];
    for (let receiveCount = 1; receiveCount <= DEFAULT_WEBHOOK_RETRY_DELAYS_MS.length; receiveCount += 1) {
      sqs.resetHistory();
      await handle(sqsEvent(sqsRecord(envelopeOf(event), receiveCount)));
      delays.push(visibilityChanges()[0]?.VisibilityTimeout ?? -1);
    }

    expect(delays).toEqual([5, 30, 120, 600, 1800, 3600, 3600]);
    expect(delays.reduce((total, seconds) => total + seconds, 0)).toBeGreaterThanOrEqual(3600);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(
      new Set([`${job.jobId}-COMPLETED-1`]),
    );
    expect(receiver.received.every((r) => r.verified)).toBe(true);
  });

  it('after the last attempt of the schedule makes the message visible at once, for the redrive to dead-letter it', async () => {
    const handle = handlerFor('/down');
    const last = DEFAULT_WEBHOOK_RETRY_DELAYS_MS.length + 1;
    const record = sqsRecord(envelopeOf(event), last);

    const response = await handle(sqsEvent(record));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(visibilityChanges()).toEqual([
      { QueueUrl: QUEUE_URL, ReceiptHandle: record.receiptHandle, VisibilityTimeout: 0 },
    ]);
    const [line] = attemptLines();
    expect(line).toMatchObject({ attempt: last, httpStatus: 503, outcome: 'failed' });
    expect(line).not.toHaveProperty('nextAttemptAt');
    expect(lines.find((l) => l.message === 'webhook failed')?.level).toBe('error');
  });

  it('caps a scheduled wait at the 12 hours SQS allows', async () => {
    const handle = handlerFor('/down', { retryDelaysMs: [24 * 3600 * 1000] });

    await handle(sqsEvent(sqsRecord(envelopeOf(event), 1)));

    expect(visibilityChanges()[0]?.VisibilityTimeout).toBe(SQS_MAX_VISIBILITY_SECONDS);
    expect(SQS_MAX_VISIBILITY_SECONDS).toBe(43_200);
  });

  it('treats an unreachable receiver as a failed attempt, scheduled like a refusal', async () => {
    const closed = await startReceiver();
    await closed.close();
    const handle = createWebhookHandler(
      {
        [EnvName.webhookUrl]: `${closed.url}/gone`,
        [EnvName.webhookSecretArn]: SECRET_ARN,
        [EnvName.webhookQueueUrl]: QUEUE_URL,
      },
      {
        logger: recordingLogger(lines),
        clock,
        secrets: new SecretsManagerClient({}),
        sqs: new SQSClient({}),
      },
    );
    const record = sqsRecord(envelopeOf(event), 2);

    const response = await handle(sqsEvent(record));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(visibilityChanges()[0]?.VisibilityTimeout).toBe(30);
    const [line] = attemptLines();
    expect(line).toMatchObject({ attempt: 2, outcome: 'retrying' });
    expect(line).not.toHaveProperty('httpStatus');
    expect(String(line?.error)).not.toBe('');
  });

  it('reads the secret once per five minutes, not once per message', async () => {
    const handle = handlerFor('/hooks');

    await handle(sqsEvent(sqsRecord(envelopeOf(event), 1, 'a')));
    await handle(sqsEvent(sqsRecord(envelopeOf(event), 1, 'b')));
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);

    clock.advanceSeconds(WEBHOOK_SECRET_CACHE_MS / 1000);
    await handle(sqsEvent(sqsRecord(envelopeOf(event), 1, 'c')));
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(receiver.received).toHaveLength(3);
  });

  it('signs with the new value once a replaced secret is read again', async () => {
    const handle = handlerFor('/hooks');
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });

    await handle(sqsEvent(sqsRecord(envelopeOf(event), 1, 'old')));
    clock.advanceSeconds(WEBHOOK_SECRET_CACHE_MS / 1000);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    await handle(sqsEvent(sqsRecord(envelopeOf(event), 2, 'new')));

    expect(receiver.received.map((r) => r.verified)).toEqual([false, true]);
  });

  it('schedules a retry without posting when the secret cannot be read', async () => {
    secrets.on(GetSecretValueCommand).rejects(new Error('AccessDeniedException'));
    const handle = handlerFor('/hooks');
    const record = sqsRecord(envelopeOf(event), 1);

    const response = await handle(sqsEvent(record));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(receiver.received).toEqual([]);
    expect(visibilityChanges()[0]?.VisibilityTimeout).toBe(5);
    expect(attemptLines()[0]).toMatchObject({
      outcome: 'retrying',
      error: expect.stringMatching(/AccessDenied/),
    });
  });

  it('still reports the failure when the delay cannot be set, leaving the queue visibility timeout', async () => {
    sqs.on(ChangeMessageVisibilityCommand).rejects(new Error('throttled'));
    const handle = handlerFor('/down');
    const record = sqsRecord(envelopeOf(event), 1);

    const response = await handle(sqsEvent(record));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(lines.some((l) => l.level === 'warn' && /retry delay/.test(l.message))).toBe(true);
  });

  it('never posts a message that is not a vidflow job event, and reports it failed', async () => {
    const handle = handlerFor('/hooks');
    const foreign = sqsRecord(JSON.stringify({ source: 'aws.s3', 'detail-type': 'Object Created' }), 1, 'x');
    const garbage = sqsRecord('not json', 1, 'y');
    const good = sqsRecord(envelopeOf(event), 1, 'z');

    const response = await handle(sqsEvent(foreign, garbage, good));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'x' }, { itemIdentifier: 'y' }]);
    expect(receiver.received).toHaveLength(1);
    expect(visibilityChanges()).toEqual([]);
  });

  it('refuses to start without its URL, secret ARN or queue URL', () => {
    const error = thrownBy(() => createWebhookHandler({ [EnvName.webhookUrl]: 'https://hooks.example.com' }));

    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(EnvName.webhookSecretArn);
    expect(String(error)).toMatch(EnvName.webhookQueueUrl);
  });
});

describe('jobEventFromEnvelope', () => {
  it('rebuilds the local event, keys in the same order and the time in toISOString form', () => {
    const event = toJobEvent(aJob({ status: JobStatus.failed }), new Date('2025-05-01T12:00:07.000Z'));

    const rebuilt = jobEventFromEnvelope(envelopeOf(event));

    expect(JSON.stringify(rebuilt)).toBe(JSON.stringify(event));
  });

  it('rejects an event from another source with a WebhookMessageError', () => {
    const body = JSON.stringify({ source: 'other', 'detail-type': 'Job Completed', time: 'x', detail: {} });

    expect(thrownBy(() => jobEventFromEnvelope(body))).toBeInstanceOf(WebhookMessageError);
  });
});
