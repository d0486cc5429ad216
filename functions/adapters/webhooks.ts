/**
 * Webhook delivery of terminal job events (contract section 5): the event JSON, POSTed and
 * signed per Standard Webhooks with the `standardwebhooks` library, retried with exponential
 * backoff for well over an hour, every attempt recorded.
 *
 * - `webhook-id` is `<jobId>-<status>-<attempt>`: stable across retries of one delivery, so a
 *   receiver can drop duplicates; a retried job's new outcome is a new message.
 * - `webhook-timestamp` is the time of each attempt (receivers reject stale timestamps), and
 *   `webhook-signature` signs `<id>.<timestamp>.<body>`.
 * - Any 2xx is delivered; anything else (other statuses, network errors, timeouts) is retried.
 *
 * {@link WebhookSender} is the transport (one attempt, or a whole delivery with its retries).
 * {@link FileWebhookRelay} is the local runtime's relay: it follows `events.jsonl` like an
 * EventBridge rule follows the bus, and survives restarts (a cursor, plus a log of queued and
 * attempted deliveries from which unfinished ones resume).
 */
import { appendFile, mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import type { Clock, Logger } from '../domain/ports.js';
import { systemClock } from '../domain/ports.js';
import type { JobEvent } from './events.js';

/**
 * Waits before attempts 2, 3, ...: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h (and 1 h again), so a
 * receiver that is down keeps getting tries for about 2 h 45 min (8 attempts).
 */
export const DEFAULT_WEBHOOK_RETRY_DELAYS_MS: readonly number[] = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 3_600_000,
];

/** Time allowed for one POST, answer included. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000;

export interface WebhookDestination {
  /** An http(s) URL. */
  readonly url: string;
  /** A Standard Webhooks secret: `whsec_` followed by base64 (24 to 64 random bytes). */
  readonly secret: string;
}

/** The webhook URL or secret is unusable; raised before anything is sent. */
export class WebhookConfigError extends Error {
  override readonly name = 'WebhookConfigError';
}

/** One line of the deliveries log: a queued message or one attempt at it. */
export interface WebhookDeliveryRecord {
  readonly webhookId: string;
  readonly jobId: string;
  readonly status: string;
  /** 0 for the `queued` record, then 1, 2, ... */
  readonly attempt: number;
  readonly at: string;
  readonly url: string;
  readonly outcome: 'queued' | 'delivered' | 'retrying' | 'failed';
  readonly httpStatus?: number;
  readonly error?: string;
  readonly durationMs?: number;
  /** With `retrying`: when the next attempt is due. */
  readonly nextAttemptAt?: string;
  /** With `queued`: the event, so an unfinished delivery can resume after a restart. */
  readonly event?: JobEvent;
}

export interface WebhookDeliveryLog {
  record(entry: WebhookDeliveryRecord): Promise<void>;
}

/** Appends each record as one JSON line. */
export class JsonLinesWebhookDeliveryLog implements WebhookDeliveryLog {
  constructor(readonly path: string) {}

  async record(entry: WebhookDeliveryRecord): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, `${JSON.stringify(entry)}\n`, 'utf8');
  }

  /** Every record so far (none when the file does not exist). */
  async readAll(): Promise<WebhookDeliveryRecord[]> {
    const text = await readFile(this.path, 'utf8').catch(ignoreMissing(''));
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as WebhookDeliveryRecord];
        } catch {
          return []; // a line cut by a crash
        }
      });
  }
}

/** `<jobId>-<status>-<attempt>`: the Standard Webhooks message id of a job event. */
export function webhookIdOf(event: JobEvent): string {
  return `${event.detail.jobId}-${event.detail.status}-${event.detail.attempt}`;
}

export interface WebhookSenderOptions {
  readonly destination: WebhookDestination;
  readonly log: WebhookDeliveryLog;
  /** Waits before the 2nd, 3rd, ... attempt. @default DEFAULT_WEBHOOK_RETRY_DELAYS_MS */
  readonly retryDelaysMs?: readonly number[];
  /** @default DEFAULT_WEBHOOK_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /** @default the global fetch */
  readonly fetch?: typeof fetch;
  readonly clock?: Clock;
}

export interface AttemptResult {
  readonly ok: boolean;
  readonly httpStatus?: number;
  readonly error?: string;
  readonly durationMs: number;
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'stopped';

export class WebhookSender {
  private readonly webhook: Webhook;
  private readonly retryDelaysMs: readonly number[];
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly clock: Clock;

