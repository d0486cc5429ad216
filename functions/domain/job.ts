/**
 * The job record (README, "The job record") and its life cycle.
 */
import { createHash } from 'node:crypto';
import type { Stage } from './errors.js';

export const MODEL = 'runway/gen4_aleph';

export const JobStatus = {
  awaitingPrompt: 'AWAITING_PROMPT',
  /** Ready, but held back by the in-flight cap or today's credit budget (see admission.ts). */
  waiting: 'WAITING',
  submitted: 'SUBMITTED',
  generating: 'GENERATING',
  copying: 'COPYING',
  completed: 'COMPLETED',
  failed: 'FAILED',
  rejected: 'REJECTED',
  timedOut: 'TIMED_OUT',
  cancelled: 'CANCELLED',
} as const;

export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

export const TERMINAL_STATUSES: readonly JobStatus[] = [
  JobStatus.completed,
  JobStatus.failed,
  JobStatus.rejected,
  JobStatus.timedOut,
  JobStatus.cancelled,
];

export const IN_FLIGHT_STATUSES: readonly JobStatus[] = [
  JobStatus.awaitingPrompt,
  JobStatus.waiting,
  JobStatus.submitted,
  JobStatus.generating,
  JobStatus.copying,
];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const WaitReason = {
  /** As many generations as the cap allows are in flight. */
  capacity: 'CAPACITY',
  /** Today's credit budget would be passed. */
  budget: 'BUDGET',
  /** The provider refused the POST as out of credits (HTTP 403): nothing was created or paid. */
  providerCredits: 'PROVIDER_CREDITS',
} as const;

export type WaitReason = (typeof WaitReason)[keyof typeof WaitReason];

export interface SourceObject {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  readonly eTag: string;
  readonly size: number;
  readonly contentType: string;
}

/** A drop's request for `runway/gen4_aleph`, recorded as it always was. */
export interface AlephRequest {
  readonly model: typeof MODEL;
  readonly prompt: string;
  readonly frameSize: string;
  readonly duration: number;
  readonly seed?: number;
  readonly references?: readonly string[];
}

/**
 * A drop's request for another catalog model (functions/domain/models/): `fields` is the body
 * sent, under the provider's published names, but for the drop's video (`videoField`), which is
 * a short-lived URL. `prompt` and `frameSize` repeat those fields for lists and polling history.
 */
export interface CatalogRequest {
  readonly model: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly videoField: string;
  readonly prompt?: string;
  readonly frameSize?: string;
}

export type GenerationRequest = AlephRequest | CatalogRequest;

/** True for a request of a catalog model other than `runway/gen4_aleph`. */
export function isCatalogRequest(request: GenerationRequest): request is CatalogRequest {
  return 'fields' in request;
}

export interface OutputObject {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly eTag: string;
  readonly contentType: string;
  readonly width?: number;
  readonly height?: number;
  readonly durationSeconds?: number;
}

export interface JobError {
  readonly code: string;
  readonly message: string;
  readonly stage: Stage;
  readonly retryable: boolean;
  /** The model and field a `MODEL_*` rejection is about. */
  readonly model?: string;
  readonly field?: string;
}

/** How an earlier attempt of a retried job ended, kept in the record's `attempts`. */
export interface PreviousAttempt {
  readonly attempt: number;
  readonly status: JobStatus;
  readonly error?: JobError;
  readonly generationId?: string;
  readonly creditsUsed?: number;
  readonly pollCount: number;
  readonly executionArn?: string;
  readonly submittedAt?: string;
  readonly completedAt?: string;
}

/** What started the job: a video upload, or a `jobs/` manifest naming a video. */
export interface JobTrigger {
  readonly kind: 'upload' | 'manifest';
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  readonly eTag: string;
  /**
   * The S3 event's `sequencer` of the write that made the job (hex; one value per PUT, copy or
   * multipart completion, repeated by duplicate deliveries of it). Unset for records made before
   * it was kept, and for events without one.
   */
  readonly sequencer?: string;
}

export interface Job {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly source: SourceObject;
  readonly trigger: JobTrigger;
  readonly request?: GenerationRequest;
  readonly generationId?: string;
  /**
   * When a check last saw the generation `queued` at the provider (absent while none has):
   * the polling policy plans the time left after it (docs/polling.md).
   */
  readonly lastQueuedAt?: string;
  readonly providerStatus?: string;
  readonly pollCount: number;
  readonly output?: OutputObject;
  readonly creditsUsed?: number;
  readonly error?: JobError;
  readonly executionArn?: string;
  /** 1 for the first attempt; `vidflow retry` increments it. */
  readonly attempt: number;
  /** The attempts before the current one, oldest first (set by `vidflow retry`). */
  readonly attempts?: readonly PreviousAttempt[];
  readonly createdAt: string;
  readonly submittedAt?: string;
  readonly completedAt?: string;
  readonly updatedAt: string;
  /** When the job entered its current status; sort key of the status index. */
  readonly statusChangedAt: string;
  /** ISO instant after which the generation is given up as `TIMED_OUT`. */
  readonly deadlineAt?: string;
  /**
   * Set, conditionally, by the one invocation allowed to POST this job to the provider.
   * A claim without a `generationId` means a POST may be under way (or was lost in a crash).
   */
  readonly submissionClaim?: {
    readonly token: string;
    readonly claimedAt: string;
    /**
     * Written right before the POST leaves. A claim without it surely sent nothing (its holder
     * died first), so the sweeper may submit the job again; with it, the POST's outcome is unknown.
     */
    readonly sendingAt?: string;
  };
  /** What a `WAITING` job waits for: a free in-flight slot, or room in today's credit budget. */
  readonly waitingFor?: WaitReason;
  /**
   * When the job was let through the in-flight cap and the credit budget (its budget day is the
   * UTC date of this instant); unset while no cap or budget is configured.
   */
  readonly admittedAt?: string;
  /** Credits reserved in the admission's budget day, settled to the real cost when the job ends. */
  readonly creditsReserved?: number;
  /**
   * The ETA while in flight: the median and the 90th percentile of the completion time given the
   * time elapsed (the polling policy's estimate), refreshed at each check; removed at the end.
   */
  readonly expectedCompletionAt?: string;
  readonly expectedCompletionP90At?: string;
  /** Checks in a row that found the provider unavailable; reset by a check that gets an answer. */
  readonly checkFailures?: number;
  /** When the terminal event was accepted; unset until then (see terminal-event.ts). */
  readonly eventPublishedAt?: string;
}

