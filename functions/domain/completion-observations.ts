/**
 * What the polling policy learns from (see docs/polling.md section 1): the observation each
 * check makes, the history that keeps them (one slot per job), and the same observations on the
 * clock of a generation's last `queued` check. Pure.
 */
import type { Job } from './job.js';

/** A generation that finished in `(afterSeconds, bySeconds]`, or still ran at `afterSeconds`. */
export interface CompletionObservation {
  /** Seconds from submission when it was last seen unfinished (0: never checked before). */
  readonly afterSeconds: number;
  /** Seconds from submission when it was first seen completed; absent while it still runs. */
  readonly bySeconds?: number;
  /** When the observation was made (epoch seconds): orders the history by age. @default oldest */
  readonly atSeconds?: number;
  /**
   * Seconds from submission when a check last saw the generation `queued` at the provider;
   * absent when no check did (it left the queue before the first check).
   */
  readonly queuedSeconds?: number;
}

/** What the policy knows about one model and frame size. */
export interface CompletionHistory {
  readonly observations: readonly CompletionObservation[];
  /**
   * Changes whenever the observations do (the store's write counter): plans are memoised on it.
   * @default none: memoised on the history object itself
   */
  readonly version?: string;
}

export const EMPTY_HISTORY: CompletionHistory = { observations: [] };

/** Observations kept per model and frame size. */
export const HISTORY_CAPACITY = 300;

// ------------------------------------------------------------------ observations

/**
 * The observation a check makes: completed in `(previous check, seenAt]` when `completed`,
 * else still running at `seenAt`.
 * @param job the record as the check read it, before recording this check.
 * @param seenAt when the check asked the provider.
 * @returns undefined when the record cannot bound the completion (not submitted, or a
 *   rerun of a check that already saw the completion).
 */
export function observeCompletion(
  job: Pick<Job, 'submittedAt' | 'updatedAt' | 'pollCount' | 'providerStatus' | 'lastQueuedAt'>,
  seenAt: Date,
  completed = true,
  queuedNow = false,
): CompletionObservation | undefined {
  if (job.submittedAt === undefined || job.providerStatus === 'completed') return undefined;
  const submitted = Date.parse(job.submittedAt);
  const seenSeconds = (seenAt.getTime() - submitted) / 1000;
  const atSeconds = Math.round(seenAt.getTime() / 1000);
  if (!Number.isFinite(seenSeconds) || seenSeconds <= 0) return undefined;
  const lastQueued = queuedNow
    ? seenSeconds
    : job.lastQueuedAt === undefined
      ? Number.NaN
      : (Date.parse(job.lastQueuedAt) - submitted) / 1000;
  const queued = lastQueued > 0 && lastQueued <= seenSeconds ? { queuedSeconds: roundTenth(lastQueued) } : {};
  if (!completed) return { afterSeconds: roundTenth(seenSeconds), atSeconds, ...queued };
  // The record was last updated by the previous check, which saw the generation unfinished.
  const afterSeconds = job.pollCount > 0 ? (Date.parse(job.updatedAt) - submitted) / 1000 : 0;
  if (!Number.isFinite(afterSeconds)) return undefined;
  return {
    afterSeconds: roundTenth(Math.min(Math.max(0, afterSeconds), seenSeconds)),
    bySeconds: roundTenth(seenSeconds),
    atSeconds,
    ...queued,
  };
}

/** The history slot a job's observation goes to: stable, so recording it twice is harmless. */
export function historySlotOf(jobId: string, capacity: number = HISTORY_CAPACITY): number {
  let hash = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < jobId.length; i += 1) {
    hash ^= jobId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % capacity;
}

function roundTenth(value: number): number {
  return Math.round(value * 10) / 10;
}

/**
 * The observations of generations a check saw queued, on the clock of their last `queued`
 * check: `(after - q, by - q]`, or still running at `after - q`. A generation seen queued by the
 * check that recorded it has no time left to teach yet (running at 0): left out.
 */
export function afterQueue(history: CompletionHistory): CompletionObservation[] {
  const shifted: CompletionObservation[] = [];
  for (const o of history.observations) {
    const q = o.queuedSeconds;
    if (q === undefined || !Number.isFinite(q) || q <= 0 || o.afterSeconds < q) continue;
    shifted.push({
      afterSeconds: roundTenth(o.afterSeconds - q),
      ...(o.bySeconds === undefined ? {} : { bySeconds: roundTenth(o.bySeconds - q) }),
      ...(o.atSeconds === undefined ? {} : { atSeconds: o.atSeconds }),
    });
  }
  return shifted;
}
