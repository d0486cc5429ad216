/**
 * webhook: consumes the FIFO delivery queue (one message group per endpoint, so one slow or
 * dead receiver delays no other) and makes one signed attempt per message and invocation.
 *
 * The retry schedule is the message's visibility timeout: a failed attempt hides the message
 * for the next wait of the Standard Webhooks schedule (5 s ... 10 h, with jitter, at least any
 * `Retry-After`) and reports a batch item failure, so SQS hands it back then; the FIFO group
 * keeps the endpoint's later messages behind it, in order. When the schedule is spent the
 * message is deleted (every attempt is in the delivery log, and replay can send it again); the
 * dead-letter queue only gets what the function cannot read. A `410`, or 5 days of failures,
 * disables the endpoint, and the `WebhookEndpointDisabled` metric raises the alarm.
 */

import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createLogger } from '../adapters/logger.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../adapters/observability.js';
import type { WebhookQueueBody } from '../adapters/webhook-aws.js';
import { deliverQueuedMessage } from '../adapters/webhook-dispatch.js';
import {
  createDispatchDeps,
  loadWebhookFunctionConfig,
  type WebhookFunctionOverrides,
  WebhookMessageError,
} from '../adapters/webhook-function-deps.js';
import type { Env } from '../config/config.js';
import { ENDPOINT_DISABLED_METRIC } from '../domain/webhook-endpoints.js';

/** The longest visibility timeout SQS accepts: 12 hours. */
export const SQS_MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

export type WebhookHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

/**
 * Reads a queued message.
 * @throws WebhookMessageError when the body is not a webhook message.
 */
export function parseQueueBody(body: string): WebhookQueueBody {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new WebhookMessageError('the message body is not JSON', { cause: error });
  }
  const value = json as Partial<WebhookQueueBody> | null;
  if (
    typeof value?.endpointId !== 'string' ||
    typeof value.webhookId !== 'string' ||
    typeof value.event?.detail?.jobId !== 'string'
  ) {
    throw new WebhookMessageError('the message is not a vidflow webhook message');
  }
  return value as WebhookQueueBody;
}

/**
 * Builds the SQS handler. A receiver's failure is a batch item failure with its delay set;
 * nothing a receiver does makes the invocation throw.
 * @throws ConfigError when the environment lacks the table, queue or secret prefix.
 */
export function createWebhookHandler(
  env: Env,
  overrides: Partial<WebhookFunctionOverrides> & {
    readonly sqs?: SQSClient;
    readonly metrics?: Metrics;
  } = {},
): WebhookHandler {
  const config = loadWebhookFunctionConfig(env);
  const logger = overrides.logger ?? createLogger();
  const metrics =
    overrides.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  const deps = createDispatchDeps(config, { ...overrides, logger });
  const sqs = overrides.sqs ?? new SQSClient({});
  const onEndpointDisabled = () => metrics.addMetric(ENDPOINT_DISABLED_METRIC, MetricUnit.Count, 1);

  const deliver = async (record: SQSRecord): Promise<boolean> => {
    let message: WebhookQueueBody;
    try {
      message = parseQueueBody(record.body);
    } catch (error) {
      // Retried by SQS like any failure, then kept in the dead-letter queue for a look.
      logger.error('webhook queue message is unreadable', { messageId: record.messageId, error });
      return false;
    }
    const { retryInMs } = await deliverQueuedMessage(
      { ...deps, onEndpointDisabled },
      message,
      receiveCountOf(record),
    );
    if (retryInMs === undefined) return true;
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: config.queueUrl,
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: Math.min(Math.ceil(retryInMs / 1000), SQS_MAX_VISIBILITY_SECONDS),
      }),
    );
    return false;
  };

  return async (event) => {
    const batchItemFailures: SQSBatchItemFailure[] = [];
    try {
      for (const record of event.Records) {
        if (!(await deliver(record))) batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    } finally {
      // Powertools warns on an empty flush; most invocations disable nothing.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
    return { batchItemFailures };
  };
}

/** SQS counts receives from 1; with one message per invocation, each receive is one attempt. */
function receiveCountOf(record: SQSRecord): number {
  const count = Number.parseInt(record.attributes.ApproximateReceiveCount, 10);
  return Number.isInteger(count) && count > 0 ? count : 1;
}

let handle: WebhookHandler | undefined;

export const handler: WebhookHandler = (event) => {
  handle ??= createWebhookHandler(process.env);
  return handle(event);
};
