/**
 * webhook: delivers terminal job events to the configured webhook in AWS (contract section 5).
 *
 * An EventBridge rule puts each vidflow event in an SQS queue; this function gets one message
 * per invocation and makes one signed attempt with the same {@link WebhookSender} as the local
 * relay, so both send the same body and headers (`webhook-id` stays `<jobId>-<status>-<attempt>`
 * across retries). A failed attempt sets the message's visibility to the next delay of the local
 * relay's schedule and is reported as a batch item failure, so SQS hands it back after that delay;
 * once the schedule is spent the message is made visible at once, and the queue's redrive policy
 * (maxReceiveCount = attempts of the schedule) moves it to the dead-letter queue. Every attempt
 * is logged as a {@link WebhookDeliveryRecord}, the shape of the local deliveries log.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { EVENT_SOURCE, type JobEvent } from '../adapters/events.js';
import { createLogger } from '../adapters/logger.js';
import {
  type AttemptResult,
  DEFAULT_WEBHOOK_RETRY_DELAYS_MS,
  type WebhookDeliveryLog,
  type WebhookDeliveryRecord,
  WebhookSender,
  webhookIdOf,
} from '../adapters/webhooks.js';
import type { Env } from '../config/config.js';
import { EnvName } from '../config/env-names.js';
import { ConfigError } from '../domain/errors.js';
import { type Clock, type Logger, systemClock } from '../domain/ports.js';

/** How long the signing secret read from Secrets Manager is reused before it is read again. */
export const WEBHOOK_SECRET_CACHE_MS = 5 * 60 * 1000;

/** The longest visibility timeout SQS accepts: 12 hours. */
export const SQS_MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

export interface WebhookHandlerConfig {
  readonly url: string;
  readonly secretArn: string;
  readonly queueUrl: string;
}

const configSchema = z.object({
  [EnvName.webhookUrl]: z.url({ protocol: /^https?$/ }),
  [EnvName.webhookSecretArn]: z.string().min(1),
  [EnvName.webhookQueueUrl]: z.url(),
});

/**
 * Reads the webhook function's configuration.
 * @throws ConfigError naming every missing or invalid variable.
 */
export function loadWebhookHandlerConfig(env: Env): WebhookHandlerConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new ConfigError(`invalid webhook configuration: ${problems}`);
  }
  return {
    url: parsed.data[EnvName.webhookUrl],
    secretArn: parsed.data[EnvName.webhookSecretArn],
    queueUrl: parsed.data[EnvName.webhookQueueUrl],
  };
}

/** The EventBridge envelope SQS carries; `detail` is the job event's detail, schema version 1. */
const envelopeSchema = z.object({
  source: z.literal(EVENT_SOURCE),
  'detail-type': z.string().min(1),
  time: z.string().min(1),
  detail: z.looseObject({
    schemaVersion: z.number().int(),
    jobId: z.string().min(1),
    status: z.string().min(1),
    attempt: z.number().int().positive(),
  }),
});

/** An SQS message is not the EventBridge envelope of a vidflow job event. */
export class WebhookMessageError extends Error {
  override readonly name = 'WebhookMessageError';
}

/**
 * Rebuilds the {@link JobEvent} the local events file holds from the EventBridge envelope, with
 * its keys in the same order, so `JSON.stringify` gives the body the local relay posts.
 * @throws WebhookMessageError when the body is not JSON or not a vidflow job event.
 */
export function jobEventFromEnvelope(body: string): JobEvent {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new WebhookMessageError('the message body is not JSON', { cause: error });
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    throw new WebhookMessageError(`the message is not a vidflow job event: ${parsed.error.message}`);
  }
  const time = new Date(parsed.data.time);
  if (Number.isNaN(time.getTime()))
    throw new WebhookMessageError(`the event time "${parsed.data.time}" is not a date`);
  return {
    source: parsed.data.source,
    detailType: parsed.data['detail-type'],
    // EventBridge writes whole seconds (`...:00Z`); the local file has `toISOString()`'s form.
    time: time.toISOString(),
    // As published, key order included (zod's copy would put the checked keys first): the fields
    // checked above are the ones delivery relies on, the rest is the job record as the stack wrote it.
    detail: (json as { readonly detail: JobEvent['detail'] }).detail,
  };
}

/** Each attempt as one structured log line, in the shape of the local deliveries log. */
export class LoggedWebhookDeliveryLog implements WebhookDeliveryLog {
  constructor(private readonly logger: Logger) {}

  async record(entry: WebhookDeliveryRecord): Promise<void> {
    const message = `webhook ${entry.outcome}`;
    const extra = { ...entry };
    if (entry.outcome === 'delivered' || entry.outcome === 'queued') this.logger.info(message, extra);
    else if (entry.outcome === 'retrying') this.logger.warn(message, extra);
    else this.logger.error(message, extra);
  }
}

export interface WebhookHandlerOverrides {
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly secrets?: SecretsManagerClient;
  readonly sqs?: SQSClient;
  /** @default the global fetch */
  readonly fetch?: typeof fetch;
  /** Waits before the 2nd, 3rd, ... attempt. @default DEFAULT_WEBHOOK_RETRY_DELAYS_MS */
  readonly retryDelaysMs?: readonly number[];
  /** @default DEFAULT_WEBHOOK_TIMEOUT_MS */
  readonly timeoutMs?: number;
}

