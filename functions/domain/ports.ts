/**
 * What the use cases need from the outside world. Adapters in `functions/adapters/`
 * implement these over the AWS SDK; tests pass fakes or real local endpoints.
 */
import type { Readable } from 'node:stream';
import type { Job, JobStatus } from './job.js';
import type { JobMetric } from './job-metrics.js';

export interface ObjectInfo {
  readonly size: number;
  readonly eTag: string;
  readonly contentType: string;
  readonly lastModified: string;
  readonly versionId?: string;
  /** S3 user metadata, keys lower-cased, without the `x-amz-meta-` prefix. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
}

/** How {@link ObjectStore.upload} stores a body. */
export interface UploadOptions {
  readonly contentType: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** The body's exact length in bytes, when known in advance. */
  readonly contentLength?: number;
}

/** An object {@link ObjectStore.upload} stored. */
export interface UploadedObject {
  readonly eTag: string;
  readonly size: number;
}

export interface ObjectStore {
  /** Metadata of an object, or undefined when it does not exist. */
  head(ref: ObjectRef): Promise<ObjectInfo | undefined>;
  /** Bytes `start..endInclusive` of an object. */
  readRange(ref: ObjectRef, start: number, endInclusive: number): Promise<Uint8Array>;
  /**
   * The text of at most the first `maxBytes + 1` bytes of an object and its whole size, or
   * undefined when it does not exist; callers refuse objects whose size is over their limit.
   */
  readText(
    ref: ObjectRef,
    maxBytes: number,
  ): Promise<{ readonly text: string; readonly size: number } | undefined>;
  /** Keys of the bucket that start with `prefix`, in key order, at most `maxKeys` of them. */
  listKeys(bucket: string, prefix: string, maxKeys: number): Promise<readonly string[]>;
  /** The whole object (used for data URIs of inputs under the size limit). */
  readAll(ref: ObjectRef): Promise<Uint8Array>;
  /** A presigned GET URL valid for `expiresSeconds`, served with `contentType` when given. */
  presignGet(ref: ObjectRef, expiresSeconds: number, contentType?: string): Promise<string>;
  /**
   * Stream a body into an object in constant memory: one streamed PUT when `contentLength` is
   * given (and within a single PUT's limit), multipart otherwise. Either way, a body that errors
   * or holds a different number of bytes than `contentLength` rejects and stores nothing.
   */
  upload(ref: ObjectRef, body: Readable, options: UploadOptions): Promise<UploadedObject>;
  putJson(ref: ObjectRef, value: unknown): Promise<void>;
}

/** Changes to a job record. Setting `status` also moves the record in the status index. */
export type JobChanges = Partial<Omit<Job, 'jobId' | 'createdAt' | 'updatedAt' | 'statusChangedAt'>>;

export type RemovableJobField =
  | 'error'
  | 'generationId'
  | 'executionArn'
  | 'output'
  | 'providerStatus'
  | 'lastQueuedAt'
  | 'submissionClaim'
  | 'submittedAt'
  | 'completedAt'
  | 'deadlineAt'
  | 'creditsUsed'
  | 'eventPublishedAt'
  | 'checkFailures'
  | 'waitingFor'
  | 'admittedAt'
  | 'creditsReserved'
  | 'expectedCompletionAt'
  | 'expectedCompletionP90At';

export interface JobStore {
  /** Create the record unless one with its id exists. Returns false for an existing id. */
  create(job: Job): Promise<boolean>;
  /** Strongly consistent read. */
  get(jobId: string): Promise<Job | undefined>;
  /**
   * Apply changes. With `expectStatus`, only if the record is in one of those statuses,
   * else `StaleTransitionError`. With `expectNoGenerationId`, only if no generation id is
   * recorded yet (the claim before the paid POST). Returns the record after the change.
   */
  update(
    jobId: string,
    changes: JobChanges,
    options?: {
      readonly expectStatus?: readonly JobStatus[];
      readonly incrementPollCount?: boolean;
      /** Only if nobody holds the submission claim and no generation id is recorded. */
      readonly expectUnclaimed?: boolean;
      /** Only if the submission claim carries this token. */
      readonly expectClaimToken?: string;
      readonly removeFields?: readonly RemovableJobField[];
      /** Leave `updatedAt` as it is: bookkeeping that is no change to the job (default true). */
      readonly touch?: boolean;
    },
  ): Promise<Job>;
  /** Jobs of one source object, newest first. */
  listBySource(bucket: string, key: string): Promise<readonly Job[]>;
  /** Jobs that entered `status` at or after `since` (and before `until`), newest first unless `oldestFirst`. */
  listByStatus(
    status: JobStatus,
    range: {
      readonly since: Date;
      readonly until?: Date;
      readonly limit?: number;
      readonly oldestFirst?: boolean;
    },
  ): Promise<readonly Job[]>;
  /**
   * Ids of ended jobs whose terminal event is not marked sent and that ended at or before `until`,
   * oldest first, at most `limit`. Read from an index that may lag the records: read each again.
   */
  listPendingEvents(range: { readonly until: Date; readonly limit: number }): Promise<readonly string[]>;
}

/**
 * The shared counters behind admission (admission.ts): who holds an in-flight slot, and how
 * many credits each UTC day has reserved. Every operation is idempotent per job id, so a
 * retried or duplicated call never takes two slots or reserves twice.
 */
export interface AdmissionStore {
  /** Take a slot for `jobId` unless `cap` are held by others. True when the job holds one. */
  acquireSlot(jobId: string, cap: number, at: Date): Promise<boolean>;
  /** Give the job's slot back (no-op when it holds none). */
  releaseSlot(jobId: string): Promise<void>;
  /** The jobs holding a slot, with when they took it. */
  slotHolders(): Promise<ReadonlyMap<string, string>>;
  /**
   * Reserve `credits` for `jobId` on `day` (YYYY-MM-DD) unless the day's reservations would
   * pass `limit`. True when the job holds a reservation on that day (also from an earlier call).
   */
  reserveCredits(day: string, jobId: string, credits: number, limit: number): Promise<boolean>;
  /**
   * Replace the job's reservation of `reserved` credits on `day` by what it really cost, once
   * (no-op without a reservation, or when already settled).
   */
  settleCredits(day: string, jobId: string, reserved: number, actual: number): Promise<void>;
  /** Credits reserved (settled ones at their real cost) on `day`. */
  creditsSpent(day: string): Promise<number>;
}

export type ExecutionStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE';

export interface Executions {
  /** Start the polling execution named `name`; starting the same name with the same input again is a no-op. */
  start(name: string, input: unknown): Promise<{ readonly executionArn: string }>;
  /** The execution's status, or undefined when it does not exist. */
  status(executionArn: string): Promise<ExecutionStatus | undefined>;
}

export interface JobEvents {
  /** Announce that a job reached a terminal status (README, "Events"; docs/events/). */
  publishTerminal(job: Job): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** The subset of Powertools' Logger the domain uses. */
export interface Logger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Figures about jobs that ended: CloudWatch metrics (EMF, through Powertools) in AWS, nothing
 * locally. Recorded in memory; the handler publishes them at the end of its invocation.
 */
export interface JobMetrics {
  /** Add the figures of one job that reached a terminal status (see job-metrics.ts). */
  record(metrics: readonly JobMetric[]): void;
}

export const noJobMetrics: JobMetrics = { record() {} };

/** An output video being downloaded from the provider's CDN. */
export interface OutputDownload {
  readonly body: Readable;
  /** From `Content-Length`, when the server sent one. */
  readonly contentLength?: number;
  readonly contentType: string;
}

export interface OutputFetcher {
  /**
   * Open the provider's output URL for streaming. The body errors with
   * `OutputRejectedError`/`OutputDownloadError` when it breaks a rule mid-stream (too large,
   * shorter than announced, stalled).
   * @throws OutputRejectedError for unsafe URLs, 403/404/410 (expired or missing), non-video
   *   content; OutputDownloadError for 5xx, resets and timeouts.
   */
  open(url: string): Promise<OutputDownload>;
}
