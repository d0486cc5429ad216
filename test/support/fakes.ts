/**
 * In-memory collaborators for the unit tier. Each keeps the semantics of the port it
 * implements (conditional writes, ranged reads, idempotent execution starts) so a use case
 * tested against it behaves as it does against DynamoDB, S3 and Step Functions; each
 * records the calls made, so tests can count paid submissions and published events.
 *
 * Every operation first yields to the event loop, so concurrent deliveries
 * (`Promise.all`) interleave at each await as they would against a real service, while
 * each conditional check-and-write stays atomic as in DynamoDB.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { StaleTransitionError } from '../../functions/domain/errors.js';
import { fieldsRemovedBy, isTerminal, type Job, type JobStatus } from '../../functions/domain/job.js';
import type {
  CompletionHistory,
  CompletionHistoryStore,
  CompletionObservation,
} from '../../functions/domain/poll-policy.js';
import type {
  AdmissionStore,
  Clock,
  ExecutionStatus,
  Executions,
  JobChanges,
  JobEvents,
  JobStore,
  ObjectInfo,
  ObjectRef,
  ObjectStore,
  OutputDownload,
  OutputFetcher,
} from '../../functions/domain/ports.js';
import type {
  AlephGenerationInput,
  CatalogGenerationInput,
  CreateGenerationInput,
  Generation,
  ProviderClient,
} from '../../functions/domain/provider.js';

/** Let other pending operations run, as a network round trip would. */
function yieldToOthers(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

// ------------------------------------------------------------------ clock

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  private current: number;

  constructor(start: Date | string = '2025-05-01T12:00:00.000Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  advanceSeconds(seconds: number): void {
    this.current += seconds * 1000;
  }

  set(at: Date | string): void {
    this.current = new Date(at).getTime();
  }
}

// ------------------------------------------------------------------ job store

type UpdateOptions = NonNullable<Parameters<JobStore['update']>[2]>;

export interface JobStoreCall {
  readonly method: 'create' | 'get' | 'update' | 'listBySource' | 'listByStatus' | 'listPendingEvents';
  readonly jobId?: string;
  readonly changes?: JobChanges;
  readonly options?: UpdateOptions;
}

/**
 * The job store over a Map, with the DynamoDB store's conditional semantics: `create` only
 * for a new id, `update` only for an existing record that meets every condition given
 * (else `StaleTransitionError`), `updatedAt` always and `statusChangedAt` whenever a status
 * is set, taken from the clock.
 */
export class FakeJobStore implements JobStore {
  private readonly records = new Map<string, Job>();
  readonly calls: JobStoreCall[] = [];

  constructor(private readonly clock: Clock) {}

  /** Seed a record as it is, without conditions. */
  seed(job: Job): void {
    this.records.set(job.jobId, clone(job));
  }

  /** Every record, in creation order. */
  all(): Job[] {
    return [...this.records.values()].map(clone);
  }

  /** A record that must exist (test helper: fails the test when it does not). */
  require(jobId: string): Job {
    const job = this.records.get(jobId);
    if (job === undefined) throw new Error(`test expected a job ${jobId}`);
    return clone(job);
  }

  async create(job: Job): Promise<boolean> {
    this.calls.push({ method: 'create', jobId: job.jobId });
    await yieldToOthers();
    if (this.records.has(job.jobId)) return false;
    this.records.set(job.jobId, clone(job));
    return true;
  }

  async get(jobId: string): Promise<Job | undefined> {
    this.calls.push({ method: 'get', jobId });
    await yieldToOthers();
    const job = this.records.get(jobId);
    return job === undefined ? undefined : clone(job);
  }

