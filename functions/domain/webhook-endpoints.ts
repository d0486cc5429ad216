/**
 * Webhook endpoints as data, and the delivery rules of the Standard Webhooks specification that
 * both the local runtime and the AWS functions apply: which events an endpoint wants, the retry
 * schedule (with jitter and a time scale), what an answer means (`2xx` delivered, `410` disables,
 * `Retry-After` on `429`/`503`), when a failing endpoint is disabled, and which secrets sign.
 *
 * Pure code: no I/O, no clock of its own; collaborators live in the adapters.
 */
import { randomBytes } from 'node:crypto';

/** The optional filters of an endpoint; an event must pass every one that is set. */
export interface WebhookFilters {
  /** Only jobs whose source key starts with this prefix (e.g. `trips/`). */
  readonly sourcePrefix?: string;
  /** Only jobs of this provider model (e.g. `runway/gen4_aleph`). */
  readonly model?: string;
}

export interface WebhookEndpoint {
  /** `ep_` + 16 URL-safe characters. */
  readonly id: string;
  readonly url: string;
  readonly description: string;
  /** Detail types wanted (`Job Completed`, ...); empty means every event. */
  readonly events: readonly string[];
  readonly filters: WebhookFilters;
  readonly enabled: boolean;
  /** Why the endpoint was disabled: `manual`, `gone` (it answered 410) or `failing` (5 days). */
  readonly disabledReason?: 'manual' | 'gone' | 'failing';
  /** Start of the current run of failed attempts; cleared by a delivered attempt. */
  readonly failingSince?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The signing secrets of one endpoint; `previous` still signs until `previousUntil`. */
export interface WebhookEndpointSecrets {
  readonly current: string;
  readonly previous?: string;
  readonly previousUntil?: string;
}

/** What an event must look like for filtering: the job event's detail type and detail. */
export interface FilterableEvent {
  readonly detailType: string;
  readonly detail: {
    readonly source?: { readonly key?: string };
    readonly request?: { readonly model?: string };
  };
}

/**
 * Waits before attempts 2..8 per the Standard Webhooks specification: 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h, 10 h (attempt 1 is immediate): about 27 h 35 min of tries.
 */
export const WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

/** Attempts a message gets: the first and one per scheduled retry. */
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_SCHEDULE_MS.length + 1;

/** Jitter adds up to this fraction to each wait, never less, so the schedule is a floor. */
export const WEBHOOK_RETRY_JITTER = 0.1;

/** An endpoint whose attempts have all failed for this long is disabled. */
export const WEBHOOK_DISABLE_AFTER_MS = 5 * 24 * 60 * 60 * 1000;

/** Time allowed for one POST, answer included. */
export const WEBHOOK_ATTEMPT_TIMEOUT_MS = 15_000;

/** How long a rotated-out secret still signs, by default. */
export const DEFAULT_ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** How long attempts (and the messages replay reads) are kept, by default. */
export const DEFAULT_WEBHOOK_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** The longest `Retry-After` honoured: one schedule step (SQS cannot hide a message longer than 12 h). */
export const WEBHOOK_MAX_RETRY_AFTER_MS = 36_000_000;

/** The metric the disabled-endpoint alarm watches (namespace `vidflow`, dimension `service`). */
export const ENDPOINT_DISABLED_METRIC = 'WebhookEndpointDisabled';

/** Characters of the answer body kept in the attempt log. */
export const RESPONSE_SNIPPET_CHARS = 256;

/** An endpoint's definition is unusable (bad URL, unknown event type, ...). */
export class WebhookEndpointError extends Error {
  override readonly name = 'WebhookEndpointError';
}

/** A new endpoint id: `ep_` and 16 random URL-safe characters. */
export function newEndpointId(): string {
  return `ep_${randomBytes(12).toString('base64url')}`;
}

/** A new Standard Webhooks secret: `whsec_` and base64 of 32 random bytes. */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** Whether the endpoint wants this event: enabled, a wanted type, and every filter passes. */
export function endpointWants(endpoint: WebhookEndpoint, event: FilterableEvent): boolean {
  if (!endpoint.enabled) return false;
  if (endpoint.events.length > 0 && !endpoint.events.includes(event.detailType)) return false;
  const { sourcePrefix, model } = endpoint.filters;
  if (sourcePrefix !== undefined && !(event.detail.source?.key ?? '').startsWith(sourcePrefix)) return false;
  if (model !== undefined && event.detail.request?.model !== model) return false;
  return true;
}

/**
 * The secrets that sign at `now`: the current one, and the previous one while its overlap lasts.
 */
export function signingSecrets(secrets: WebhookEndpointSecrets, now: Date): string[] {
  const until = secrets.previousUntil === undefined ? Number.NaN : Date.parse(secrets.previousUntil);
  return secrets.previous !== undefined && until > now.getTime()
    ? [secrets.current, secrets.previous]
    : [secrets.current];
}

/** The secrets after a rotation: a new current one, the old one signing for `overlapMs` more. */
export function rotateSecrets(
  secrets: WebhookEndpointSecrets,
  fresh: string,
  now: Date,
  overlapMs: number,
): WebhookEndpointSecrets {
  return overlapMs > 0
    ? {
        current: fresh,
        previous: secrets.current,
        previousUntil: new Date(now.getTime() + overlapMs).toISOString(),
      }
    : { current: fresh };
}

/**
 * The wait before attempt `attempt + 1` after attempt `attempt` failed, or undefined when the
 * schedule is spent. `random` in [0, 1) adds the jitter; `timeScale` shrinks simulated time.
 */
export function nextRetryDelayMs(
  attempt: number,
  options: { readonly random: number; readonly timeScale: number; readonly retryAfterMs?: number },
): number | undefined {
  const scheduled = WEBHOOK_RETRY_SCHEDULE_MS[attempt - 1];
  if (scheduled === undefined) return undefined;
  const retryAfter = Math.min(options.retryAfterMs ?? 0, WEBHOOK_MAX_RETRY_AFTER_MS);
  const base = Math.max(scheduled, retryAfter);
  return Math.round(base * (1 + WEBHOOK_RETRY_JITTER * options.random) * options.timeScale);
}

/** What one HTTP answer (or its absence) means for the message and the endpoint. */
export type AttemptVerdict =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'gone' }
  | { readonly kind: 'retry'; readonly retryAfterMs?: number };

