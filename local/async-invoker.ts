/**
 * Lambda's asynchronous invocation, as S3 uses it to call the submit function: events are queued
 * durably, delivered at least once with bounded concurrency, retried after delays when the
 * handler throws, and sent to an on-failure destination (a dead-letter file) when retries or the
 * maximum event age run out.
 *
 * Queue layout: one JSON file per pending event under `<dataDir>/pending/`, written atomically
 * (temporary file, fsync, rename, fsync of the directory), rewritten after each failed attempt
 * and removed on success; dead letters are appended to `<dataDir>/dead-letters.jsonl`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The subset of a structured logger (e.g. Powertools' `Logger`) the invoker writes to. */
export interface InvokerLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface AsyncInvokerProps<E> {
  /** The function's name, for logs and dead letters. */
  readonly name: string;
  /** The function. Throwing (or rejecting) fails the attempt. */
  readonly handler: (event: E) => Promise<unknown>;
  /** Where the queue and the dead-letter file live; created when missing. */
  readonly dataDir: string;
  /**
   * Retries after a failed first attempt (Lambda's `MaximumRetryAttempts`, 0 to 2 in AWS).
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * Wait before each retry; the last value repeats when there are more retries than values.
   * @default [60_000, 120_000] (Lambda's one then two minutes)
   */
  readonly retryDelaysMs?: readonly number[];
  /**
   * Age past which an event is no longer attempted (Lambda's `MaximumEventAgeInSeconds`).
   * @default 6 hours
   */
  readonly maxEventAgeMs?: number;
  /**
   * Most handler invocations in flight at once (the function's concurrency).
   * @default 10
   */
  readonly concurrency?: number;
  /** Called after a dead letter is written. */
  readonly onDeadLetter?: (entry: DeadLetter<E>) => void;
  /** @default - no logging */
  readonly logger?: InvokerLogger;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface InvocationError {
  readonly name: string;
  readonly message: string;
}

/** One line of `dead-letters.jsonl`. */
export interface DeadLetter<E> {
  readonly function: string;
  /** The queue entry's id, stable across retries and restarts. */
  readonly requestId: string;
  /** `RetriesExhausted` or `EventAgeExceeded`, as in Lambda's on-failure records. */
  readonly condition: 'RetriesExhausted' | 'EventAgeExceeded';
  readonly event: E;
  readonly error: InvocationError;
  readonly attempts: number;
  /** ISO 8601. */
  readonly firstEnqueuedAt: string;
  /** ISO 8601; the dead-lettering time when no attempt was made. */
  readonly lastAttemptAt: string;
}

/** A queued event as stored in its file. */
interface QueueEntry<E> {
  readonly id: string;
  readonly event: E;
  readonly attempts: number;
  readonly firstEnqueuedAt: string;
  readonly lastAttemptAt?: string;
  /** Epoch milliseconds before which the next attempt must not start. */
  readonly notBefore: number;
  readonly lastError?: InvocationError;
}

/** The invoker was closed; it accepts no more events. */
export class InvokerClosedError extends Error {
  override readonly name = 'InvokerClosedError';
  constructor(readonly functionName: string) {
    super(`The async invoker of ${functionName} is closed`);
  }
}

const NO_LOGGER: InvokerLogger = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * Durable, at-least-once asynchronous invocation of one handler.
 *
 * Call `start()` to load the events left by a previous run and begin delivering; `enqueue()`
 * resolves only once the event is on disk, so an acknowledged event survives `kill -9`.
 */
export class AsyncInvoker<E> {
  private readonly name: string;
  private readonly handler: (event: E) => Promise<unknown>;
  private readonly pendingDir: string;
  private readonly deadLetterFile: string;
  private readonly retryAttempts: number;
  private readonly retryDelaysMs: readonly number[];
  private readonly maxEventAgeMs: number;
  private readonly concurrency: number;
  private readonly onDeadLetter: ((entry: DeadLetter<E>) => void) | undefined;
  private readonly logger: InvokerLogger;
  private readonly now: () => number;

