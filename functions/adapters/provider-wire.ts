/**
 * The provider's wire format (AI/ML API, rules in docs/conformance.md): the create request's
 * body, and every answer read into the domain's {@link Generation} or the error it means. Pure
 * functions of the text; the HTTP exchange and its retries are provider-client.ts's.
 */
import {
  ProviderAuthError,
  ProviderMalformedResponseError,
  ProviderOutOfCreditsError,
  ProviderRejectedRequestError,
  type VidflowError,
} from '../domain/errors.js';
import type { CreateGenerationInput, Generation, ProviderGenerationStatus } from '../domain/provider.js';
import { bounded, redact } from './provider-redaction.js';

const STATUSES: readonly ProviderGenerationStatus[] = ['queued', 'generating', 'completed', 'error'];

/** The create request's JSON body: exactly the fields of `input` that are set. */
export function toWireBody(input: CreateGenerationInput): Record<string, unknown> {
  if ('catalogBody' in input) return { ...input.catalogBody };
  const body: Record<string, unknown> = {
    model: input.model,
    prompt: input.prompt,
    video_url: input.video_url,
  };
  if (input.frame_size !== undefined) body.frame_size = input.frame_size;
  if (input.duration !== undefined) body.duration = input.duration;
  if (input.seed !== undefined) body.seed = input.seed;
  if (input.references !== undefined)
    body.references = input.references.map(({ type, url }) => ({ type, url }));
  return body;
}

/** A create answer, read: the generation it names, or why it names none usable. */
export type CreatedAnswer =
  | {
      readonly ok: true;
      readonly generation: Generation;
      /** A status word the documents do not list (redacted), taken as `queued`. */
      readonly undocumentedStatus?: string;
    }
  | { readonly ok: false; readonly detail: string };

/**
 * Reads a 2xx answer to the create request. With the id in hand the generation can still be
 * tracked, so an undocumented status is taken as `queued` (the first poll checks it strictly):
 * failing here would throw away a paid generation.
 */
export function readCreatedAnswer(body: string, key: string): CreatedAnswer {
  const parsed = parseJson(body);
  if (!parsed.ok) return { ok: false, detail: `not JSON: ${excerpt(body, key)}` };
  if (!isRecord(parsed.value)) return { ok: false, detail: 'not a JSON object' };
  const { id, status: reported } = parsed.value;
  if (typeof id !== 'string' || id === '')
    return { ok: false, detail: `id is ${typeof id === 'string' ? 'empty' : typeof id}` };
  if (reported === undefined || reported === null) return { ok: true, generation: { id, status: 'queued' } };
  if (isStatus(reported)) return { ok: true, generation: { id, status: reported } };
  return {
    ok: true,
    generation: { id, status: 'queued' },
    undocumentedStatus: redact(String(reported), key).slice(0, 100),
  };
}

/**
 * Normalizes a poll answer. The provider's schema and its own examples disagree on
 * `video` (docs/conformance.md, provider rules): every documented shape is accepted, nothing else.
 * @throws ProviderMalformedResponseError when the body is not JSON, has no status, has a
 *   `video` of no documented shape, or is completed without a video URL.
 */
export function toGeneration(body: string, requestedId: string, key: string): Generation {
  const malformed = (detail: string): ProviderMalformedResponseError =>
    new ProviderMalformedResponseError(`the status answer for generation ${requestedId} ${detail}`);
  const parsed = parseJson(body);
  if (!parsed.ok) throw malformed(`is not JSON: ${excerpt(body, key)}`);
  const value = parsed.value;
  if (!isRecord(value)) throw malformed('is not a JSON object');
  if (typeof value.status !== 'string' || value.status.trim() === '') {
    throw malformed(
      `has no status: ${redact(JSON.stringify(value.status) ?? 'undefined', key).slice(0, 100)}`,
    );
  }
  // A status word the client does not know is still in progress (bounded by the job's deadline).
  const reported = redact(value.status, key).slice(0, 40);
  const status: ProviderGenerationStatus = isStatus(value.status) ? value.status : 'pending';
  const id = typeof value.id === 'string' && value.id !== '' ? value.id : requestedId;
  const video = videoUrlOf(value.video);
  if (!video.ok) throw malformed(`has a video field of no documented shape: ${video.detail}`);
  if (status === 'completed' && video.url === undefined) throw malformed('is completed without a video URL');
  const error = errorOf(value.error, key);
  const creditsUsed = creditsOf(value.meta);
  return {
    id,
    status,
    ...(status === 'pending' ? { reportedStatus: reported } : {}),
    ...(video.url === undefined ? {} : { videoUrl: video.url }),
    ...(error === undefined ? {} : { error }),
    ...(creditsUsed === undefined ? {} : { creditsUsed }),
  };
}