  async update(jobId: string, changes: JobChanges, options: UpdateOptions = {}): Promise<Job> {
    this.calls.push({ method: 'update', jobId, changes: clone(changes), options: clone(options) });
    await yieldToOthers();
    const current = this.records.get(jobId);
    if (current === undefined) throw new StaleTransitionError(`job ${jobId} does not exist`);
    if (options.expectStatus !== undefined && !options.expectStatus.includes(current.status)) {
      throw new StaleTransitionError(`job ${jobId} is ${current.status}`);
    }
    if (
      options.expectUnclaimed === true &&
      (current.submissionClaim !== undefined || current.generationId !== undefined)
    ) {
      throw new StaleTransitionError(`job ${jobId} is already claimed`);
    }
    if (
      options.expectClaimToken !== undefined &&
      current.submissionClaim?.token !== options.expectClaimToken
    ) {
      throw new StaleTransitionError(`job ${jobId} is claimed by another token`);
    }
    const now = this.clock.now().toISOString();
    const next: Record<string, unknown> = {
      ...clone(current),
      ...(options.touch === false ? {} : { updatedAt: now }),
    };
    for (const [field, value] of Object.entries(changes)) {
      if (value !== undefined) next[field] = clone(value);
    }
    if (changes.status !== undefined) next.statusChangedAt = now;
    if (options.incrementPollCount === true) next.pollCount = current.pollCount + 1;
    for (const field of fieldsRemovedBy(changes.status, options.removeFields)) delete next[field];
    const updated = next as unknown as Job;
    this.records.set(jobId, updated);
    return clone(updated);
  }

  async listBySource(bucket: string, key: string): Promise<readonly Job[]> {
    this.calls.push({ method: 'listBySource' });
    await yieldToOthers();
    return [...this.records.values()]
      .filter((job) => job.source.bucket === bucket && job.source.key === key)
      .sort((a, b) => compareDescending(a.createdAt, b.createdAt) || compareDescending(a.jobId, b.jobId))
      .map(clone);
  }

  async listByStatus(
    status: JobStatus,
    range: Parameters<JobStore['listByStatus']>[1],
  ): Promise<readonly Job[]> {
    this.calls.push({ method: 'listByStatus' });
    await yieldToOthers();
    const since = range.since.toISOString();
    const until = (range.until ?? this.clock.now()).toISOString();
    const order = range.oldestFirst === true ? -1 : 1;
    return [...this.records.values()]
      .filter((job) => job.status === status && job.statusChangedAt >= since && job.statusChangedAt <= until)
      .sort(
        (a, b) =>
          order *
          (compareDescending(a.statusChangedAt, b.statusChangedAt) || compareDescending(a.jobId, b.jobId)),
      )
      .slice(0, range.limit ?? Number.POSITIVE_INFINITY)
      .map(clone);
  }

  async listPendingEvents(range: Parameters<JobStore['listPendingEvents']>[0]): Promise<readonly string[]> {
    this.calls.push({ method: 'listPendingEvents' });
    await yieldToOthers();
    const until = range.until.toISOString();
    return [...this.records.values()]
      .filter(
        (job) => isTerminal(job.status) && job.eventPublishedAt === undefined && job.statusChangedAt <= until,
      )
      .sort(
        (a, b) =>
          -(compareDescending(a.statusChangedAt, b.statusChangedAt) || compareDescending(a.jobId, b.jobId)),
      )
      .slice(0, range.limit)
      .map((job) => job.jobId);
  }
}

function compareDescending(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0;
}

// ------------------------------------------------------------------ admission

/** The admission counters in memory, with the DynamoDB store's semantics (admission-store.ts). */
export class FakeAdmissionStore implements AdmissionStore {
  readonly holders = new Map<string, string>();
  readonly days = new Map<
    string,
    { spent: number; reserved: Map<string, number>; settled: Map<string, number> }
  >();
  /** Most slots ever held at once. */
  maxHeld = 0;

  async acquireSlot(jobId: string, cap: number, at: Date): Promise<boolean> {
    await yieldToOthers();
    if (this.holders.has(jobId)) return true;
    if (this.holders.size >= cap) return false;
    this.holders.set(jobId, at.toISOString());
    this.maxHeld = Math.max(this.maxHeld, this.holders.size);
    return true;
  }

  async releaseSlot(jobId: string): Promise<void> {
    await yieldToOthers();
    this.holders.delete(jobId);
  }

  async slotHolders(): Promise<ReadonlyMap<string, string>> {
    return new Map(this.holders);
  }

  async reserveCredits(day: string, jobId: string, credits: number, limit: number): Promise<boolean> {
    await yieldToOthers();
    const budget = this.day(day);
    if (budget.reserved.has(jobId)) return true;
    if (budget.spent + credits > limit) return false;
    budget.reserved.set(jobId, credits);
    budget.spent += credits;
    return true;
  }

  async settleCredits(day: string, jobId: string, reserved: number, actual: number): Promise<void> {
    await yieldToOthers();
    const budget = this.day(day);
    if (!budget.reserved.has(jobId) || budget.settled.has(jobId)) return;
    budget.settled.set(jobId, actual);
    budget.spent += actual - reserved;
  }

