/**
 * The provider client over HTTP (AI/ML API, `runway/gen4_aleph`, rules in docs/conformance.md): one
 * create and one poll call, each with its own retry policy, every answer normalized to
 * the domain's {@link Generation}. What the bodies mean is provider-wire.ts's; keeping the API
 * key out of errors and logs is provider-redaction.ts's.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  ConfigError,
  GenerationNotFoundError,
  ProviderMalformedResponseError,
  ProviderRateLimitedError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  SubmissionOutcomeUnknownError,
  type VidflowError,
} from '../domain/errors.js';
import type { CreateGenerationInput, Generation, ProviderClient } from '../domain/provider.js';
import { causeChain, codeOf, describeFailure, errorsOf, redactCause } from './provider-redaction.js';
import {
  excerpt,
  isHttpUrl,
  parseRetryAfterMs,
  readCreatedAnswer,
  statusError,
  toGeneration,
  toWireBody,
} from './provider-wire.js';

/** The path the client creates and polls generations on. */
export const generationsPath = '/v2/video/generations';

/**
 * The provider's older alias of the create path. The client never uses it; the local
 * emulator serves it so that callers written against it keep working.
 */
export const legacyCreatePath = '/v2/generate/video/runway/generation';

/** A `Retry-After` longer than this is not honoured as is: a poll must not stall a Lambda. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Error codes raised while resolving or connecting, before any byte of the request left
 * this process: the provider cannot have seen the request.
 */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export interface ProviderClientOptions {
  /** Scheme, host and optional port, e.g. `https://api.aimlapi.com` or `http://127.0.0.1:4010`. */
  readonly baseUrl: string;
  /**
   * The API key, or a function returning it. A function is called once per HTTP request,
   * so a rotated key is picked up at once; cache inside it when fetching is costly.
   */
  readonly apiKey: string | (() => Promise<string>);
  /**
   * Time allowed for one HTTP request, from sending to the last byte of the answer.
   * @default 30000
   */
  readonly timeoutMs?: number;
  /** The same for a status read: an idempotent GET is read again, so it may give up sooner. @default timeoutMs */
  readonly readTimeoutMs?: number;
  /**
   * Attempts per call, the first included, for failures the policy retries.
   * @default 4
   */
  readonly maxAttempts?: number;
  /**
   * Backoff base: the n-th retry (n from 0) waits `random() * min(maxDelayMs, baseDelayMs * 2^n)`.
   * @default 500
   */
  readonly baseDelayMs?: number;
  /** @default 20000 */
  readonly maxDelayMs?: number;
  /** @default a timer */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random?: () => number;
  /** @default the global fetch (undici) */
  readonly fetch?: typeof fetch;
  /** Receives one warning per retry. @default none */
  readonly logger?: { warn(msg: string, extra?: Record<string, unknown>): void };
}

type Operation = 'createGeneration' | 'getGeneration';

/** One HTTP exchange: answered, or how it failed, which decides whether resending is safe. */
type Exchange =
  | { readonly kind: 'answered'; readonly status: number; readonly headers: Headers; readonly body: string }
  | {
      /**
       * `not-sent`: failed while connecting. `timed-out`: no complete answer in time.
       * `lost`: the connection broke after the request may have been sent.
       */
      readonly kind: 'not-sent' | 'timed-out' | 'lost';
      /** Known when the failure came while reading the body. */
      readonly status: number | undefined;
      readonly cause: unknown;
    };

/** The outcome of one attempt: a value, or a failure worth another attempt. */
type Attempt<T> =
  | { readonly done: true; readonly value: T }
  | { readonly done: false; readonly error: VidflowError; readonly retryAfterMs?: number };