type VideoField =
  | { readonly ok: true; readonly url: string | undefined }
  | { readonly ok: false; readonly detail: string };

function videoUrlOf(video: unknown): VideoField {
  if (video === undefined || video === null) return { ok: true, url: undefined };
  let url: unknown;
  if (Array.isArray(video)) {
    const first: unknown = video[0];
    url = isRecord(first) ? first.url : first;
  } else if (isRecord(video)) {
    url = video.url;
  } else {
    return { ok: false, detail: `a ${typeof video}` };
  }
  // No URL yet is fine while the generation runs; a completed one without it is caught by the caller.
  if (url === undefined || url === null) return { ok: true, url: undefined };
  if (typeof url !== 'string' || !isHttpUrl(url))
    return { ok: false, detail: 'its URL is not an http(s) URL' };
  return { ok: true, url };
}

function errorOf(error: unknown, key: string): Generation['error'] {
  if (error === undefined || error === null) return undefined;
  if (typeof error === 'string') return { name: 'ProviderError', message: bounded(error, key) };
  if (!isRecord(error)) return { name: 'ProviderError', message: bounded(JSON.stringify(error) ?? '', key) };
  const name =
    typeof error.name === 'string' && error.name !== '' ? bounded(error.name, key) : 'ProviderError';
  const message = typeof error.message === 'string' ? bounded(error.message, key) : 'no message given';
  return { name, message };
}

function creditsOf(meta: unknown): number | undefined {
  if (!isRecord(meta) || !isRecord(meta.usage)) return undefined;
  const credits = meta.usage.credits_used;
  return typeof credits === 'number' && Number.isFinite(credits) ? credits : undefined;
}

/**
 * The error for an answer whose HTTP status is neither success nor one the caller retries.
 * @returns ProviderAuthError (401), ProviderOutOfCreditsError (402/403),
 *   ProviderRejectedRequestError (400/413/422), else ProviderMalformedResponseError.
 */
export function statusError(status: number, body: string, key: string, what: string): VidflowError {
  const said = excerpt(body, key);
  if (status === 401) {
    return new ProviderAuthError(`the provider refused the API key for ${what} (HTTP 401): ${said}`, status);
  }
  // Documented: 403 is "You've run out of credits" (the key was accepted); 402 is read the same way.
  if (status === 402 || status === 403) {
    return new ProviderOutOfCreditsError(
      `the provider account is out of credits for ${what} (HTTP ${status}): ${said}`,
      status,
    );
  }
  // 413 too: a data URI over the provider's size limit is an input the provider refuses.
  if (status === 400 || status === 413 || status === 422) {
    return new ProviderRejectedRequestError(
      `the provider rejected ${what} (HTTP ${status}): ${said}`,
      status,
    );
  }
  return new ProviderMalformedResponseError(`unexpected HTTP status ${status} for ${what}: ${said}`);
}

/** `Retry-After` is either delay-seconds or an HTTP date (RFC 9110, section 10.2.3). */
export function parseRetryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The provider's own words from an error answer: `{message}`, `{error:{message}}`, or the text. */
export function excerpt(body: string, key: string): string {
  const parsed = parseJson(body);
  let said = body.trim();
  if (parsed.ok && isRecord(parsed.value)) {
    const { message, error } = parsed.value;
    if (typeof message === 'string') said = message;
    else if (Array.isArray(message) && message.every((m) => typeof m === 'string')) said = message.join('; ');
    else if (typeof error === 'string') said = error;
    else if (isRecord(error) && typeof error.message === 'string') said = error.message;
  }
  return said === '' ? 'no message given' : bounded(said, key);
}

export function parseJson(
  text: string,
): { readonly ok: true; readonly value: unknown } | { readonly ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isStatus(value: unknown): value is ProviderGenerationStatus {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value);
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