  async creditsSpent(day: string): Promise<number> {
    return this.day(day).spent;
  }

  private day(day: string) {
    let budget = this.days.get(day);
    if (budget === undefined) {
      budget = { spent: 0, reserved: new Map(), settled: new Map() };
      this.days.set(day, budget);
    }
    return budget;
  }
}

// ------------------------------------------------------------------ object store

interface StoredObject {
  readonly bytes: Uint8Array;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly eTag: string;
  readonly lastModified: string;
  readonly versionId?: string;
}

export interface PutOptions {
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly versionId?: string;
}

/** Uploads and presigns seen by the store, for assertions. */
export interface ObjectStoreLog {
  readonly presigned: {
    readonly ref: ObjectRef;
    readonly expiresSeconds: number;
    readonly contentType?: string;
  }[];
  readonly readAll: ObjectRef[];
  readonly uploads: {
    readonly ref: ObjectRef;
    readonly contentType: string;
    readonly size: number;
    readonly contentLength?: number;
  }[];
  readonly putJson: ObjectRef[];
}

/**
 * Buckets over a Map, one version per key. `head` of a missing object (or of another
 * version than the current one) is undefined; reads of a missing object throw, as S3's
 * `NoSuchKey` does.
 */
export class FakeObjectStore implements ObjectStore {
  private readonly objects = new Map<string, StoredObject>();
  readonly log: ObjectStoreLog = { presigned: [], readAll: [], uploads: [], putJson: [] };

  constructor(private readonly clock: Clock) {}

  /** Store an object, as a user's PUT would. */
  put(bucket: string, key: string, body: string | Uint8Array, options: PutOptions = {}): ObjectInfo {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body);
    const stored: StoredObject = {
      bytes,
      contentType: options.contentType ?? 'application/octet-stream',
      metadata: { ...(options.metadata ?? {}) },
      eTag: createHash('md5').update(bytes).digest('hex'),
      lastModified: this.clock.now().toISOString(),
      ...(options.versionId === undefined ? {} : { versionId: options.versionId }),
    };
    this.objects.set(pathOf(bucket, key), stored);
    return infoOf(stored);
  }

  async listKeys(bucket: string, prefix: string, maxKeys: number): Promise<readonly string[]> {
    return [...this.objects.keys()]
      .filter((path) => path.startsWith(`${bucket}/${prefix}`))
      .map((path) => path.slice(bucket.length + 1))
      .sort()
      .slice(0, maxKeys);
  }

  /** Store a JSON document. */
  putDocument(bucket: string, key: string, value: unknown): ObjectInfo {
    return this.put(bucket, key, JSON.stringify(value), { contentType: 'application/json' });
  }

  /** The bytes of an object that must exist. */
  bytesOf(bucket: string, key: string): Uint8Array {
    return this.require(bucket, key).bytes;
  }

  /** The parsed JSON of an object that must exist. */
  jsonOf(bucket: string, key: string): unknown {
    return JSON.parse(new TextDecoder().decode(this.require(bucket, key).bytes));
  }

  /** The metadata of an object that must exist. */
  infoOf(bucket: string, key: string): ObjectInfo {
    return infoOf(this.require(bucket, key));
  }

  keys(bucket: string): string[] {
    const prefix = `${bucket}/`;
    return [...this.objects.keys()]
      .filter((path) => path.startsWith(prefix))
      .map((path) => path.slice(prefix.length));
  }

  async head(ref: ObjectRef): Promise<ObjectInfo | undefined> {
    await yieldToOthers();
    const stored = this.find(ref);
    return stored === undefined ? undefined : infoOf(stored);
  }

  async readRange(ref: ObjectRef, start: number, endInclusive: number): Promise<Uint8Array> {
    await yieldToOthers();
    return this.mustFind(ref).bytes.slice(start, endInclusive + 1);
  }

  async readText(
    ref: ObjectRef,
    maxBytes: number,
  ): Promise<{ readonly text: string; readonly size: number } | undefined> {
    await yieldToOthers();
    const stored = this.find(ref);
    if (stored === undefined) return undefined;
    return { text: new TextDecoder().decode(stored.bytes.slice(0, maxBytes + 1)), size: stored.bytes.length };
  }

  async readAll(ref: ObjectRef): Promise<Uint8Array> {
    this.log.readAll.push(ref);
    await yieldToOthers();
    return this.mustFind(ref).bytes.slice();
  }

  async presignGet(ref: ObjectRef, expiresSeconds: number, contentType?: string): Promise<string> {
    this.log.presigned.push({ ref, expiresSeconds, ...(contentType === undefined ? {} : { contentType }) });
    await yieldToOthers();
    return presignedUrlOf(ref, expiresSeconds);
  }

  async upload(
    ref: ObjectRef,
    body: Readable,
    options: {
      readonly contentType: string;
      readonly metadata?: Readonly<Record<string, string>>;
      readonly contentLength?: number;
    },
  ): Promise<{ readonly eTag: string; readonly size: number }> {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    const bytes = chunks.reduce((total, chunk) => total + chunk.length, 0);
    if (options.contentLength !== undefined && options.contentLength !== bytes) {
      throw new Error(`the body ended after ${bytes} of the ${options.contentLength} bytes announced`);
    }
    const stored = this.put(ref.bucket, ref.key, Buffer.concat(chunks), {
      contentType: options.contentType,
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
    });
    this.log.uploads.push({
      ref,
      contentType: options.contentType,
      size: stored.size,
      ...(options.contentLength === undefined ? {} : { contentLength: options.contentLength }),
    });
    return { eTag: stored.eTag, size: stored.size };
  }

  async putJson(ref: ObjectRef, value: unknown): Promise<void> {
    this.log.putJson.push(ref);
    await yieldToOthers();
    this.put(ref.bucket, ref.key, `${JSON.stringify(value, null, 2)}\n`, { contentType: 'application/json' });
  }

  private find(ref: ObjectRef): StoredObject | undefined {
    const stored = this.objects.get(pathOf(ref.bucket, ref.key));
    if (stored === undefined) return undefined;
    if (ref.versionId !== undefined && ref.versionId !== stored.versionId) return undefined;
    return stored;
  }

  private mustFind(ref: ObjectRef): StoredObject {
    const stored = this.find(ref);
    if (stored === undefined) throw new Error(`NoSuchKey: ${ref.bucket}/${ref.key}`);
    return stored;
  }

  private require(bucket: string, key: string): StoredObject {
    const stored = this.objects.get(pathOf(bucket, key));
    if (stored === undefined) throw new Error(`test expected an object ${bucket}/${key}`);
    return stored;
  }
}

