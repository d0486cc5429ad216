/**
 * webhook-fanout: an EventBridge rule invokes it with each terminal job event; it puts one
 * message per enabled endpoint that wants the event on the FIFO delivery queue (message group =
 * endpoint) and archives it for replay. Lambda's asynchronous retries (then the dead-letter
 * queue) cover a failure; the queue's deduplication id makes a second pass send nothing twice.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import type { EventBridgeEvent } from 'aws-lambda';
import { createLogger } from '../adapters/logger.js';
import { sendToDeliveryQueue } from '../adapters/webhook-aws.js';
import { fanOutEvent } from '../adapters/webhook-dispatch.js';
import {
  createDispatchDeps,
  jobEventFromEnvelope,
  loadWebhookFunctionConfig,
  type WebhookFunctionOverrides,
} from '../adapters/webhook-function-deps.js';
import type { Env } from '../config/config.js';

export type WebhookFanOutHandler = (event: EventBridgeEvent<string, unknown>) => Promise<{ queued: number }>;

/**
 * Builds the handler.
 * @throws ConfigError when the environment lacks the table, queue or secret prefix.
 */
export function createWebhookFanOutHandler(
  env: Env,
  overrides: Partial<WebhookFunctionOverrides> & { readonly sqs?: SQSClient } = {},
): WebhookFanOutHandler {
  const config = loadWebhookFunctionConfig(env);
  const deps = createDispatchDeps(config, { logger: overrides.logger ?? createLogger(), ...overrides });
  const sqs = overrides.sqs ?? new SQSClient({});
  return async (event) => {
    const messages = await fanOutEvent(deps, jobEventFromEnvelope(event), (batch) =>
      sendToDeliveryQueue(sqs, config.queueUrl, batch),
    );
    return { queued: messages.length };
  };
}

let handle: WebhookFanOutHandler | undefined;

export const handler: WebhookFanOutHandler = (event) => {
  handle ??= createWebhookFanOutHandler(process.env);
  return handle(event);
};