/**
 * {@link ProviderClient} over the provider's HTTP API.
 *
 * **Exactly-once creation.** The provider has no idempotency key, so a create request the
 * provider may have processed is never sent again: a second POST could create, and charge,
 * a second generation. `createGeneration` resends only when the request surely was not
 * processed:
 * - the connection could not be made (refused, DNS failure, unreachable, connect timeout):
 *   no byte was sent;
 * - HTTP 429: the provider refused the request because of its rate limit;
 * - HTTP 503: the provider refused the work as unavailable.
 *
 * Everything else that leaves the outcome open throws {@link SubmissionOutcomeUnknownError}
 * at once, without resending: other 5xx (500, 502, 504: the request may have been
 * processed before the failure), a timeout (the request had been sent, or may have been),
 * a connection lost before the whole answer was read, and a 2xx whose body has no usable
 * generation id (the provider accepted the work, but it cannot be tracked). A request
 * sent on a kept-alive connection the server had just closed also lands here: resending
 * it would be safe in fact, but the client cannot tell that case from a reset after the
 * provider read the request.
 *
 * **Polling** is read-only, so `getGeneration` retries every transient failure: 429,
 * any 5xx, resets and timeouts.
 *
 * **Backoff.** Retries wait the `Retry-After` of the answer when there is one (seconds or
 * an HTTP date, at most 60 s), otherwise full jitter:
 * `random() * min(maxDelayMs, baseDelayMs * 2^n)` for the n-th retry, n from 0. A call
 * makes at most `maxAttempts` requests and then throws the last attempt's error.
 *
 * **The API key** is sent only in the `Authorization` header. It never appears in a thrown
 * error's message or cause chain, nor in a log call: text taken from the provider's
 * answers is stripped of it (a misbehaving server may echo the request).
 */
export class HttpProviderClient implements ProviderClient {
  private readonly baseUrl: string;
  private readonly apiKey: string | (() => Promise<string>);
  private readonly timeoutMs: number;
  private readonly readTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly fetchFn: typeof fetch;
  private readonly logger: { warn(msg: string, extra?: Record<string, unknown>): void } | undefined;