/** The URL the fake store presigns for a ref: deterministic, so tests can assert it. */
export function presignedUrlOf(ref: ObjectRef, expiresSeconds: number): string {
  const path = ref.key.split('/').map(encodeURIComponent).join('/');
  const version = ref.versionId === undefined ? '' : `&versionId=${encodeURIComponent(ref.versionId)}`;
  return `https://${ref.bucket}.s3.example.test/${path}?X-Amz-Expires=${expiresSeconds}${version}`;
}

function pathOf(bucket: string, key: string): string {
  return `${bucket}/${key}`;
}

function infoOf(stored: StoredObject): ObjectInfo {
  return {
    size: stored.bytes.length,
    eTag: stored.eTag,
    contentType: stored.contentType,
    lastModified: stored.lastModified,
    metadata: { ...stored.metadata },
    ...(stored.versionId === undefined ? {} : { versionId: stored.versionId }),
  };
}

// ------------------------------------------------------------------ provider

type Scripted<T> = T | Error | (() => T | Promise<T>);

/**
 * The provider, answering from scripts: each call takes the next scripted result (a value,
 * an error to throw, or a function), and falls back to a default once the script runs out.
 */
export class FakeProvider implements ProviderClient {
  /** Every create input, either kind (a catalog model's has `catalogBody`, aleph's its fields). */
  readonly creates: (Partial<AlephGenerationInput> & Partial<CatalogGenerationInput>)[] = [];
  readonly gets: string[] = [];
  private readonly createScript: Scripted<Generation>[] = [];
  private readonly getScript: Scripted<Generation>[] = [];

  scriptCreate(...results: Scripted<Generation>[]): this {
    this.createScript.push(...results);
    return this;
  }

  scriptGet(...results: Scripted<Generation>[]): this {
    this.getScript.push(...results);
    return this;
  }

  async createGeneration(input: CreateGenerationInput): Promise<Generation> {
    this.creates.push(clone(input));
    await yieldToOthers();
    return play(this.createScript.shift(), () => ({ id: `gen-${this.creates.length}`, status: 'queued' }));
  }

