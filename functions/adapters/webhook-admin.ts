/**
 * Managing webhook endpoints (`vidflow webhooks ...`), the same use cases locally and against a
 * stack; only the stores and the replay queue differ (files and the local relay's inbox, or
 * DynamoDB, Secrets Manager and the SQS FIFO queue).
 */
import type { Clock } from '../domain/ports.js';
import {
  newEndpointId,
  newEndpointSecret,
  rotateSecrets,
  validateEndpointInput,
  type WebhookEndpoint,
  WebhookEndpointError,
  type WebhookFilters,
} from '../domain/webhook-endpoints.js';
// The ports webhook-aws.ts and webhook-files.ts both implement (hence the same imports):
// these use cases run over either.
import type {
  WebhookAttemptRecord,
  WebhookDeliveryLog,
  WebhookEndpointStore,
  WebhookMessage,
  WebhookSecretStore,
} from './webhook-attempts.js';

/** No endpoint has this id. */
export class WebhookEndpointNotFoundError extends Error {
  override readonly name = 'WebhookEndpointNotFoundError';
}

export interface WebhookAdminDeps {
  readonly endpoints: WebhookEndpointStore;
  readonly secrets: WebhookSecretStore;
  readonly log: WebhookDeliveryLog;
  readonly clock: Clock;
  /** In AWS endpoints must be https (the output fetcher's rule); locally http to loopback is fine. */
  readonly requireHttps?: boolean;
  /** Queues messages for another sending, with their original `webhook-id`. */
  readonly enqueueReplay: (endpointId: string, messages: readonly WebhookMessage[]) => Promise<void>;
}

export interface EndpointInput {
  readonly url: string;
  readonly description?: string;
  readonly events?: readonly string[];
  readonly filters?: WebhookFilters;
  /** @default a new random secret */
  readonly secret?: string;
  /** @default a new random id */
  readonly id?: string;
}

/**
 * Creates an endpoint and its signing secret; the secret is returned once, here.
 * @throws WebhookEndpointError when the URL or an event type is invalid.
 */
export async function addEndpoint(
  deps: WebhookAdminDeps,
  input: EndpointInput,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  validateEndpointInput(input);
  requireHttpsIn(deps, input.url);
  const now = deps.clock.now().toISOString();
  const endpoint: WebhookEndpoint = {
    id: input.id ?? newEndpointId(),
    url: input.url,
    description: input.description ?? '',
    events: [...(input.events ?? [])],
    filters: input.filters ?? {},
    enabled: true,
    createdAt: now,
    updatedAt: now,
  };
  const secret = input.secret ?? newEndpointSecret();
  // The secret first: an endpoint without one would be skipped by delivery.
  await deps.secrets.put(endpoint.id, { current: secret });
  await deps.endpoints.put(endpoint);
  return { endpoint, secret };
}

function requireHttpsIn(deps: Pick<WebhookAdminDeps, 'requireHttps'>, url: string): void {
  if (deps.requireHttps && new URL(url).protocol !== 'https:') {
    throw new WebhookEndpointError(`a deployed stack sends only to https endpoints, not ${url}`);
  }
}

/**
 * The endpoint with this id.
 * @throws WebhookEndpointNotFoundError when there is none.
 */
export async function getEndpoint(
  deps: Pick<WebhookAdminDeps, 'endpoints'>,
  id: string,
): Promise<WebhookEndpoint> {
  const endpoint = await deps.endpoints.get(id);
  if (endpoint === undefined) throw new WebhookEndpointNotFoundError(`no webhook endpoint ${id}`);
  return endpoint;
}

/**
 * Changes an endpoint's URL, description, event types or filters (`null` clears a filter).
 * @throws WebhookEndpointNotFoundError, WebhookEndpointError.
 */
