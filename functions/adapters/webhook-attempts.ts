/**
 * One delivery attempt to one endpoint, the same locally and in AWS: sign the event with every
 * signing secret of the endpoint (two `v1,` signatures during a rotation overlap), POST it with
 * a 15 s timeout under the SSRF rules of the output fetcher, judge the answer, record the
 * attempt, and update the endpoint (`410` or 5 days of failures disable it). Where the next
 * attempt waits (an SQS visibility timeout, a local per-endpoint queue) is the caller's business.
 */
import { lookup } from 'node:dns/promises';
import { Webhook } from 'standardwebhooks';
import type { Clock } from '../domain/ports.js';
import {
  failedTooLong,
  judgeAnswer,
  nextRetryDelayMs,
  redactSnippet,
  signingSecrets,
  WEBHOOK_ATTEMPT_TIMEOUT_MS,
  type WebhookEndpoint,
  type WebhookEndpointSecrets,
} from '../domain/webhook-endpoints.js';
import type { JobEvent } from './events.js';
import { isPrivateAddress } from './output-fetcher.js';

/** One event bound for one endpoint; `webhookId` is the same for every attempt and replay. */
export interface WebhookMessage {
  readonly endpointId: string;
  readonly webhookId: string;
  readonly event: JobEvent;
}

/** One line of the delivery log. */
export interface WebhookAttemptRecord {
  readonly endpointId: string;
  readonly webhookId: string;
  readonly eventType: string;
  readonly jobId: string;
  /** 1, 2, ... within one sending (a replay starts again at 1). */
  readonly attempt: number;
  readonly at: string;
  /** `delivered`; `retrying` (another attempt follows); `failed` (schedule spent or endpoint disabled). */
  readonly outcome: 'delivered' | 'retrying' | 'failed';
  readonly httpStatus?: number;
  readonly error?: string;
  readonly latencyMs: number;
  /** The first characters of the answer, secrets masked. */
  readonly responseSnippet?: string;
  readonly nextAttemptAt?: string;
  /** Whether this sending was a replay. */
  readonly replay?: boolean;
}

export interface AttemptQuery {
  /** ISO time: only attempts at or after it. */
  readonly since?: string;
  readonly failedOnly?: boolean;
  readonly limit?: number;
}

/** Endpoints as data. */
export interface WebhookEndpointStore {
  list(): Promise<WebhookEndpoint[]>;
  get(id: string): Promise<WebhookEndpoint | undefined>;
  put(endpoint: WebhookEndpoint): Promise<void>;
  remove(id: string): Promise<void>;
}

/** Signing secrets, kept apart from the endpoints (Secrets Manager in AWS). */
export interface WebhookSecretStore {
  get(endpointId: string): Promise<WebhookEndpointSecrets | undefined>;
  put(endpointId: string, secrets: WebhookEndpointSecrets): Promise<void>;
  remove(endpointId: string): Promise<void>;
}

/** The delivery log, by endpoint and time, and the messages replay re-sends. */
export interface WebhookDeliveryLog {
  record(entry: WebhookAttemptRecord): Promise<void>;
  /** Attempts of one endpoint, oldest first. */
  attempts(endpointId: string, query: AttemptQuery): Promise<WebhookAttemptRecord[]>;
  /** Keep the message (once per endpoint and webhook id) so it can be replayed. */
  archive(message: WebhookMessage, at: Date): Promise<void>;
  /** Archived messages of one endpoint whose event time is at or after `since`, oldest first. */
  messages(endpointId: string, since: string): Promise<WebhookMessage[]>;
  message(endpointId: string, webhookId: string): Promise<WebhookMessage | undefined>;
}

/** `<jobId>-<status>-<attempt>`: the Standard Webhooks message id of a job event. */
export function webhookIdOfEvent(event: JobEvent): string {
  return `${event.detail.jobId}-${event.detail.status}-${event.detail.attempt}`;
}

export interface AttemptSettings {
  readonly clock: Clock;
  /** Multiplies the retry schedule, `Retry-After` and the 5-day rule (tests simulate days). */
  readonly timeScale: number;
  /** Locally the receivers are on loopback; in AWS private, loopback and link-local targets are refused. */
  readonly allowPrivateTargets: boolean;
  /** @default WEBHOOK_ATTEMPT_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** @default the global fetch */
  readonly fetch?: typeof fetch;
  /** @default Math.random */
  readonly random?: () => number;
  /** @default DNS lookup of every address */
  readonly resolve?: (hostname: string) => Promise<string[]>;
}

export interface AttemptOutcome {
  readonly record: WebhookAttemptRecord;
  /** Wait before the next attempt; undefined when this message is done (delivered or given up). */
  readonly retryInMs?: number;
  /** The endpoint as it is after this attempt (disabled by a 410 or 5 days of failures). */
  readonly endpoint: WebhookEndpoint;
}

/**
 * The `webhook-signature` value: one `v1,<base64>` per secret, separated by spaces.
 * @throws Error from `standardwebhooks` when a secret is not base64.
 */
export function signatureHeader(
  secrets: readonly string[],
  webhookId: string,
  at: Date,
  body: string,
): string {
  return secrets.map((secret) => new Webhook(secret).sign(webhookId, at, body)).join(' ');
}