export type WebhookHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/**
 * Builds the SQS handler. Failures of one message (the receiver, the secret, a malformed body)
 * become batch item failures; nothing a receiver does makes the invocation throw.
 * @throws ConfigError when the environment lacks the webhook URL, secret ARN or queue URL.
 */
export function createWebhookHandler(env: Env, overrides: WebhookHandlerOverrides = {}): WebhookHandler {
  const config = loadWebhookHandlerConfig(env);
  const logger = overrides.logger ?? createLogger();
  const clock = overrides.clock ?? systemClock;
  const secrets = overrides.secrets ?? new SecretsManagerClient({});
  const sqs = overrides.sqs ?? new SQSClient({});
  const retryDelaysMs = overrides.retryDelaysMs ?? DEFAULT_WEBHOOK_RETRY_DELAYS_MS;
  const log = new LoggedWebhookDeliveryLog(logger);
  const loggedUrl = withoutQuery(config.url);

  // The sender is rebuilt when the secret's value changes (rotated, or the placeholder replaced).
  let cached: { readonly secret: string; readonly sender: WebhookSender; readonly at: number } | undefined;
  const senderFor = async (): Promise<WebhookSender> => {
    const now = clock.now().getTime();
    if (cached !== undefined && now - cached.at < WEBHOOK_SECRET_CACHE_MS) return cached.sender;
    const result = await secrets.send(new GetSecretValueCommand({ SecretId: config.secretArn }));
    const secret = result.SecretString?.trim();
    if (!secret) throw new ConfigError('the webhook signing secret is empty');
    const sender =
      cached?.secret === secret
        ? cached.sender
        : new WebhookSender({
            destination: { url: config.url, secret },
            log,
            retryDelaysMs,
            clock,
            ...(overrides.fetch === undefined ? {} : { fetch: overrides.fetch }),
            ...(overrides.timeoutMs === undefined ? {} : { timeoutMs: overrides.timeoutMs }),
          });
    cached = { secret, sender, at: now };
    return sender;
  };

  /** Sets when SQS hands the message back; a failure here leaves the queue's own visibility timeout. */
  const delayRedelivery = async (record: SQSRecord, seconds: number, jobId?: string): Promise<void> => {
    try {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: config.queueUrl,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (error) {
      logger.warn('could not set the webhook retry delay; the queue visibility timeout applies', {
        messageId: record.messageId,
        ...(jobId === undefined ? {} : { jobId }),
        error,
      });
    }
  };

  const deliver = async (record: SQSRecord): Promise<boolean> => {
    let event: JobEvent;
    try {
      event = jobEventFromEnvelope(record.body);
    } catch (error) {
      // Never sent; retried by SQS like any failure, then kept in the dead-letter queue for a look.
      logger.error('webhook message is not a vidflow job event', { messageId: record.messageId, error });
      return false;
    }
    const attempt = receiveCountOf(record);
    const maxAttempts = retryDelaysMs.length + 1;
    const last = attempt >= maxAttempts;
    const scheduledDelayMs = retryDelaysMs[attempt - 1] ?? 0;

    let result: AttemptResult;
    try {
      result = await (await senderFor()).attempt(event);
    } catch (error) {
      // The secret could not be read or is unusable: an attempt that failed before sending.
      result = { ok: false, error: describe(error), durationMs: 0 };
    }
    const at = clock.now();
    await log.record({
      webhookId: webhookIdOf(event),
      jobId: event.detail.jobId,
      status: event.detail.status,
      attempt,
      at: at.toISOString(),
      url: loggedUrl,
      outcome: result.ok ? 'delivered' : last ? 'failed' : 'retrying',
      durationMs: result.durationMs,
      ...(result.httpStatus === undefined ? {} : { httpStatus: result.httpStatus }),
      ...(result.error === undefined ? {} : { error: result.error }),
      ...(result.ok || last
        ? {}
        : { nextAttemptAt: new Date(at.getTime() + scheduledDelayMs).toISOString() }),
    });
    if (result.ok) return true;
    // After the last attempt, visible at once: the next receive exceeds maxReceiveCount and SQS
    // moves the message to the dead-letter queue.
    const delaySeconds = last ? 0 : Math.min(Math.ceil(scheduledDelayMs / 1000), SQS_MAX_VISIBILITY_SECONDS);
    await delayRedelivery(record, delaySeconds, event.detail.jobId);
    return false;
  };

  return async (event) => {
    const batchItemFailures: SQSBatchItemFailure[] = [];
    for (const record of event.Records) {
      if (!(await deliver(record))) batchItemFailures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures };
  };
}

/** SQS counts receives from 1; with one message per invocation, each receive is one attempt. */
function receiveCountOf(record: SQSRecord): number {
  const count = Number.parseInt(record.attributes.ApproximateReceiveCount, 10);
  return Number.isInteger(count) && count > 0 ? count : 1;
}

/** The URL as logged: a query string may carry a token. */
function withoutQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

let instance: WebhookHandler | undefined;

export const handler: WebhookHandler = async (event) => {
  instance ??= createWebhookHandler(process.env);
  return instance(event);
};