export async function updateEndpoint(
  deps: WebhookAdminDeps,
  id: string,
  patch: {
    readonly url?: string;
    readonly description?: string;
    readonly events?: readonly string[];
    readonly sourcePrefix?: string | null;
    readonly model?: string | null;
  },
): Promise<WebhookEndpoint> {
  const endpoint = await getEndpoint(deps, id);
  validateEndpointInput(patch);
  if (patch.url !== undefined) requireHttpsIn(deps, patch.url);
  const filters: { sourcePrefix?: string; model?: string } = { ...endpoint.filters };
  if (patch.sourcePrefix === null) delete filters.sourcePrefix;
  else if (patch.sourcePrefix !== undefined) filters.sourcePrefix = patch.sourcePrefix;
  if (patch.model === null) delete filters.model;
  else if (patch.model !== undefined) filters.model = patch.model;
  const updated: WebhookEndpoint = {
    ...endpoint,
    ...(patch.url === undefined ? {} : { url: patch.url }),
    ...(patch.description === undefined ? {} : { description: patch.description }),
    ...(patch.events === undefined ? {} : { events: [...patch.events] }),
    filters,
    updatedAt: deps.clock.now().toISOString(),
  };
  await deps.endpoints.put(updated);
  return updated;
}

/**
 * Enables or disables an endpoint; enabling forgets why it was disabled and its failing run.
 * @throws WebhookEndpointNotFoundError.
 */
export async function setEndpointEnabled(
  deps: WebhookAdminDeps,
  id: string,
  enabled: boolean,
): Promise<WebhookEndpoint> {
  const { disabledReason: _reason, failingSince: _since, ...endpoint } = await getEndpoint(deps, id);
  const updated: WebhookEndpoint = {
    ...endpoint,
    enabled,
    ...(enabled ? {} : { disabledReason: 'manual' as const }),
    updatedAt: deps.clock.now().toISOString(),
  };
  await deps.endpoints.put(updated);
  return updated;
}

/**
 * Removes an endpoint and its secret; its delivery log expires with the retention window.
 * @throws WebhookEndpointNotFoundError.
 */
export async function removeEndpoint(deps: WebhookAdminDeps, id: string): Promise<void> {
  await getEndpoint(deps, id);
  await deps.endpoints.remove(id);
  await deps.secrets.remove(id);
}

/**
 * Issues a new secret; the old one keeps signing (two signatures) for `overlapMs`.
 * @throws WebhookEndpointNotFoundError.
 */
export async function rotateEndpointSecret(
  deps: WebhookAdminDeps,
  id: string,
  overlapMs: number,
): Promise<{ endpointId: string; secret: string; previousValidUntil?: string }> {
  await getEndpoint(deps, id);
  const secrets = await deps.secrets.get(id);
  if (secrets === undefined) throw new WebhookEndpointNotFoundError(`webhook endpoint ${id} has no secret`);
  const fresh = newEndpointSecret();
  const rotated = rotateSecrets(secrets, fresh, deps.clock.now(), overlapMs);
  await deps.secrets.put(id, rotated);
  return {
    endpointId: id,
    secret: fresh,
    ...(rotated.previousUntil === undefined ? {} : { previousValidUntil: rotated.previousUntil }),
  };
}

/**
 * The attempts made to an endpoint, oldest first.
 * @throws WebhookEndpointNotFoundError.
 */
export async function listAttempts(
  deps: WebhookAdminDeps,
  id: string,
  query: { readonly since?: string; readonly failedOnly?: boolean; readonly limit?: number },
): Promise<WebhookAttemptRecord[]> {
  await getEndpoint(deps, id);
  return deps.log.attempts(id, query);
}

/**
 * Sends again, with the same `webhook-id`, the endpoint's messages whose events happened at or
 * after `since` (only those not delivered, with `failedOnly`), or the one message `eventId`.
 * @throws WebhookEndpointNotFoundError when the endpoint or the event is unknown.
 */
export async function replayMessages(
  deps: WebhookAdminDeps,
  id: string,
  selection: { readonly since?: string; readonly failedOnly?: boolean; readonly eventId?: string },
): Promise<WebhookMessage[]> {
  await getEndpoint(deps, id);
  let messages: WebhookMessage[];
  if (selection.eventId !== undefined) {
    const message = await deps.log.message(id, selection.eventId);
    if (message === undefined) {
      throw new WebhookEndpointNotFoundError(`endpoint ${id} was never sent event ${selection.eventId}`);
    }
    messages = [message];
  } else {
    messages = await deps.log.messages(id, selection.since ?? new Date(0).toISOString());
    if (selection.failedOnly) {
      const delivered = new Set(
        (await deps.log.attempts(id, {}))
          .filter((attempt) => attempt.outcome === 'delivered')
          .map((attempt) => attempt.webhookId),
      );
      messages = messages.filter((message) => !delivered.has(message.webhookId));
    }
  }
  if (messages.length > 0) await deps.enqueueReplay(id, messages);
  return messages;
}
