/**
 * `vidflow stats [--since 24h]`: jobs per status, credits used and turnaround over a window.
 * A job counts in the status it is in now, if it entered that status within the window; every
 * read is a `byStatus` index query (one per status and day).
 */
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { type CliContext, CliError } from '../context.js';
import { formatElapsed, printJson, printTable } from '../format.js';
import { parseDuration } from './jobs.js';

export interface JobStats {
  readonly since: string;
  readonly until: string;
  readonly jobs: number;
  readonly byStatus: Readonly<Record<JobStatus, number>>;
  /** Provider credits of every attempt of the jobs counted. */
  readonly creditsUsed: number;
  /** `createdAt` -> `completedAt` of the completed jobs, in seconds; null without any. */
  readonly turnaroundSeconds: {
    readonly completed: number;
    readonly p50: number | null;
    readonly p95: number | null;
  };
  /**
   * With `--by model`: jobs, credits used and completions per model (`-` for jobs that never got
   * a request: rejected before validation, or waiting for a prompt).
   */
  readonly byModel?: Readonly<
    Record<string, { readonly jobs: number; readonly creditsUsed: number; readonly completed: number }>
  >;
}

export async function showStats(
  ctx: CliContext,
  options: { readonly since?: string; readonly json?: boolean; readonly by?: string },
): Promise<number> {
  if (options.by !== undefined && options.by !== 'model') {
    throw new CliError(`--by takes "model", got "${options.by}"`, 2);
  }
  const since = options.since ?? '24h';
  const stats = await collectStats(ctx, parseDuration(since), { byModel: options.by === 'model' });
  if (options.json) {
    printJson(ctx.out.stdout, stats);
    return 0;
  }
  const out = ctx.out.stdout;
  out.write(`jobs in the last ${since} (since ${stats.since}): ${stats.jobs}\n\n`);
  printTable(
    out,
    Object.values(JobStatus).map((status) => [status, String(stats.byStatus[status])]),
    ['STATUS', 'JOBS'],
  );
  const { p50, p95, completed } = stats.turnaroundSeconds;
  out.write(`\ncredits used  ${stats.creditsUsed}\n`);
  out.write(
    p50 === null || p95 === null
      ? 'turnaround    no completed jobs\n'
      : `turnaround    p50 ${formatElapsed(p50 * 1000)}  p95 ${formatElapsed(p95 * 1000)}  (${completed} completed)\n`,
  );
  if (stats.byModel !== undefined) {
    out.write('\n');
    printTable(
      out,
      Object.entries(stats.byModel).map(([model, figures]) => [
        model,
        String(figures.jobs),
        String(figures.completed),
        String(figures.creditsUsed),
      ]),
      ['MODEL', 'JOBS', 'COMPLETED', 'CREDITS'],
    );
  }
  return 0;
}

/**
 * The jobs `stats` counts: those that entered their current status within the window ending now
 * (one `byStatus` query per status and day). Used by `stats` and the console's overview.
 */
export async function jobsInWindow(
  ctx: CliContext,
  windowMs: number,
): Promise<{ readonly since: Date; readonly until: Date; readonly jobs: readonly Job[] }> {
  const until = ctx.clock.now();
  const since = new Date(until.getTime() - windowMs);
  const jobs: Job[] = [];
  for (const status of Object.values(JobStatus)) {
    jobs.push(...(await ctx.jobs.listByStatus(status, { since, until })));
  }
  return { since, until, jobs };
}

export async function collectStats(
  ctx: CliContext,
  windowMs: number,
  options: { readonly byModel?: boolean } = {},
): Promise<JobStats> {
  const { since, until, jobs: found } = await jobsInWindow(ctx, windowMs);
  return summarizeJobs(found, since, until, options);
}

/** The `stats` figures of jobs found by {@link jobsInWindow}. */
export function summarizeJobs(
  found: readonly Job[],
  since: Date,
  until: Date,
  options: { readonly byModel?: boolean } = {},
): JobStats {
  const byStatus = Object.fromEntries(Object.values(JobStatus).map((status) => [status, 0])) as Record<
    JobStatus,
    number
  >;
  let creditsUsed = 0;
  let jobs = 0;
  const turnarounds: number[] = [];
  const byModel: Record<string, { jobs: number; creditsUsed: number; completed: number }> = {};
  for (const job of found) {
    jobs += 1;
    byStatus[job.status] += 1;
    creditsUsed += creditsOf(job);
    const modelId = job.request?.model ?? '-';
    const model = byModel[modelId] ?? { jobs: 0, creditsUsed: 0, completed: 0 };
    byModel[modelId] = model;
    model.jobs += 1;
    model.creditsUsed += creditsOf(job);
    if (job.status === JobStatus.completed) model.completed += 1;
    if (job.status === JobStatus.completed && job.completedAt !== undefined) {
      turnarounds.push(turnaroundSecondsOf(job, job.completedAt));
    }
  }
  turnarounds.sort((a, b) => a - b);
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    jobs,
    byStatus,
    creditsUsed,
    turnaroundSeconds: {
      completed: turnarounds.length,
      p50: percentile(turnarounds, 50),
      p95: percentile(turnarounds, 95),
    },
    ...(options.byModel ? { byModel } : {}),
  };
}

/** `createdAt` -> `completedAt`, in seconds. */
export function turnaroundSecondsOf(job: Job, completedAt: string): number {
  return (Date.parse(completedAt) - Date.parse(job.createdAt)) / 1000;
}

/** Provider credits of every attempt of a job. */
export function creditsOf(job: Job): number {
  return (job.attempts ?? []).reduce(
    (sum, attempt) => sum + (attempt.creditsUsed ?? 0),
    job.creditsUsed ?? 0,
  );
}

/** Nearest-rank percentile of sorted values, rounded to milliseconds; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  const value = sorted[Math.min(rank, sorted.length) - 1] ?? 0;
  return Math.round(value * 1000) / 1000;
}
