/**
 * The console's overview: `vidflow stats` over a window (the same index queries and figures),
 * plus what the charts draw from the same jobs: credits per UTC day and a turnaround histogram.
 */

import { parseDuration } from '../../cli/commands/jobs.js';
import {
  creditsOf,
  type JobStats,
  jobsInWindow,
  summarizeJobs,
  turnaroundSecondsOf,
} from '../../cli/commands/stats.js';
import type { CliContext } from '../../cli/context.js';
import { JobStatus } from '../../functions/domain/job.js';

export interface Overview extends JobStats {
  /** One entry per UTC day of the window, oldest first. */
  readonly creditsByDay: readonly { readonly day: string; readonly credits: number }[];
  /** Completed jobs by turnaround, in buckets of `bucketSeconds`. */
  readonly turnaroundHistogram: {
    readonly bucketSeconds: number;
    readonly counts: readonly number[];
  };
}

/** Histogram buckets; the bucket width is chosen so the slowest job lands in the last one. */
const HISTOGRAM_BUCKETS = 12;

/**
 * @throws CliError (exit code 2) for a window that is not a duration like 24h.
 */
export async function collectOverview(ctx: CliContext, since: string): Promise<Overview> {
  const { since: from, until, jobs } = await jobsInWindow(ctx, parseDuration(since));
  const stats = summarizeJobs(jobs, from, until);
  const days = new Map<string, number>();
  for (
    let day = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate());
    day <= until.getTime();
    day += 86_400_000
  ) {
    days.set(new Date(day).toISOString().slice(0, 10), 0);
  }
  const turnarounds: number[] = [];
  for (const job of jobs) {
    const day = job.statusChangedAt.slice(0, 10);
    days.set(day, (days.get(day) ?? 0) + creditsOf(job));
    if (job.status === JobStatus.completed && job.completedAt !== undefined) {
      turnarounds.push(turnaroundSecondsOf(job, job.completedAt));
    }
  }
  const slowest = Math.max(0, ...turnarounds);
  const bucketSeconds = Math.max(1, Math.ceil(slowest / HISTOGRAM_BUCKETS));
  const counts = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  for (const seconds of turnarounds) {
    const index = Math.min(HISTOGRAM_BUCKETS - 1, Math.floor(seconds / bucketSeconds));
    counts[index] = (counts[index] ?? 0) + 1;
  }
  return {
    ...stats,
    creditsByDay: [...days.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([day, credits]) => ({ day, credits })),
    turnaroundHistogram: { bucketSeconds, counts },
  };
}