/** Reads an answer per the specification: 2xx delivered, 410 gone, else retry (honouring Retry-After on 429/503). */
export function judgeAnswer(
  httpStatus: number | undefined,
  retryAfter: string | null | undefined,
  now: Date,
): AttemptVerdict {
  if (httpStatus !== undefined && httpStatus >= 200 && httpStatus < 300) return { kind: 'delivered' };
  if (httpStatus === 410) return { kind: 'gone' };
  if ((httpStatus === 429 || httpStatus === 503) && retryAfter) {
    const retryAfterMs = parseRetryAfterMs(retryAfter, now);
    if (retryAfterMs !== undefined) return { kind: 'retry', retryAfterMs };
  }
  return { kind: 'retry' };
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from `now`; undefined when unreadable. */
export function parseRetryAfterMs(value: string, now: Date): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** Whether an endpoint failing since `failingSince` has failed long enough to be disabled. */
export function failedTooLong(failingSince: string | undefined, now: Date, timeScale: number): boolean {
  if (failingSince === undefined) return false;
  return now.getTime() - Date.parse(failingSince) >= WEBHOOK_DISABLE_AFTER_MS * timeScale;
}

/**
 * The response snippet kept in the attempt log: the first characters of the body, with the
 * endpoint's secrets (and anything shaped like a Standard Webhooks secret) masked.
 */
export function redactSnippet(body: string, secrets: readonly string[]): string {
  let snippet = body.slice(0, RESPONSE_SNIPPET_CHARS * 4);
  for (const secret of secrets) {
    if (secret === '') continue;
    snippet = snippet.split(secret).join('[secret]');
    const key = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
    if (key.length >= 8) snippet = snippet.split(key).join('[secret]');
  }
  return snippet.replace(/whsec_[A-Za-z0-9+/=]+/g, 'whsec_[secret]').slice(0, RESPONSE_SNIPPET_CHARS);
}

/** The detail types an endpoint may subscribe to. */
export const WEBHOOK_EVENT_TYPES: readonly string[] = [
  'Job Completed',
  'Job Failed',
  'Job Rejected',
  'Job Timed Out',
  'Job Cancelled',
];

/**
 * Checks and normalises an endpoint's URL and event types.
 * @throws WebhookEndpointError when the URL is not http(s) or an event type is unknown.
 */
export function validateEndpointInput(input: {
  readonly url?: string;
  readonly events?: readonly string[];
}): void {
  if (input.url !== undefined) {
    let url: URL;
    try {
      url = new URL(input.url);
    } catch (error) {
      throw new WebhookEndpointError(`"${input.url}" is not a URL`, { cause: error });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new WebhookEndpointError(`a webhook URL must be http(s), not ${url.protocol}`);
    }
  }
  for (const type of input.events ?? []) {
    if (!WEBHOOK_EVENT_TYPES.includes(type)) {
      throw new WebhookEndpointError(
        `unknown event type "${type}"; expected some of: ${WEBHOOK_EVENT_TYPES.join(', ')}`,
      );
    }
  }
}
