/**
 * A job's ETA (docs/polling.md): the median and 90th percentile of its completion time given
 * the time already elapsed, from the polling policy's estimate, and the record fields that carry
 * them while the job is in flight. Pure.
 */
import { type CompletionEstimate, conditionalQuantile } from './completion-estimate.js';

/** When a job in flight will likely be done, in seconds from its submission. */
export interface CompletionForecast {
  /** The median of the completion time given the time elapsed. */
  readonly medianSeconds: number;
  /** Its 90th percentile. */
  readonly p90Seconds: number;
}

/**
 * The ETA from an estimate: its median and 90th percentile given the job was unfinished after
 * `elapsedSeconds` (NaN or negative: from submission). Pure; throws nothing.
 */
export function etaOf(estimate: CompletionEstimate, elapsedSeconds: number): CompletionForecast {
  const elapsed = Number.isFinite(elapsedSeconds) ? Math.max(0, elapsedSeconds) : 0;
  return {
    medianSeconds: conditionalQuantile(estimate, elapsed, 0.5),
    p90Seconds: conditionalQuantile(estimate, elapsed, 0.9),
  };
}

/** A job record's ETA fields (absent once the job ended). */
export interface EtaFields {
  readonly expectedCompletionAt?: string;
  readonly expectedCompletionP90At?: string;
}

/** The record's ETA fields for a job submitted at `submittedAt`; none when it cannot be placed in time. */
export function etaFields(submittedAt: string | undefined, forecast: CompletionForecast): EtaFields {
  const submitted = submittedAt === undefined ? Number.NaN : Date.parse(submittedAt);
  const at = (seconds: number) =>
    Number.isFinite(submitted + seconds * 1000)
      ? new Date(submitted + Math.round(seconds * 1000)).toISOString()
      : undefined;
  const median = at(forecast.medianSeconds);
  const p90 = at(forecast.p90Seconds);
  return {
    ...(median === undefined ? {} : { expectedCompletionAt: median }),
    ...(p90 === undefined ? {} : { expectedCompletionP90At: p90 }),
  };
}