/**
 * The job id of a triggering object version: deterministic, short (20 characters) and
 * URL-safe (lowercase base32). Duplicate notifications of one PUT give the same id.
 *
 * The version is named by `versionId` where the bucket is versioned. Otherwise by
 * `eTag@lastModified`, which is what a client that only has a HEAD can re-derive; two writes of
 * the same bytes to one key within a second share that pair, so the later one is named by its
 * event `sequencer` instead (see `chooseJobId` in submit-job.ts, docs/architecture.md "Job identity").
 */
export function deriveJobId(identity: {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  readonly eTag: string;
  readonly lastModified?: string;
  /** Set only to name a re-upload whose `eTag@lastModified` id belongs to an earlier write. */
  readonly sequencer?: string;
}): string {
  const version = identity.versionId
    ? `v:${identity.versionId}`
    : identity.sequencer
      ? `s:${identity.sequencer}`
      : `e:${identity.eTag}@${identity.lastModified ?? ''}`;
  const digest = createHash('sha256').update(`${identity.bucket}\n${identity.key}\n${version}`).digest();
  return toBase32(digest).slice(0, 20);
}

/**
 * Whether two triggers are two different writes: both carry a sequencer and they differ. A
 * trigger without one (older records, events that lack it) is taken for the same write, as before.
 */
export function isOtherWrite(a: JobTrigger, b: { readonly sequencer?: string }): boolean {
  return a.sequencer !== undefined && b.sequencer !== undefined && a.sequencer !== b.sequencer;
}

const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function toBase32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/**
 * The name of the polling execution of the job's current attempt: the job id for the first,
 * `<jobId>-<attempt>` after a retry (execution names are unique per state machine).
 */
export function executionNameOf(job: Pick<Job, 'jobId' | 'attempt'>): string {
  return job.attempt > 1 ? `${job.jobId}-${job.attempt}` : job.jobId;
}

/** The output location (README, "Results"): `<input key without extension>/<jobId>.mp4` and `.json`. */
export function outputKeysFor(
  sourceKey: string,
  jobId: string,
): { readonly video: string; readonly record: string } {
  const stem = sourceKey.replace(/\.[^./]*$/, '');
  return { video: `${stem}/${jobId}.mp4`, record: `${stem}/${jobId}.json` };
}

/** S3's limit on an object key, in UTF-8 bytes. */
export const MAX_S3_KEY_BYTES = 1024;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const KEY_CONTROL_CHARACTERS = /[\u0000-\u001F\u007F-\u009F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why the output keys of `sourceKey` would not be S3 keys that every client writes and reads
 * back as named, or undefined when they are. The one rule: each output key is at most
 * {@link MAX_S3_KEY_BYTES} UTF-8 bytes, has no `.` or `..` segment (HTTP clients and SDKs
 * normalise them away, so the object would land under another key or be refused) and no
 * control character (S3's XML listings cannot carry them).
 */
export function outputKeyProblem(sourceKey: string, jobId: string): string | undefined {
  const keys = outputKeysFor(sourceKey, jobId);
  const longest = Math.max(Buffer.byteLength(keys.video), Buffer.byteLength(keys.record));
  if (longest > MAX_S3_KEY_BYTES) {
    const room = MAX_S3_KEY_BYTES - longest + Buffer.byteLength(sourceKey);
    return `the output key would be ${longest} bytes; S3 keys are at most ${MAX_S3_KEY_BYTES} (the input key may be ${room} bytes at most)`;
  }
  if (keys.video.split('/').some((segment) => segment === '.' || segment === '..')) {
    return `the output key "${keys.video.slice(0, 200)}" would have a "." or ".." segment, which HTTP clients rewrite`;
  }
  if (KEY_CONTROL_CHARACTERS.test(keys.video)) return 'the output key would contain control characters';
  if (LONE_SURROGATE.test(keys.video)) {
    return 'the output key would not be valid UTF-8';
  }
  return undefined;
}

/** The ETA fields: a record carries them only in flight, so a move to a terminal status removes them. */
export const ETA_FIELDS = ['expectedCompletionAt', 'expectedCompletionP90At'] as const;

/** The fields an update removes: those asked for, plus the ETA when it ends the job. */
export function fieldsRemovedBy<F extends string>(
  status: JobStatus | undefined,
  asked: readonly F[] | undefined,
): readonly (F | (typeof ETA_FIELDS)[number])[] {
  const ending = status !== undefined && isTerminal(status);
  return ending ? [...new Set([...(asked ?? []), ...ETA_FIELDS])] : (asked ?? []);
}