  async getGeneration(generationId: string): Promise<Generation> {
    this.gets.push(generationId);
    await yieldToOthers();
    return play(this.getScript.shift(), () => ({ id: generationId, status: 'queued' }));
  }
}

async function play<T>(step: Scripted<T> | undefined, fallback: () => T): Promise<T> {
  if (step === undefined) return fallback();
  if (step instanceof Error) throw step;
  if (typeof step === 'function') return (step as () => T | Promise<T>)();
  return step;
}

// ------------------------------------------------------------------ executions and events

export const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:vidflow';

/** Step Functions executions: starting a name again with the same input is a no-op. */
export class FakeExecutions implements Executions {
  readonly started: { readonly name: string; readonly input: unknown }[] = [];
  readonly statuses = new Map<string, ExecutionStatus>();
  private readonly inputs = new Map<string, string>();
  private readonly failures: Error[] = [];

  /** The next start fails with `error` (before anything is started). */
  failNextStart(error: Error): void {
    this.failures.push(error);
  }

  async start(name: string, input: unknown): Promise<{ readonly executionArn: string }> {
    await yieldToOthers();
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    const executionArn = executionArnFor(name);
    const serialized = JSON.stringify(input);
    // Like the adapter, which takes ExecutionAlreadyExists (same name, other input) as success.
    if (!this.inputs.has(name)) {
      this.inputs.set(name, serialized);
      this.statuses.set(executionArn, 'RUNNING');
      this.started.push({ name, input: clone(input) });
    }
    return { executionArn };
  }

  async status(executionArn: string): Promise<ExecutionStatus | undefined> {
    await yieldToOthers();
    return this.statuses.get(executionArn);
  }
}

export function executionArnFor(name: string): string {
  return `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** Terminal events, kept in order. */
export class FakeEvents implements JobEvents {
  readonly published: Job[] = [];

  async publishTerminal(job: Job): Promise<void> {
    await yieldToOthers();
    this.published.push(clone(job));
  }
}

// ------------------------------------------------------------------ output fetcher

/**
 * The provider's CDN: serves the bytes registered for a URL as a stream; an unknown URL or a
 * scripted error makes `open` reject, and `failAfterBytes` makes the body break mid-stream.
 */
export class FakeOutputFetcher implements OutputFetcher {
  readonly opened: string[] = [];
  private readonly files = new Map<string, { bytes: Uint8Array; failAfterBytes?: Error }>();
  private readonly failures: Error[] = [];

  serve(url: string, bytes: Uint8Array, options: { readonly breakWith?: Error } = {}): void {
    this.files.set(url, {
      bytes,
      ...(options.breakWith === undefined ? {} : { failAfterBytes: options.breakWith }),
    });
  }

  failNextOpen(error: Error): void {
    this.failures.push(error);
  }

  async open(url: string): Promise<OutputDownload> {
    this.opened.push(url);
    await yieldToOthers();
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    const file = this.files.get(url);
    if (file === undefined) throw new Error(`test served nothing at ${url}`);
    const half = Math.floor(file.bytes.length / 2);
    const breakWith = file.failAfterBytes;
    const body =
      breakWith === undefined
        ? Readable.from([Buffer.from(file.bytes)])
        : Readable.from(
            (async function* () {
              yield Buffer.from(file.bytes.subarray(0, half));
              throw breakWith;
            })(),
          );
    return { body, contentType: 'video/mp4', contentLength: file.bytes.length };
  }
}

// ------------------------------------------------------------------ completion history

/** The polling policy's history: fixed observations per frame size, and the records made. */
export class FakeCompletionHistory implements CompletionHistoryStore {
  readonly reads: string[] = [];
  readonly recorded: {
    readonly frameSize: string;
    readonly slot: number;
    readonly observation: CompletionObservation;
  }[] = [];
  failWith: Error | undefined;

  constructor(private readonly byFrameSize: Readonly<Record<string, CompletionHistory>> = {}) {}

  async read(frameSize: string): Promise<CompletionHistory> {
    this.reads.push(frameSize);
    await yieldToOthers();
    if (this.failWith !== undefined) throw this.failWith;
    return this.byFrameSize[frameSize] ?? { observations: [] };
  }

  async record(frameSize: string, slot: number, observation: CompletionObservation): Promise<void> {
    await yieldToOthers();
    if (this.failWith !== undefined) throw this.failWith;
    this.recorded.push({ frameSize, slot, observation });
  }
}
