/**
 * `vidflow submit`, `status` and `list`.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { videoContentType } from '../../functions/domain/drops.js';
import { deriveJobId, isTerminal, type Job, JobStatus } from '../../functions/domain/job.js';
import { type CliContext, CliError } from '../context.js';
import { describeJob, printJson, printTable, publicJob } from '../format.js';

export interface SubmitOptions {
  readonly prompt: string;
  readonly key?: string;
  readonly frameSize?: string;
  readonly seed?: string;
  readonly wait?: boolean;
  readonly json?: boolean;
  readonly timeoutSeconds?: number;
}

/** Upload a file with its parameters as metadata; print the job id; with `wait`, follow it. */
export async function submitFile(ctx: CliContext, file: string, options: SubmitOptions): Promise<number> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined || !info.isFile()) throw new CliError(`no such file: ${file}`);
  const key = options.key ?? basename(file);
  const bucket = ctx.endpoints.inputBucket;
  await ctx.s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: await readFile(file),
      ContentType: videoContentType({ key, contentType: '' }),
      Metadata: {
        prompt: encodeURIComponent(options.prompt),
        ...(options.frameSize ? { 'frame-size': options.frameSize } : {}),
        ...(options.seed ? { seed: options.seed } : {}),
      },
    }),
  );
  const head = await ctx.objects.head({ bucket, key });
  if (head === undefined) throw new CliError(`the upload of ${key} vanished`);
  const jobId = deriveJobId({
    bucket,
    key,
    eTag: head.eTag,
    lastModified: head.lastModified,
    ...(head.versionId ? { versionId: head.versionId } : {}),
  });
  if (!options.wait) {
    if (options.json) printJson({ jobId, bucket, key });
    else process.stdout.write(`${jobId}\n`);
    return 0;
  }
  process.stderr.write(`uploaded s3://${bucket}/${key} as job ${jobId}\n`);
  const job = await waitForJob(ctx, jobId, options.timeoutSeconds ?? 1800);
  if (options.json) printJson(publicJob(job));
  else process.stdout.write(`${describeJob(job)}\n`);
  return job.status === JobStatus.completed ? 0 : 1;
}

/** Follow a job until it ends, printing each change of status. */
export async function waitForJob(ctx: CliContext, jobId: string, timeoutSeconds: number): Promise<Job> {
  const started = Date.now();
  let last = '';
  for (;;) {
    const job = await ctx.jobs.get(jobId);
    const line = job
      ? `${job.status}${job.providerStatus ? ` (${job.providerStatus})` : ''}, ${job.pollCount} polls`
      : 'waiting for the upload to be seen';
    if (line !== last) {
      process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
      last = line;
    }
    if (job !== undefined && (isTerminal(job.status) || job.status === JobStatus.awaitingPrompt)) return job;
    if (Date.now() - started > timeoutSeconds * 1000)
      throw new CliError(`job ${jobId} did not end in ${timeoutSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function showStatus(
  ctx: CliContext,
  jobId: string,
  options: { json?: boolean },
): Promise<number> {
  const job = await ctx.jobs.get(jobId);
  if (job === undefined) throw new CliError(`no job ${jobId}`);
  if (options.json) printJson(publicJob(job));
  else process.stdout.write(`${describeJob(job)}\n`);
  return 0;
}

export interface ListOptions {
  readonly status?: string;
  readonly since?: string;
  readonly source?: string;
  readonly limit?: number;
  readonly json?: boolean;
}

/** Jobs newest first, each query on an index (never a scan). */
export async function listJobs(ctx: CliContext, options: ListOptions): Promise<number> {
  const limit = options.limit ?? 50;
  let jobs: Job[];
  if (options.source !== undefined) {
    jobs = [...(await ctx.jobs.listBySource(ctx.endpoints.inputBucket, options.source))];
  } else {
    const since = new Date(Date.now() - parseDuration(options.since ?? '24h'));
    const statuses = options.status ? [parseStatus(options.status)] : Object.values(JobStatus);
    jobs = [];
    for (const status of statuses) jobs.push(...(await ctx.jobs.listByStatus(status, { since, limit })));
    jobs.sort((a, b) => b.statusChangedAt.localeCompare(a.statusChangedAt));
  }
  jobs = jobs.slice(0, limit);
  if (options.json) {
    printJson(jobs.map(publicJob));
    return 0;
  }
  printTable(
    jobs.map((job) => [
      job.jobId,
      job.status,
      job.statusChangedAt.slice(0, 19).replace('T', ' '),
      job.source.key,
      job.error?.code ?? '',
    ]),
    ['JOB', 'STATUS', 'SINCE (UTC)', 'SOURCE', 'ERROR'],
  );
  return 0;
}

function parseStatus(value: string): JobStatus {
  const status = Object.values(JobStatus).find((candidate) => candidate === value.toUpperCase());
  if (status === undefined)
    throw new CliError(`unknown status ${value}; one of ${Object.values(JobStatus).join(', ')}`);
  return status;
}

/** `90s`, `15m`, `24h`, `7d` -> milliseconds. */
export function parseDuration(value: string): number {
  const match = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (match === null) throw new CliError(`"${value}" is not a duration like 90s, 15m, 24h or 7d`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