/**
 * Make attempt `attempt` of `message` to `endpoint`; never throws for delivery failures.
 * @throws what the stores throw (recording the attempt, saving the endpoint).
 */
export async function attemptDelivery(
  deps: {
    readonly endpoints: WebhookEndpointStore;
    readonly log: WebhookDeliveryLog;
    readonly settings: AttemptSettings;
  },
  endpoint: WebhookEndpoint,
  secrets: WebhookEndpointSecrets,
  message: WebhookMessage,
  attempt: number,
  options: { readonly replay?: boolean; readonly signal?: AbortSignal } = {},
): Promise<AttemptOutcome> {
  const { settings } = deps;
  const now = settings.clock.now();
  const active = signingSecrets(secrets, now);
  const answer = await post(settings, endpoint.url, active, message, now, options.signal);
  const at = settings.clock.now();
  const verdict = judgeAnswer(answer.httpStatus, answer.retryAfter, at);
  let updated = endpoint;
  let retryInMs: number | undefined;
  if (verdict.kind === 'delivered') {
    if (endpoint.failingSince !== undefined) {
      const { failingSince: _, ...rest } = endpoint;
      updated = { ...rest, updatedAt: at.toISOString() };
    }
  } else if (verdict.kind === 'gone') {
    updated = { ...endpoint, enabled: false, disabledReason: 'gone', updatedAt: at.toISOString() };
  } else {
    const failingSince = endpoint.failingSince ?? now.toISOString();
    if (failedTooLong(failingSince, at, settings.timeScale)) {
      updated = {
        ...endpoint,
        enabled: false,
        disabledReason: 'failing',
        failingSince,
        updatedAt: at.toISOString(),
      };
    } else {
      if (endpoint.failingSince === undefined)
        updated = { ...endpoint, failingSince, updatedAt: at.toISOString() };
      retryInMs = nextRetryDelayMs(attempt, {
        random: (settings.random ?? Math.random)(),
        timeScale: settings.timeScale,
        ...(verdict.retryAfterMs === undefined
          ? {}
          : { retryAfterMs: verdict.retryAfterMs * settings.timeScale }),
      });
    }
  }
  if (updated !== endpoint) await deps.endpoints.put(updated);
  const record: WebhookAttemptRecord = {
    endpointId: endpoint.id,
    webhookId: message.webhookId,
    eventType: message.event.detailType,
    jobId: message.event.detail.jobId,
    attempt,
    at: at.toISOString(),
    outcome: verdict.kind === 'delivered' ? 'delivered' : retryInMs === undefined ? 'failed' : 'retrying',
    latencyMs: answer.latencyMs,
    ...(answer.httpStatus === undefined ? {} : { httpStatus: answer.httpStatus }),
    ...(answer.error === undefined ? {} : { error: answer.error }),
    ...(answer.body === undefined ? {} : { responseSnippet: redactSnippet(answer.body, [...active]) }),
    ...(retryInMs === undefined ? {} : { nextAttemptAt: new Date(at.getTime() + retryInMs).toISOString() }),
    ...(options.replay ? { replay: true } : {}),
  };
  await deps.log.record(record);
  return { record, endpoint: updated, ...(retryInMs === undefined ? {} : { retryInMs }) };
}

interface Answer {
  readonly httpStatus?: number;
  readonly retryAfter?: string | null;
  readonly body?: string;
  readonly error?: string;
  readonly latencyMs: number;
}

async function post(
  settings: AttemptSettings,
  url: string,
  secrets: readonly string[],
  message: WebhookMessage,
  at: Date,
  signal: AbortSignal | undefined,
): Promise<Answer> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  const blocked = settings.allowPrivateTargets ? undefined : await privateTarget(url, settings.resolve);
  if (blocked !== undefined) return { error: blocked, latencyMs: latencyMs() };
  const body = JSON.stringify(message.event);
  const timeoutMs = settings.timeoutMs ?? WEBHOOK_ATTEMPT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await (settings.fetch ?? globalThis.fetch)(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'vidflow-webhooks/1',
        'webhook-id': message.webhookId,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signatureHeader(secrets, message.webhookId, at, body),
      },
      body,
      redirect: 'manual',
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    });
    const text = await response.text().catch(() => '');
    return {
      httpStatus: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: text,
      latencyMs: latencyMs(),
    };
  } catch (error) {
    if (signal?.aborted) throw error;
    const reason = timeout.aborted ? `no answer within ${timeoutMs} ms` : describeFetchError(error);
    return { error: reason, latencyMs: latencyMs() };
  }
}

/** Why the URL may not be reached from AWS (not https; a private, loopback or link-local address), if so. */
async function privateTarget(
  url: string,
  resolve: ((hostname: string) => Promise<string[]>) | undefined,
): Promise<string | undefined> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:')
    return `refused: ${parsed.protocol} endpoints are not allowed in AWS; use https`;
  const hostname = parsed.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = await (resolve ?? defaultResolve)(hostname);
  } catch (error) {
    return `cannot resolve ${hostname}: ${describeFetchError(error)}`;
  }
  const blocked = addresses.find(isPrivateAddress);
  return blocked === undefined
    ? undefined
    : `refused: ${hostname} resolves to the private address ${blocked}`;
}

async function defaultResolve(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true })).map((entry) => entry.address);
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