  /** Entries waiting for an attempt, in enqueue order. */
  private readonly waiting: QueueEntry<E>[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly drainWaiters: Array<() => void> = [];
  private readonly ready: Promise<void>;
  private state: 'created' | 'started' | 'closed' = 'created';
  private timer: NodeJS.Timeout | undefined;
  private starting: Promise<number> | undefined;
  private counter = 0;

  constructor(props: AsyncInvokerProps<E>) {
    this.name = props.name;
    this.handler = props.handler;
    this.pendingDir = join(props.dataDir, 'pending');
    this.deadLetterFile = join(props.dataDir, 'dead-letters.jsonl');
    this.retryAttempts = props.retryAttempts ?? 2;
    this.retryDelaysMs = props.retryDelaysMs ?? [60_000, 120_000];
    this.maxEventAgeMs = props.maxEventAgeMs ?? 6 * 60 * 60 * 1000;
    this.concurrency = props.concurrency ?? 10;
    this.onDeadLetter = props.onDeadLetter;
    this.logger = props.logger ?? NO_LOGGER;
    this.now = props.now ?? Date.now;
    if (!Number.isInteger(this.retryAttempts) || this.retryAttempts < 0) {
      throw new RangeError(`retryAttempts must be a whole number >= 0, got ${this.retryAttempts}`);
    }
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be a whole number >= 1, got ${this.concurrency}`);
    }
    this.ready = mkdir(this.pendingDir, { recursive: true }).then(() => undefined);
    // Surfaced by enqueue() and start(), which await it; not an unhandled rejection meanwhile.
    this.ready.catch(() => {});
  }

  /**
   * Loads the events a previous run left pending (each is delivered again: at least once) and
   * starts delivering. Idempotent.
   *
   * @returns the number of events loaded from disk.
   */
  start(): Promise<number> {
    this.starting ??= this.load();
    return this.starting;
  }

  private async load(): Promise<number> {
    await this.ready;
    const files = (await readdir(this.pendingDir)).filter((file) => file.endsWith('.json')).sort();
    const stored: QueueEntry<E>[] = [];
    for (const file of files) {
      const entry = await this.readEntry(file);
      if (entry !== undefined) stored.push(entry);
    }
    // Events enqueued while the files were read are in memory already.
    const known = new Set(this.waiting.map((entry) => entry.id));
    const resumed = stored.filter((entry) => !known.has(entry.id));
    if (this.isClosed()) return 0;
    this.waiting.push(...resumed);
    this.waiting.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.state = 'started';
    if (resumed.length > 0) {
      this.logger.info('Resuming pending async invocations', { function: this.name, count: resumed.length });
    }
    this.pump();
    return resumed.length;
  }

  /**
   * Queues an event durably. Events queued before `start()` are delivered once it is called.
   *
   * @returns the entry's id (the dead letter's `requestId`).
   * @throws InvokerClosedError after `close()`.
   */
  async enqueue(event: E): Promise<string> {
    if (this.state === 'closed') throw new InvokerClosedError(this.name);
    await this.ready;
    const now = this.now();
    this.counter += 1;
    // Sortable by enqueue time, so a restart keeps the order.
    const id = `${now.toString().padStart(15, '0')}-${this.counter.toString().padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
    const entry: QueueEntry<E> = {
      id,
      event,
      attempts: 0,
      firstEnqueuedAt: new Date(now).toISOString(),
      notBefore: now,
    };
    await this.writeEntry(entry);
    if (this.isClosed()) return id; // stays on disk for the next run
    this.waiting.push(entry);
    this.pump();
    return id;
  }

  /** Events queued and not being attempted right now (including those waiting for a retry). */
  pending(): number {
    return this.waiting.length;
  }

  /** Handler invocations running now. */
  inFlight(): number {
    return this.running.size;
  }

  /** Resolves once nothing is pending or in flight (after `start()`; delays included). */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Stops delivering: no new attempts start, running ones are awaited and recorded. Pending
   * events stay on disk for the next `start()` on the same data directory.
   */
  async close(): Promise<void> {
    this.state = 'closed';
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.waiting.length = 0;
    this.notifyIfIdle();
  }

  // --- delivery --------------------------------------------------------------------------------

  private pump(): void {
    if (this.state !== 'started') return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.now();
    while (this.running.size < this.concurrency) {
      const index = this.waiting.findIndex((entry) => entry.notBefore <= now);
      if (index === -1) break;
      const [entry] = this.waiting.splice(index, 1);
      if (entry === undefined) break;
      const run = this.attempt(entry).finally(() => {
        this.running.delete(run);
        this.pump();
        this.notifyIfIdle();
      });
      this.running.add(run);
    }
    if (this.running.size < this.concurrency && this.waiting.length > 0) {
      const next = this.waiting.reduce((earliest, entry) => Math.min(earliest, entry.notBefore), Infinity);
      this.timer = setTimeout(() => this.pump(), Math.max(0, next - now));
    }
  }

  private async attempt(entry: QueueEntry<E>): Promise<void> {
    try {
      const age = this.now() - Date.parse(entry.firstEnqueuedAt);
      if (age > this.maxEventAgeMs) {
        await this.deadLetter(
          entry,
          'EventAgeExceeded',
          entry.lastError ?? eventAgeError(age),
          entry.lastAttemptAt,
        );
        return;
      }
      const attempts = entry.attempts + 1;
      const attemptedAt = new Date(this.now()).toISOString();
      try {
        await this.handler(entry.event);
      } catch (thrown) {
        const error = toInvocationError(thrown);
        if (attempts > this.retryAttempts) {
          await this.deadLetter({ ...entry, attempts }, 'RetriesExhausted', error, attemptedAt);
          return;
        }
        const delay = this.retryDelaysMs[Math.min(attempts - 1, this.retryDelaysMs.length - 1)] ?? 0;
        const retry: QueueEntry<E> = {
          ...entry,
          attempts,
          lastAttemptAt: attemptedAt,
          lastError: error,
          notBefore: this.now() + delay,
        };
        this.logger.warn('Async invocation failed, will retry', {
          function: this.name,
          requestId: entry.id,
          attempts,
          retryInMs: delay,
          error,
        });
        await this.writeEntry(retry);
        this.requeue(retry);
        return;
      }
      await unlink(join(this.pendingDir, `${entry.id}.json`));
    } catch (storageError) {
      // The queue file could not be updated: keep the entry in memory and on disk as it was.
      this.logger.error('Async invocation queue write failed', {
        function: this.name,
        requestId: entry.id,
        error: toInvocationError(storageError),
      });
      this.requeue({ ...entry, notBefore: this.now() + (this.retryDelaysMs[0] ?? 0) });
    }
  }

  private requeue(entry: QueueEntry<E>): void {
    if (this.isClosed()) return; // on disk already
    const index = this.waiting.findIndex((other) => other.id > entry.id);
    this.waiting.splice(index === -1 ? this.waiting.length : index, 0, entry);
  }

  private async deadLetter(
    entry: QueueEntry<E>,
    condition: DeadLetter<E>['condition'],
    error: InvocationError,
    lastAttemptAt: string | undefined,
  ): Promise<void> {
    const letter: DeadLetter<E> = {
      function: this.name,
      requestId: entry.id,
      condition,
      event: entry.event,
      error,
      attempts: entry.attempts,
      firstEnqueuedAt: entry.firstEnqueuedAt,
      lastAttemptAt: lastAttemptAt ?? new Date(this.now()).toISOString(),
    };
    // Appended before the queue file goes: a crash in between repeats the dead letter, never loses it.
    const file = await open(this.deadLetterFile, 'a');
    try {
      await file.appendFile(`${JSON.stringify(letter)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    await unlink(join(this.pendingDir, `${entry.id}.json`));
    this.logger.error('Async invocation sent to the dead-letter file', {
      function: this.name,
      requestId: entry.id,
      condition,
      attempts: entry.attempts,
      error,
    });
    this.onDeadLetter?.(letter);
  }

  /** A method, not a comparison of `state`, since `close()` may run during any await. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private isIdle(): boolean {
    return this.waiting.length === 0 && this.running.size === 0;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  // --- storage ---------------------------------------------------------------------------------

  private async writeEntry(entry: QueueEntry<E>): Promise<void> {
    const target = join(this.pendingDir, `${entry.id}.json`);
    const temporary = `${target}.tmp`;
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(JSON.stringify(entry));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, target);
    const directory = await open(this.pendingDir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  private async readEntry(file: string): Promise<QueueEntry<E> | undefined> {
    try {
      const parsed: unknown = JSON.parse(await readFile(join(this.pendingDir, file), 'utf8'));
      if (!isQueueEntry<E>(parsed)) throw new Error('not a queue entry');
      return parsed;
    } catch (error) {
      // Only written by rename after fsync, so this is damage from outside: keep it for inspection.
      this.logger.error('Skipping an unreadable async invocation queue file', {
        function: this.name,
        file,
        error: toInvocationError(error),
      });
      await rename(join(this.pendingDir, file), join(this.pendingDir, `${file}.unreadable`)).catch(() => {});
      return undefined;
    }
  }
}

function isQueueEntry<E>(value: unknown): value is QueueEntry<E> {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry.id === 'string' &&
    'event' in entry &&
    typeof entry.attempts === 'number' &&
    typeof entry.firstEnqueuedAt === 'string' &&
    typeof entry.notBefore === 'number'
  );
}

function toInvocationError(thrown: unknown): InvocationError {
  if (thrown instanceof Error) return { name: thrown.name, message: thrown.message };
  return { name: 'Error', message: String(thrown) };
}

function eventAgeError(ageMs: number): InvocationError {
  return { name: 'EventAgeExceeded', message: `Event is ${ageMs} ms old, past the maximum event age` };
}