  /** @throws ConfigError when `baseUrl` is not an http(s) URL or a number option is out of range. */
  constructor(options: ProviderClientOptions) {
    this.baseUrl = parseBaseUrl(options.baseUrl);
    this.apiKey = options.apiKey;
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? 30_000);
    this.readTimeoutMs = positive('readTimeoutMs', options.readTimeoutMs ?? this.timeoutMs);
    this.maxAttempts = positive('maxAttempts', options.maxAttempts ?? 4);
    if (!Number.isInteger(this.maxAttempts)) throw new ConfigError('provider maxAttempts must be an integer');
    this.baseDelayMs = nonNegative('baseDelayMs', options.baseDelayMs ?? 500);
    this.maxDelayMs = nonNegative('maxDelayMs', options.maxDelayMs ?? 20_000);
    this.sleep = options.sleep ?? ((ms) => delay(ms));
    this.random = options.random ?? Math.random;
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.logger = options.logger;
  }

  /**
   * POST the generation to `/v2/video/generations`, sending exactly the fields of `input`
   * that are set, and return its id and first status (`queued` when the answer has none).
   * Follows the exactly-once policy described on the class.
   *
   * @throws ProviderRejectedRequestError on 400/413/422, with the provider's message.
   * @throws ProviderAuthError on 401.
   * @throws ProviderOutOfCreditsError on 402/403 (documented: out of credits).
   * @throws ProviderRateLimitedError or ProviderUnavailableError when every attempt was
   *   refused (429, 503, no connection): the provider surely did not process the request.
   * @throws SubmissionOutcomeUnknownError when the request may have been processed and the
   *   answer is unusable: other 5xx, timeout, connection lost, 2xx without a usable id.
   * @throws ProviderMalformedResponseError on any other HTTP status (a redirect, 404, 409...).
   * @throws ConfigError when the API key is empty or not a valid header value (nothing is sent).
   */
  async createGeneration(input: CreateGenerationInput): Promise<Generation> {
    const url = `${this.baseUrl}${generationsPath}`;
    const payload = JSON.stringify(toWireBody(input));
    return this.withRetries<Generation>('createGeneration', async () => {
      const key = await this.resolveApiKey();
      const exchange = await this.exchange('POST', url, key, payload);
      switch (exchange.kind) {
        case 'not-sent':
          return {
            done: false,
            error: new ProviderUnavailableError(
              `could not connect to the provider, the generation was not submitted: ${describeFailure(exchange.cause, key)}`,
              undefined,
              { cause: redactCause(exchange.cause, key) },
            ),
          };
        case 'timed-out':
          throw new SubmissionOutcomeUnknownError(
            `the provider did not answer the create request within ${this.timeoutMs} ms${statusNote(exchange.status)}; ` +
              'a generation may have been created and charged',
            { cause: redactCause(exchange.cause, key) },
          );
        case 'lost':
          throw new SubmissionOutcomeUnknownError(
            `the connection to the provider broke before its answer to the create request was read` +
              `${statusNote(exchange.status)}: ${describeFailure(exchange.cause, key)}; a generation may have been created and charged`,
            { cause: redactCause(exchange.cause, key) },
          );
        case 'answered':
          break;
      }
      const { status, headers, body } = exchange;
      if (status >= 200 && status < 300) return { done: true, value: this.toCreated(body, status, key) };
      if (status === 429) return this.rateLimited(headers, body, key);
      if (status === 503) {
        return {
          done: false,
          error: new ProviderUnavailableError(
            `the provider refused the create request as unavailable (HTTP 503): ${excerpt(body, key)}`,
            503,
          ),
          ...retryAfterOf(headers),
        };
      }
      if (status >= 500) {
        throw new SubmissionOutcomeUnknownError(
          `the provider failed while handling the create request (HTTP ${status}): ${excerpt(body, key)}; ` +
            'a generation may have been created and charged',
        );
      }
      throw statusError(status, body, key, 'the create request');
    });
  }

  /**
   * GET the generation's current state, normalized over every documented answer shape.
   *
   * @throws GenerationNotFoundError on 404.
   * @throws ProviderAuthError on 401.
   * @throws ProviderOutOfCreditsError on 402/403 (documented: out of credits).
   * @throws ProviderRateLimitedError, ProviderUnavailableError or ProviderTimeoutError when
   *   every attempt failed transiently (429; 5xx, reset or refused; timed out), after
   *   `maxAttempts` requests; the error is the last attempt's.
   * @throws ProviderMalformedResponseError when the body is not JSON, the status is not a
   *   documented one, `video` has no documented shape or a completed generation has no video
   *   URL, in every one of `maxAttempts` answers (a read is idempotent, so it is retried with
   *   backoff); or at once when the HTTP status is none of the above.
   * @throws ProviderRejectedRequestError on 400/413/422.
   * @throws ConfigError when the API key is empty or not a valid header value (nothing is sent).
   */
  async getGeneration(generationId: string): Promise<Generation> {
    const url = `${this.baseUrl}${generationsPath}?generation_id=${encodeURIComponent(generationId)}`;
    return this.withRetries<Generation>('getGeneration', async () => {
      const key = await this.resolveApiKey();
      const exchange = await this.exchange('GET', url, key, undefined);
      switch (exchange.kind) {
        case 'timed-out':
          return {
            done: false,
            error: new ProviderTimeoutError(
              `the provider did not answer the status request for generation ${generationId} within ` +
                `${this.readTimeoutMs} ms${statusNote(exchange.status)}`,
              { cause: redactCause(exchange.cause, key) },
            ),
          };
        case 'not-sent':
        case 'lost':
          return {
            done: false,
            error: new ProviderUnavailableError(
              `the status request for generation ${generationId} failed${statusNote(exchange.status)}: ` +
                describeFailure(exchange.cause, key),
              exchange.status,
              { cause: redactCause(exchange.cause, key) },
            ),
          };
        case 'answered':
          break;
      }
      const { status, headers, body } = exchange;
      if (status >= 200 && status < 300) {
        // A GET is idempotent: a truncated or garbled answer is asked again (with backoff) rather
        // than abandoning a generation already paid for.
        try {
          return { done: true, value: toGeneration(body, generationId, key) };
        } catch (error) {
          if (error instanceof ProviderMalformedResponseError) return { done: false, error };
          throw error;
        }
      }
      if (status === 429) return this.rateLimited(headers, body, key);
      if (status >= 500) {
        return {
          done: false,
          error: new ProviderUnavailableError(
            `the provider failed the status request for generation ${generationId} (HTTP ${status}): ${excerpt(body, key)}`,
            status,
          ),
          ...retryAfterOf(headers),
        };
      }
      if (status === 404) {
        throw new GenerationNotFoundError(
          `the provider does not know generation ${generationId} (HTTP 404): ${excerpt(body, key)}`,
        );
      }
      throw statusError(status, body, key, `the status request for generation ${generationId}`);
    });
  }

  private async withRetries<T>(operation: Operation, attempt: () => Promise<Attempt<T>>): Promise<T> {
    for (let retry = 0; ; retry++) {
      const outcome = await attempt();
      if (outcome.done) return outcome.value;
      if (retry + 1 >= this.maxAttempts) throw outcome.error;
      const delayMs =
        outcome.retryAfterMs ?? this.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** retry);
      this.logger?.warn('provider request failed, retrying', {
        operation,
        attempt: retry + 1,
        maxAttempts: this.maxAttempts,
        delayMs,
        error: outcome.error.name,
        httpStatus: 'httpStatus' in outcome.error ? outcome.error.httpStatus : undefined,
        message: outcome.error.message,
      });
      await this.sleep(delayMs);
    }
  }

  private async exchange(
    method: 'GET' | 'POST',
    url: string,
    key: string,
    body: string | undefined,
  ): Promise<Exchange> {
    const headers: Record<string, string> = { Authorization: `Bearer ${key}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    // One signal for the whole exchange: a body that trickles in must not outlive the timeout.
    const signal = AbortSignal.timeout(method === 'GET' ? this.readTimeoutMs : this.timeoutMs);
    const fetchFn = this.fetchFn;
    let response: Response;
    try {
      // A redirect would resend the POST elsewhere (or turn it into a GET): report it instead.
      response = await fetchFn(url, { method, headers, body, signal, redirect: 'manual' });
    } catch (error) {
      const kind = isTimeout(error) ? 'timed-out' : wasNotSent(error) ? 'not-sent' : 'lost';
      return { kind, status: undefined, cause: error };
    }
    try {
      const text = await response.text();
      return { kind: 'answered', status: response.status, headers: response.headers, body: text };
    } catch (error) {
      return { kind: isTimeout(error) ? 'timed-out' : 'lost', status: response.status, cause: error };
    }
  }

  private rateLimited(headers: Headers, body: string, key: string): Attempt<never> {
    const wait = retryAfterOf(headers);
    const seconds = wait.retryAfterMs === undefined ? undefined : Math.ceil(wait.retryAfterMs / 1000);
    return {
      done: false,
      error: new ProviderRateLimitedError(
        `the provider rate limited the request (HTTP 429): ${excerpt(body, key)}`,
        seconds,
      ),
      ...wait,
    };
  }

  private toCreated(body: string, status: number, key: string): Generation {
    const answer = readCreatedAnswer(body, key);
    if (!answer.ok) {
      throw new SubmissionOutcomeUnknownError(
        `the provider accepted the create request (HTTP ${status}) but its answer has no usable generation id ` +
          `(${answer.detail}); a generation may have been created and charged`,
        { cause: new ProviderMalformedResponseError(`create answer: ${answer.detail}`) },
      );
    }
    if (answer.undocumentedStatus !== undefined) {
      this.logger?.warn('provider create answer has an undocumented status, assuming queued', {
        generationId: answer.generation.id,
        status: answer.undocumentedStatus,
      });
    }
    return answer.generation;
  }

  private async resolveApiKey(): Promise<string> {
    const key = typeof this.apiKey === 'string' ? this.apiKey : await this.apiKey();
    if (typeof key !== 'string' || key.trim() === '') throw new ConfigError('the provider API key is empty');
    // fetch would reject an invalid header value with a message that quotes the whole header.
    if (!/^[\x21-\x7e]+$/.test(key)) {
      throw new ConfigError('the provider API key contains characters not allowed in an HTTP header');
    }
    return key;
  }
}

function retryAfterOf(headers: Headers): { retryAfterMs?: number } {
  const ms = parseRetryAfterMs(headers.get('retry-after'), Date.now());
  return ms === undefined ? {} : { retryAfterMs: Math.min(ms, MAX_RETRY_AFTER_MS) };
}

function isTimeout(error: unknown): boolean {
  return causeChain(error).some((e) => e.name === 'TimeoutError');
}

/** True only when the failure came from resolving or connecting (fetch reports it as a cause). */
function wasNotSent(error: unknown): boolean {
  return causeChain(error).some((e) => {
    const code = codeOf(e);
    if (code !== undefined && NOT_SENT_CODES.has(code)) return true;
    // Happy-eyeballs connects report every address's failure together.
    const inner = errorsOf(e);
    return inner.length > 0 && inner.every((x) => x instanceof Error && NOT_SENT_CODES.has(codeOf(x) ?? ''));
  });
}

function statusNote(status: number | undefined): string {
  return status === undefined ? '' : ` (HTTP ${status} received, body incomplete)`;
}

function parseBaseUrl(value: string): string {
  if (!isHttpUrl(value)) throw new ConfigError(`provider baseUrl must be an http(s) URL, got "${value}"`);
  return value.replace(/\/+$/, '');
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0))
    throw new ConfigError(`provider ${name} must be a positive number`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new ConfigError(`provider ${name} must be zero or more`);
  return value;
}