  /** @throws WebhookConfigError when the URL is not http(s) or the secret is not base64. */
  constructor(private readonly options: WebhookSenderOptions) {
    let url: URL;
    try {
      url = new URL(options.destination.url);
    } catch (error) {
      throw new WebhookConfigError(`the webhook URL "${options.destination.url}" is not a URL`, {
        cause: error,
      });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new WebhookConfigError(`the webhook URL must be http(s), not ${url.protocol}`);
    }
    try {
      this.webhook = new Webhook(options.destination.secret);
    } catch (error) {
      throw new WebhookConfigError(
        'the webhook secret must be a Standard Webhooks secret: whsec_ followed by base64',
        { cause: error },
      );
    }
    this.retryDelaysMs = options.retryDelaysMs ?? DEFAULT_WEBHOOK_RETRY_DELAYS_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.clock = options.clock ?? systemClock;
  }

  get destinationUrl(): string {
    return this.options.destination.url;
  }

  /** How many attempts a delivery gets. */
  get maxAttempts(): number {
    return this.retryDelaysMs.length + 1;
  }

  /** The headers of one attempt: content type and the three Standard Webhooks headers. */
  headersFor(webhookId: string, body: string, at: Date): Record<string, string> {
    return {
      'content-type': 'application/json',
      'user-agent': 'vidflow-webhooks/1',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': this.webhook.sign(webhookId, at, body),
    };
  }

  /** Sign and POST the event once; never throws for delivery failures. */
  async attempt(event: JobEvent, signal?: AbortSignal): Promise<AttemptResult> {
    const body = JSON.stringify(event);
    const started = Date.now();
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const response = await this.fetchFn(this.options.destination.url, {
        method: 'POST',
        headers: this.headersFor(webhookIdOf(event), body, this.clock.now()),
        body,
        redirect: 'manual',
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
      await response.body?.cancel();
      return {
        ok: response.status >= 200 && response.status < 300,
        httpStatus: response.status,
        durationMs: Date.now() - started,
      };
    } catch (error) {
      if (signal?.aborted) throw error;
      const reason = timeout.aborted ? `no answer within ${this.timeoutMs} ms` : describeFetchError(error);
      return { ok: false, error: reason, durationMs: Date.now() - started };
    }
  }

  /**
   * Deliver the event: attempts `fromAttempt`.. until one succeeds or the schedule ends, each
   * recorded. With `signal`, stops (unrecorded) between or during attempts.
   */
  async deliver(
    event: JobEvent,
    options: {
      readonly fromAttempt?: number;
      readonly firstDelayMs?: number;
      readonly signal?: AbortSignal;
    } = {},
  ): Promise<DeliveryOutcome> {
    const webhookId = webhookIdOf(event);
    let attempt = options.fromAttempt ?? 1;
    let delayMs = options.firstDelayMs ?? 0;
    for (;;) {
      try {
        if (delayMs > 0) await sleep(delayMs, undefined, { signal: options.signal });
        const result = await this.attempt(event, options.signal);
        const last = attempt >= this.maxAttempts;
        const nextDelayMs = this.retryDelaysMs[attempt - 1] ?? 0;
        const at = this.clock.now();
        await this.options.log.record({
          webhookId,
          jobId: event.detail.jobId,
          status: event.detail.status,
          attempt,
          at: at.toISOString(),
          url: this.options.destination.url,
          outcome: result.ok ? 'delivered' : last ? 'failed' : 'retrying',
          durationMs: result.durationMs,
          ...(result.httpStatus === undefined ? {} : { httpStatus: result.httpStatus }),
          ...(result.error === undefined ? {} : { error: result.error }),
          ...(result.ok || last ? {} : { nextAttemptAt: new Date(at.getTime() + nextDelayMs).toISOString() }),
        });
        if (result.ok) return 'delivered';
        if (last) return 'failed';
        attempt += 1;
        delayMs = nextDelayMs;
      } catch (error) {
        if (options.signal?.aborted) return 'stopped';
        throw error;
      }
    }
  }
}

export interface FileWebhookRelayOptions {
  readonly eventsFile: string;
  /** The deliveries log, e.g. `<dataDir>/webhook-deliveries.jsonl`. */
  readonly log: JsonLinesWebhookDeliveryLog;
  /** Where the relay remembers how far it read the events file. */
  readonly cursorFile: string;
  readonly sender: WebhookSender;
  readonly logger: Logger;
  /** @default 250 */
  readonly pollIntervalMs?: number;
  readonly clock?: Clock;
}

/**
 * Follows the local events file and delivers each new event to the webhook. At least once:
 * a message is logged `queued` before the cursor moves past it, and on start every queued or
 * retrying message without a final outcome resumes where it stopped. On first start the
 * relay begins at the end of the file: events from before webhooks were configured are not sent.
 */
export class FileWebhookRelay {
  private offset = 0;
  private partial = '';
  private readonly known = new Set<string>();
  private readonly inFlight = new Set<Promise<DeliveryOutcome>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private readonly clock: Clock;

  private constructor(private readonly options: FileWebhookRelayOptions) {
    this.clock = options.clock ?? systemClock;
  }

