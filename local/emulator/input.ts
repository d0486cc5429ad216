/**
 * Getting a generation's input video the way Runway does: a `data:` URI is decoded; a URL is
 * fetched with HEAD then GET, without following redirects, and must announce `Content-Type` and
 * `Content-Length` within the size limit.
 */

import { setTimeout as sleep } from 'node:timers/promises';

/** Why an input is unusable; becomes the generation's `error` (`name` is the provider-facing name). */
export class InputError extends Error {
  constructor(
    override readonly name: 'InputFetchError' | 'InputTooLargeError' | 'InvalidInputError',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A decoded `data:` URI. */
export interface DataUri {
  readonly mediaType: string;
  readonly bytes: Buffer;
}

const DATA_URI = /^data:([^,]*),/;

/**
 * Decodes a `data:` URI (base64 or percent-encoded).
 * @throws InputError (`InvalidInputError`) when it is not a data URI.
 */
export function decodeDataUri(uri: string): DataUri {
  const match = DATA_URI.exec(uri);
  if (!match) throw new InputError('InvalidInputError', 'video_url is not a valid data: URI');
  const parameters = (match[1] ?? '').split(';');
  const mediaType = parameters[0] || 'text/plain';
  const payload = uri.slice(match[0].length);
  const base64 = parameters.slice(1).some((p) => p.toLowerCase() === 'base64');
  let bytes: Buffer;
  try {
    bytes = base64 ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'utf8');
  } catch (error) {
    throw new InputError('InvalidInputError', 'video_url data: URI payload cannot be decoded', {
      cause: error,
    });
  }
  return { mediaType, bytes };
}

/** `data:video/mp4;base64,<1234 bytes>`: how a data URI appears in logs, never its content. */
export function describeDataUri(uri: string): string {
  const match = DATA_URI.exec(uri);
  if (!match) return `data:<${uri.length} characters>`;
  const payload = uri.length - match[0].length;
  const base64 = /;base64$/i.test(match[1] ?? '');
  let bytes = payload;
  if (base64) {
    const padding = uri.endsWith('==') ? 2 : uri.endsWith('=') ? 1 : 0;
    bytes = Math.max(0, Math.floor((payload * 3) / 4) - padding);
  }
  return `${match[0]}<${bytes} bytes>`;
}

/** Runway identifies its fetches with a `RunwayML API/` user agent; so does the emulator. */
export const USER_AGENT = 'RunwayML API/1.0 (vidflow provider emulator)';

/**
 * Checks a data URI's declared media type: Runway wants a `video/*` type there too.
 * @throws InputError (`InvalidInputError`) otherwise.
 */
export function assertVideoMediaType(mediaType: string): void {
  if (!mediaType.toLowerCase().startsWith('video/')) {
    throw new InputError(
      'InvalidInputError',
      `video_url data URI has media type ${mediaType}; a video/* type is required`,
    );
  }
}

/** Options of {@link fetchInput}. */
export interface FetchInputOptions {
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
  /** Per request; default 60 s. */
  readonly timeoutMs?: number;
  /**
   * How long to keep retrying, with backoff, while the input's server refuses connections
   * (`ECONNREFUSED`: nothing listens, e.g. the local S3 of a runtime that is restarting).
   * Any other failure is final at once. @default 0 (no retries)
   */
  readonly refusedRetryMs?: number;
  /** Told of each answered request, in order (the emulator records them per generation). */
  readonly onAnswer?: (method: 'HEAD' | 'GET', status: number) => void;
}

const FIRST_REFUSED_RETRY_MS = 100;
const MAX_REFUSED_RETRY_MS = 2000;

/** Did the connection fail because nothing listens at the address? (undici wraps the cause) */
function isConnectionRefused(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    if ('code' in current && current.code === 'ECONNREFUSED') return true;
    if (current instanceof AggregateError && current.errors.some(isConnectionRefused)) return true;
    current = current.cause;
  }
  return false;
}

function describeStatus(method: string, response: Response): string {
  if (response.status >= 300 && response.status < 400) {
    return `${method} of video_url answered ${response.status} (redirect); redirects are not followed`;
  }
  return `${method} of video_url answered ${response.status}`;
}

function requestSignal(options: FetchInputOptions): AbortSignal {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 60_000);
  return options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
}

/**
 * Fetches the input video at `url`: HEAD (must be 2xx, not a redirect, with a `video/*`
 * `Content-Type` and a `Content-Length` within `maxBytes`), then GET (2xx, at most `maxBytes`).
 * @throws InputError naming why the input is unusable; rethrows the abort reason when `signal` aborts.
 */
export async function fetchInput(url: string, options: FetchInputOptions): Promise<Buffer> {
  let refusedUntil: number | undefined;
  let retryDelayMs = FIRST_REFUSED_RETRY_MS;
  const attempt = async (method: 'HEAD' | 'GET'): Promise<Response> => {
    for (;;) {
      try {
        return await fetch(url, {
          method,
          redirect: 'manual',
          headers: { 'user-agent': USER_AGENT },
          signal: requestSignal(options),
        });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        refusedUntil ??= Date.now() + (options.refusedRetryMs ?? 0);
        if (!isConnectionRefused(error) || Date.now() + retryDelayMs > refusedUntil) {
          throw new InputError('InputFetchError', `${method} of video_url failed: ${String(error)}`, {
            cause: error,
          });
        }
        await sleep(retryDelayMs, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {
          throw options.signal?.reason;
        });
        retryDelayMs = Math.min(retryDelayMs * 2, MAX_REFUSED_RETRY_MS);
      }
    }
  };
  const head = await attempt('HEAD');
  options.onAnswer?.('HEAD', head.status);
  if (!head.ok) throw new InputError('InputFetchError', describeStatus('HEAD', head));
  const contentType = head.headers.get('content-type');
  const contentLength = head.headers.get('content-length');
  if (contentType === null || contentLength === null) {
    throw new InputError(
      'InputFetchError',
      'video_url must answer HEAD with Content-Type and Content-Length',
    );
  }
  const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (!mediaType.startsWith('video/')) {
    throw new InputError(
      'InvalidInputError',
      `video_url answered Content-Type ${mediaType || '(empty)'}; a video/* type is required (generic types such as application/octet-stream are not accepted)`,
    );
  }
  if (Number(contentLength) > options.maxBytes) {
    throw new InputError(
      'InputTooLargeError',
      `input video is ${contentLength} bytes; at most ${options.maxBytes}`,
    );
  }
  const get = await attempt('GET');
  options.onAnswer?.('GET', get.status);
  if (!get.ok || get.body === null) {
    await get.body?.cancel();
    throw new InputError('InputFetchError', describeStatus('GET', get));
  }
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of get.body) {
      received += chunk.byteLength;
      if (received > options.maxBytes) {
        throw new InputError('InputTooLargeError', `input video exceeds ${options.maxBytes} bytes`);
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    if (options.signal?.aborted) throw options.signal.reason;
    throw new InputError('InputFetchError', `GET of video_url failed: ${String(error)}`, { cause: error });
  }
  return Buffer.concat(chunks);
}
