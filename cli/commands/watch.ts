/**
 * `vidflow watch [jobId]` (and the progress of `submit --wait`): follow jobs until they end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import cliTruncate from 'cli-truncate';
import { isTerminal, type Job, JobStatus, WaitReason } from '../../functions/domain/job.js';
import { type CliContext, CliError } from '../context.js';
import { createLiveDisplay } from '../eta-bar.js';
import { formatElapsed, printJsonLine, publicJob, type TextSink } from '../format.js';
import { untilInterrupted } from '../interrupt.js';
import type { LiveEntry } from '../progress.js';

/** How often a followed job record is read. */
const POLL_INTERVAL_MS = 500;

/** The statuses `watch` without a job id follows (a job awaiting its prompt may wait for days). */
const MOVING_STATUSES = [JobStatus.submitted, JobStatus.generating, JobStatus.copying] as const;

export interface FollowOptions {
  /** Where the human progress goes; `undefined` for none. */
  readonly progress?: TextSink;
  /** Print the public record as one JSON line on stdout at each change. */
  readonly jsonLines?: boolean;
  /** Give up after this long (a message on stderr; the result is then `undefined`). */
  readonly timeoutSeconds?: number;
  /** Wait for the record to appear (right after an upload) rather than fail at once. */
  readonly awaitRecord?: boolean;
}

/**
 * Follow one job until it is terminal.
 * @returns the terminal record, or `undefined` when `timeoutSeconds` passed first.
 * @throws CliError for an unknown job id (unless `awaitRecord`).
 */
export async function followJob(
  ctx: CliContext,
  jobId: string,
  options: FollowOptions,
): Promise<Job | undefined> {
  const started = Date.now();
  const lines = options.progress === undefined ? undefined : createLiveDisplay(options.progress);
  let lastSignature = '';
  try {
    for (;;) {
      const job = await ctx.jobs.get(jobId);
      const now = ctx.clock.now();
      if (job === undefined) {
        if (!options.awaitRecord) throw new CliError(`no job ${jobId} (check the id with \`vidflow list\`)`);
        const waiting = {
          key: jobId,
          text: `${jobId}  waiting for the upload to be seen`,
          signature: 'none',
        };
        lines?.render([waiting], new Map(), now);
      } else {
        const entry = progressEntry(job, now);
        if (isTerminal(job.status)) lines?.log(jobId, entry.text);
        else lines?.render([entry], new Map([[jobId, job]]), now);
        if (options.jsonLines && entry.signature !== lastSignature)
          printJsonLine(ctx.out.stdout, publicJob(job));
        lastSignature = entry.signature;
        if (isTerminal(job.status)) return job;
      }
      if (options.timeoutSeconds !== undefined && Date.now() - started > options.timeoutSeconds * 1000) {
        ctx.out.stderr.write(
          `vidflow: job ${jobId} did not end within ${options.timeoutSeconds} s; it is still running (\`vidflow watch ${jobId}\` follows it)\n`,
        );
        return undefined;
      }
      await sleep(POLL_INTERVAL_MS);
    }
  } finally {
    lines?.stop();
  }
}

export interface WatchOptions {
  readonly json?: boolean;
  /** Without a job id: keep watching for new jobs instead of ending when none is in flight. */
  readonly follow?: boolean;
  /** Without a job id: how far back in-flight jobs are looked for, in ms. */
  readonly lookbackMs: number;
}

/** `vidflow watch <jobId>`: exit code 0 only if the job completes. */
export async function watchJob(ctx: CliContext, jobId: string, options: WatchOptions): Promise<number> {
  const job = await followJob(ctx, jobId, options.json ? { jsonLines: true } : { progress: ctx.out.stdout });
  return job?.status === JobStatus.completed ? 0 : 1;
}

/**
 * `vidflow watch`: every job in flight (submitted, generating, copying), until none is left
 * (or, with `follow`, until Ctrl-C). Ended jobs get a last line. Exit code 0.
 */
