/**
 * The two steps of webhook delivery in AWS, over injected stores:
 * - {@link fanOutEvent}: one job event -> one message per enabled endpoint that wants it,
 *   archived for replay and put on the FIFO queue (message group = endpoint);
 * - {@link deliverQueuedMessage}: one queued message -> one attempt; the caller hides the SQS
 *   message for `retryInMs` (the visibility timeout is the retry schedule).
 *
 * The endpoint of the stack's `webhookUrl` context is `ep_default`: it exists without a table
 * item (its secret is the stack's webhook secret) until something about it is saved (a `410`,
 * `vidflow webhooks disable ep_default`), and then the item wins.
 */
import type { Logger } from '../domain/ports.js';
import {
  endpointWants,
  type WebhookEndpoint,
  type WebhookEndpointSecrets,
} from '../domain/webhook-endpoints.js';
import type { JobEvent } from './events.js';
// The same delivery attempt local/webhook-relay.ts drives (hence the same imports), on purpose:
// one attempt logic, fed by SQS here and by the relay's file queues locally.
import {
  type AttemptSettings,
  attemptDelivery,
  type WebhookDeliveryLog,
  type WebhookEndpointStore,
  type WebhookMessage,
  type WebhookSecretStore,
  webhookIdOfEvent,
} from './webhook-attempts.js';

/** The id of the endpoint made from the stack's `webhookUrl` (and the local `VIDFLOW_WEBHOOK_URL`). */
export const DEFAULT_ENDPOINT_ID = 'ep_default';

export interface DispatchDeps {
  readonly endpoints: WebhookEndpointStore;
  readonly secrets: WebhookSecretStore;
  readonly log: WebhookDeliveryLog;
  readonly settings: AttemptSettings;
  readonly logger: Logger;
  /** The stack's `webhookUrl` and a reader of its secret (whsec_ + base64, or the bare base64). */
  readonly defaultEndpoint?: { readonly url: string; readonly secret: () => Promise<string> };
  /** Told when an endpoint gets disabled (the alarm's metric). */
  readonly onEndpointDisabled?: (endpoint: WebhookEndpoint) => void;
}

/** Every endpoint, `ep_default` included when configured. */
export async function listEndpoints(deps: DispatchDeps): Promise<WebhookEndpoint[]> {
  const stored = await deps.endpoints.list();
  const configured = deps.defaultEndpoint;
  if (configured === undefined || stored.some((endpoint) => endpoint.id === DEFAULT_ENDPOINT_ID))
    return stored;
  const epoch = new Date(0).toISOString();
  return [
    {
      id: DEFAULT_ENDPOINT_ID,
      url: configured.url,
      description: 'from the stack context webhookUrl',
      events: [],
      filters: {},
      enabled: true,
      createdAt: epoch,
      updatedAt: epoch,
    },
    ...stored,
  ];
}

/**
 * Archives and queues the event for every enabled endpoint that wants it.
 * @returns the messages queued.
 * @throws what the stores and `send` throw (the event is then retried whole: archiving and the
 * FIFO queue's deduplication make a second pass harmless).
 */
export async function fanOutEvent(
  deps: DispatchDeps,
  event: JobEvent,
  send: (messages: readonly WebhookMessage[]) => Promise<void>,
): Promise<WebhookMessage[]> {
  const webhookId = webhookIdOfEvent(event);
  const messages = (await listEndpoints(deps))
    .filter((endpoint) => endpointWants(endpoint, event))
    .map((endpoint): WebhookMessage => ({ endpointId: endpoint.id, webhookId, event }));
  const now = deps.settings.clock.now();
  for (const message of messages) await deps.log.archive(message, now);
  if (messages.length > 0) await send(messages);
  return messages;
}

/**
 * Makes attempt `attempt` of a queued message; nothing is sent to a disabled or removed endpoint.
 * @returns `retryInMs` when another attempt is due after that wait.
 * @throws what the stores throw.
 */
export async function deliverQueuedMessage(
  deps: DispatchDeps,
  message: WebhookMessage & { readonly replay?: boolean },
  attempt: number,
): Promise<{ readonly retryInMs?: number }> {
  const endpoint = (await listEndpoints(deps)).find((candidate) => candidate.id === message.endpointId);
  if (endpoint === undefined || !endpoint.enabled) {
    deps.logger.info('webhook message dropped: endpoint disabled or removed', {
      endpointId: message.endpointId,
      webhookId: message.webhookId,
    });
    return {};
  }
  const secrets = await secretsOf(deps, endpoint.id);
  if (secrets === undefined) {
    deps.logger.warn('webhook message dropped: the endpoint has no secret', { endpointId: endpoint.id });
    return {};
  }
  const outcome = await attemptDelivery(deps, endpoint, secrets, message, attempt, {
    ...(message.replay ? { replay: true } : {}),
  });
  const { record } = outcome;
  const summary = {
    endpointId: record.endpointId,
    webhookId: record.webhookId,
    attempt: record.attempt,
    outcome: record.outcome,
    httpStatus: record.httpStatus,
    error: record.error,
  };
  if (record.outcome === 'delivered') deps.logger.info('webhook delivered', summary);
  else deps.logger.warn(`webhook ${record.outcome}`, summary);
  if (endpoint.enabled && !outcome.endpoint.enabled) {
    deps.logger.error('webhook endpoint disabled', {
      endpointId: endpoint.id,
      reason: outcome.endpoint.disabledReason,
    });
    deps.onEndpointDisabled?.(outcome.endpoint);
  }
  return outcome.retryInMs === undefined ? {} : { retryInMs: outcome.retryInMs };
}

async function secretsOf(
  deps: DispatchDeps,
  endpointId: string,
): Promise<WebhookEndpointSecrets | undefined> {
  const stored = await deps.secrets.get(endpointId);
  if (stored !== undefined || endpointId !== DEFAULT_ENDPOINT_ID || deps.defaultEndpoint === undefined)
    return stored;
  return { current: await deps.defaultEndpoint.secret() };
}