  static async start(options: FileWebhookRelayOptions): Promise<FileWebhookRelay> {
    const relay = new FileWebhookRelay(options);
    await relay.resume();
    relay.timer = setInterval(() => {
      relay.reading = relay.reading
        .then(() => relay.readNew())
        .catch((error: unknown) => {
          options.logger.warn('webhook relay could not read the events file', { error });
        });
    }, options.pollIntervalMs ?? 250);
    relay.timer.unref();
    return relay;
  }

  /** Resolves when every delivery started so far has ended (tests; a clean stop). */
  async settled(): Promise<void> {
    await this.reading;
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /** Stops reading and interrupts waiting retries; they resume on the next start. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.abort.abort();
    await this.reading;
    await Promise.allSettled(this.inFlight);
  }

  private async resume(): Promise<void> {
    const saved = await this.readCursor();
    if (saved !== undefined) {
      this.offset = saved;
    } else {
      this.offset = await fileSize(this.options.eventsFile);
      await this.saveCursor();
    }
    const last = new Map<string, WebhookDeliveryRecord>();
    const events = new Map<string, JobEvent>();
    for (const record of await this.options.log.readAll()) {
      this.known.add(record.webhookId);
      last.set(record.webhookId, record);
      if (record.event !== undefined) events.set(record.webhookId, record.event);
    }
    for (const [webhookId, record] of last) {
      const event = events.get(webhookId);
      if (event === undefined || record.outcome === 'delivered' || record.outcome === 'failed') continue;
      const dueAt = record.nextAttemptAt === undefined ? 0 : Date.parse(record.nextAttemptAt);
      this.track(
        this.options.sender.deliver(event, {
          fromAttempt: record.attempt + 1,
          firstDelayMs: Math.max(0, dueAt - this.clock.now().getTime()),
          signal: this.abort.signal,
        }),
      );
    }
  }

  private async readNew(): Promise<void> {
    if (this.abort.signal.aborted) return;
    const size = await fileSize(this.options.eventsFile);
    if (size < this.offset) {
      this.offset = 0; // the file was replaced
      this.partial = '';
    }
    if (size === this.offset) return;
    const file = await open(this.options.eventsFile, 'r');
    let text: string;
    try {
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, this.offset);
      text = buffer.subarray(0, bytesRead).toString('utf8');
      this.offset += bytesRead;
    } finally {
      await file.close();
    }
    const lines = `${this.partial}${text}`.split('\n');
    this.partial = lines.pop() ?? '';
    const fresh: JobEvent[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      let event: JobEvent;
      try {
        event = JSON.parse(line) as JobEvent;
      } catch {
        this.options.logger.warn('webhook relay skipped a line that is not JSON', {
          line: line.slice(0, 200),
        });
        continue;
      }
      const webhookId = webhookIdOf(event);
      if (this.known.has(webhookId)) continue;
      this.known.add(webhookId);
      await this.options.log.record({
        webhookId,
        jobId: event.detail.jobId,
        status: event.detail.status,
        attempt: 0,
        at: this.clock.now().toISOString(),
        url: this.options.sender.destinationUrl,
        outcome: 'queued',
        event,
      });
      fresh.push(event);
    }
    // The cursor excludes a partial last line, which is read again next time.
    await this.saveCursor(this.offset - Buffer.byteLength(this.partial));
    for (const event of fresh) this.track(this.options.sender.deliver(event, { signal: this.abort.signal }));
  }

  private track(delivery: Promise<DeliveryOutcome>): void {
    const tracked = delivery.catch((error: unknown) => {
      this.options.logger.error('webhook delivery failed unexpectedly', { error });
      return 'failed' as const;
    });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private async readCursor(): Promise<number | undefined> {
    const text = await readFile(this.options.cursorFile, 'utf8').catch(ignoreMissing(undefined));
    if (text === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(text);
      const offset =
        typeof value === 'object' && value !== null && 'offset' in value ? value.offset : undefined;
      return typeof offset === 'number' && Number.isInteger(offset) && offset >= 0 ? offset : undefined;
    } catch {
      return undefined;
    }
  }

  private async saveCursor(offset = this.offset): Promise<void> {
    await mkdir(dirname(this.options.cursorFile), { recursive: true });
    const temporary = `${this.options.cursorFile}.tmp`;
    await writeFile(temporary, JSON.stringify({ offset }));
    await rename(temporary, this.options.cursorFile);
  }
}

async function fileSize(path: string): Promise<number> {
  const file = await open(path, 'r').catch(ignoreMissing(undefined));
  if (file === undefined) return 0;
  try {
    return (await file.stat()).size;
  } finally {
    await file.close();
  }
}

function ignoreMissing<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return fallback;
    throw error;
  };
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