export async function watchAll(ctx: CliContext, options: WatchOptions): Promise<number> {
  const lines = createLiveDisplay(ctx.out.stdout);
  const tracked = new Map<string, Job>();
  const ended = new Map<string, JobStatus>();
  return untilInterrupted(async (stopped) => {
    let first = true;
    while (!stopped()) {
      const now = ctx.clock.now();
      const since = new Date(now.getTime() - options.lookbackMs);
      const moving = new Map<string, Job>();
      for (const status of MOVING_STATUSES) {
        for (const job of await ctx.jobs.listByStatus(status, { since })) moving.set(job.jobId, job);
      }
      for (const jobId of tracked.keys()) {
        if (moving.has(jobId)) continue;
        tracked.delete(jobId);
        const last = await ctx.jobs.get(jobId);
        if (last === undefined) continue;
        ended.set(jobId, last.status);
        if (options.json) printJsonLine(ctx.out.stdout, publicJob(last));
        else lines.log(jobId, progressEntry(last, now).text);
      }
      for (const [jobId, job] of moving) {
        const previous = tracked.get(jobId);
        tracked.set(jobId, job);
        if (options.json && (previous === undefined || signatureOf(previous) !== signatureOf(job))) {
          printJsonLine(ctx.out.stdout, publicJob(job));
        }
      }
      const sorted = [...tracked.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      if (!options.json)
        lines.render(
          sorted.map((job) => progressEntry(job, now)),
          tracked,
          now,
        );
      if (tracked.size === 0 && !options.follow) {
        if (first && !options.json) ctx.out.stderr.write('no jobs in flight\n');
        else if (!options.json) ctx.out.stdout.write(`${watchSummary(ended)}\n`);
        return 0;
      }
      first = false;
      await sleep(POLL_INTERVAL_MS);
    }
    // Ctrl-C during --follow: the summary of what was seen.
    if (!options.json) ctx.out.stdout.write(`${watchSummary(ended)}\n`);
    return 0;
  }).finally(() => lines.stop());
}

function signatureOf(job: Job): string {
  return [job.status, job.providerStatus ?? '', job.pollCount, job.attempt].join('|');
}

/** How much of a prompt a progress line shows, in terminal cells. */
const PROMPT_CELLS = 40;

/**
 * One job's progress line:
 * `<jobId>  <input key>  "<prompt>"  GENERATING  provider: generating  3 polls  12.4s` and,
 * once ended, where it went or why it failed. The signature (what must change for a pipe to
 * get a new line) leaves out the elapsed time. Extend the line here: `watch`, `watch <jobId>`
 * and `submit --wait` all draw it.
 */
export function progressEntry(job: Job, now: Date): LiveEntry {
  const elapsedMs = Date.parse(job.completedAt ?? now.toISOString()) - Date.parse(job.createdAt);
  const prompt = job.request?.prompt;
  const parts = [
    job.jobId,
    job.source.key,
    ...(prompt === undefined ? [] : [`"${cliTruncate(oneLine(prompt), PROMPT_CELLS, { position: 'end' })}"`]),
    job.status,
  ];
  if (job.attempt > 1) parts.push(`attempt ${job.attempt}`);
  if (job.providerStatus !== undefined && !isTerminal(job.status))
    parts.push(`provider: ${job.providerStatus}`);
  parts.push(`${job.pollCount} ${job.pollCount === 1 ? 'poll' : 'polls'}`);
  const signature = parts.join('  ');
  const tail: string[] = [formatElapsed(elapsedMs)];
  if (job.output !== undefined) tail.push(`-> s3://${job.output.bucket}/${job.output.key}`);
  if (job.error !== undefined) tail.push(`${job.error.code}: ${job.error.message}`);
  if (job.status === JobStatus.awaitingPrompt) tail.push('(waiting for a prompt: add a sidecar or preset)');
  if (job.status === JobStatus.waiting) {
    tail.push(
      job.waitingFor === WaitReason.budget
        ? "(waiting for room in today's credit budget)"
        : '(waiting for an in-flight slot)',
    );
  }
  return { key: job.jobId, text: `${signature}  ${tail.join('  ')}`, signature };
}

/** Line breaks and tabs in a prompt would break the one-line-per-job display. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `watch`'s last line: how the jobs it saw end ended, e.g. `3 jobs ended: 2 COMPLETED, 1 FAILED`. */
export function watchSummary(ended: ReadonlyMap<string, JobStatus>): string {
  if (ended.size === 0) return 'no job ended while watching';
  const counts = new Map<JobStatus, number>();
  for (const status of ended.values()) counts.set(status, (counts.get(status) ?? 0) + 1);
  const byStatus = [...counts.entries()]
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([status, count]) => `${count} ${status}`);
  return `${ended.size} ${ended.size === 1 ? 'job' : 'jobs'} ended: ${byStatus.join(', ')}`;
}
