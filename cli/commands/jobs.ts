/**
 * `vidflow submit`, `status` and `list`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { videoContentType, videoDropKeyProblem } from '../../functions/domain/drops.js';
import { InputRejectedError } from '../../functions/domain/errors.js';
import { deriveJobId, type Job, JobStatus } from '../../functions/domain/job.js';
import { parseMetadataParams, validateRequest } from '../../functions/domain/params.js';
import { type CliContext, CliError, ExitCode } from '../context.js';
import { describeJob, printJson, printTable, publicJob, shortTime } from '../format.js';
import { followJob } from './watch.js';

export interface SubmitOptions {
  readonly prompt: string;
  readonly key?: string;
  readonly frameSize?: string;
  readonly seed?: string;
  readonly wait?: boolean;
  readonly json?: boolean;
  readonly timeoutSeconds?: number;
}

/**
 * The S3 user metadata `submit` uploads with, after checking it and the key with the pipeline's
 * own rules (the submit function reads the same metadata with the same functions), so an upload
 * that could not become a job is never made.
 *
 * @throws CliError (exit code 2) naming the rule broken: a key that would start no job, a prompt,
 * frame size or seed the provider refuses.
 */
export function submissionMetadata(
  key: string,
  options: Pick<SubmitOptions, 'prompt' | 'frameSize' | 'seed' | 'key'>,
): Record<string, string> {
  const keyProblem = videoDropKeyProblem(key);
  if (keyProblem !== undefined) {
    throw new CliError(`${keyProblem}${options.key === undefined ? ' (set another with --key)' : ''}`, 2);
  }
  const metadata: Record<string, string> = {
    prompt: encodeURIComponent(options.prompt),
    ...(options.frameSize !== undefined ? { 'frame-size': options.frameSize } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  };
  try {
    validateRequest(parseMetadataParams(metadata));
  } catch (error) {
    if (error instanceof InputRejectedError) {
      throw new CliError(`${error.message} (${error.code}); nothing was uploaded`, 2, { cause: error });
    }
    throw error;
  }
  return metadata;
}

/** A video to upload into the input bucket, with its parameters (sent as S3 metadata). */
export interface VideoUpload {
  readonly key: string;
  readonly body: PutObjectCommandInput['Body'];
  readonly contentLength: number;
  readonly prompt: string;
  readonly frameSize?: string;
  readonly seed?: string;
  /** How long to wait for the job of a re-upload within one second to appear. @default 1800 */
  readonly timeoutSeconds?: number;
}

/**
 * Upload a video with its parameters as metadata (as `submit` does); the job id its upload
 * triggers. Used by `submit` and the console.
 * @throws CliError when the upload is not there right after.
 */
export async function uploadVideo(
  ctx: CliContext,
  upload: VideoUpload,
): Promise<{ readonly jobId: string; readonly bucket: string; readonly key: string }> {
  const { key } = upload;
  const metadata = submissionMetadata(key, upload);
  const bucket = ctx.target.inputBucket;
  // The jobs of the key before this upload: a job not among them is this upload's (see jobIdOfUpload).
  const before = new Set((await ctx.jobs.listBySource(bucket, key)).map((job) => job.jobId));
  await ctx.clients.s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: upload.body,
      ContentLength: upload.contentLength,
      ContentType: videoContentType({ key, contentType: '' }),
      Metadata: metadata,
    }),
  );
  const head = await ctx.objects.head({ bucket, key });
  if (head === undefined) throw new CliError(`the upload of ${key} vanished`);
  const jobId = await jobIdOfUpload(ctx, {
    bucket,
    key,
    eTag: head.eTag,
    lastModified: head.lastModified,
    ...(head.versionId ? { versionId: head.versionId } : {}),
    before,
    timeoutSeconds: upload.timeoutSeconds ?? 1800,
  });
  return { jobId, bucket, key };
}

/**
 * Upload a file with its parameters as metadata; print the job id; with `wait`, follow it.
 *
 * @returns 0 when uploaded (with `wait`: when the job completed), 1 when the job did not
 * complete, {@link ExitCode.timedOut} when `timeoutSeconds` passed first.
 * @throws CliError for a missing file or parameters the pipeline would refuse (nothing uploaded).
 */
export async function submitFile(ctx: CliContext, file: string, options: SubmitOptions): Promise<number> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined || !info.isFile()) throw new CliError(`no such file: ${file}`);
  const uploadKey = options.key ?? basename(file);
  // Checked before anything is read or sent, with the --key hint only the CLI can give.
  submissionMetadata(uploadKey, options);
  const { jobId, bucket, key } = await uploadVideo(ctx, {
    key: uploadKey,
    body: createReadStream(file),
    contentLength: info.size,
    prompt: options.prompt,
    ...(options.frameSize ? { frameSize: options.frameSize } : {}),
    ...(options.seed ? { seed: options.seed } : {}),
    ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
  });
  if (!options.wait) {
    if (options.json) printJson(ctx.out.stdout, { jobId, bucket, key });
    else ctx.out.stdout.write(`${jobId}\n`);
    return 0;
  }
  ctx.out.stderr.write(`uploaded s3://${bucket}/${key} as job ${jobId}\n`);
  const job = await followJob(ctx, jobId, {
    progress: ctx.out.stderr,
    awaitRecord: true,
    timeoutSeconds: options.timeoutSeconds ?? 1800,
  });
  if (job === undefined) return ExitCode.timedOut;
  if (options.json) printJson(ctx.out.stdout, publicJob(job));
  else ctx.out.stdout.write(`${describeJob(job)}\n`);
  return job.status === JobStatus.completed ? 0 : 1;
}

const UPLOAD_POLL_INTERVAL_MS = 500;

/**
 * The job id of the upload just made, from its HEAD (docs/architecture.md "Job identity"): its
 * version id names it in a versioned bucket; otherwise `eTag@lastModified` does, unless that id
 * already named a job before this upload (the same bytes written to the key within the same
 * second). Then this upload's job is named by its event's sequencer, which a client never sees:
 * it is the key's first job of these bytes that was not there before the upload.
 *
 * @throws CliError when no such job appears within `timeoutSeconds`.
 */
async function jobIdOfUpload(
  ctx: CliContext,
  upload: Parameters<typeof deriveJobId>[0] & {
    readonly before: ReadonlySet<string>;
    readonly timeoutSeconds: number;
  },
): Promise<string> {
  const named = deriveJobId(upload);
  if (upload.versionId !== undefined || !upload.before.has(named)) return named;
  const deadline = Date.now() + upload.timeoutSeconds * 1000;
  for (;;) {
    const jobs = await ctx.jobs.listBySource(upload.bucket, upload.key);
    const fresh = jobs.filter((job) => !upload.before.has(job.jobId) && job.source.eTag === upload.eTag);
    const oldest = fresh.at(-1);
    if (oldest !== undefined) return oldest.jobId;
    if (Date.now() > deadline) {
      throw new CliError(`the upload of ${upload.key} was not seen within ${upload.timeoutSeconds} s`);
    }
    await sleep(UPLOAD_POLL_INTERVAL_MS);
  }
}

export async function showStatus(
  ctx: CliContext,
  jobId: string,
  options: { readonly json?: boolean },
): Promise<number> {
  const job = await getJob(ctx, jobId);
  if (options.json) printJson(ctx.out.stdout, publicJob(job));
  else ctx.out.stdout.write(`${describeJob(job)}\n`);
  return 0;
}

/**
 * The record of a job.
 * @throws CliError naming the unknown id.
 */
export async function getJob(ctx: CliContext, jobId: string): Promise<Job> {
  const job = await ctx.jobs.get(jobId);
  if (job === undefined)
    throw new CliError(`no job ${jobId} in ${ctx.target.description} (see \`vidflow list\`)`);
  return job;
}

export interface ListOptions {
  readonly status?: string;
  /** A duration (`24h`); @default 24h */
  readonly since?: string;
  /** Only jobs that entered their status before this instant (the next page). */
  readonly before?: string;
  /** An input key (every job of it, any age), else a key prefix (within `since`). */
  readonly source?: string;
  /** @default 50 */
  readonly limit?: number;
  readonly json?: boolean;
}

export const DEFAULT_LIST_LIMIT = 50;

/**
 * Jobs newest first (by when they entered their status). Every read is an index query:
 * `byStatus` per status and day of the window, or `bySource` for one key.
 */
export async function listJobs(ctx: CliContext, options: ListOptions): Promise<number> {
  const { jobs, more } = await queryJobs(ctx, options);
  const last = jobs.at(-1);
  if (options.json) printJson(ctx.out.stdout, jobs.map(publicJob));
  else if (jobs.length === 0) ctx.out.stderr.write('no jobs match\n');
  else {
    printTable(
      ctx.out.stdout,
      jobs.map((job) => [
        job.jobId,
        job.status,
        shortTime(job.statusChangedAt),
        job.source.key,
        job.request?.model ?? '-',
        job.error?.code ?? '',
      ]),
      ['JOB', 'STATUS', 'SINCE (UTC)', 'SOURCE', 'MODEL', 'ERROR'],
    );
  }
  if (more && last !== undefined) {
    ctx.out.stderr.write(`more jobs: add --before ${last.statusChangedAt} for the next page\n`);
  }
  return 0;
}

/**
 * The page of jobs `list` shows (see {@link listJobs}) and whether more follow it (the next page
 * is `before` the last one's `statusChangedAt`). Used by `list` and the console.
 * @throws CliError (exit code 2) for a bad status, duration or time.
 */
export async function queryJobs(
  ctx: CliContext,
  options: Omit<ListOptions, 'json'>,
): Promise<{ readonly jobs: readonly Job[]; readonly more: boolean }> {
  const limit = options.limit ?? DEFAULT_LIST_LIMIT;
  const status = options.status === undefined ? undefined : parseStatus(options.status);
  const until = options.before === undefined ? ctx.clock.now() : beforeInstant(options.before);
  let jobs: Job[] = [];
  let bySource = false;
  if (options.source !== undefined) {
    const ofKey = await ctx.jobs.listBySource(ctx.target.inputBucket, options.source);
    if (ofKey.length > 0) {
      bySource = true;
      const since =
        options.since === undefined ? undefined : new Date(until.getTime() - parseDuration(options.since));
      jobs = ofKey.filter(
        (job) =>
          (status === undefined || job.status === status) &&
          job.statusChangedAt <= until.toISOString() &&
          (since === undefined || job.statusChangedAt >= since.toISOString()),
      );
    }
  }
  if (!bySource) {
    const since = new Date(until.getTime() - parseDuration(options.since ?? '24h'));
    const prefix = options.source;
    // One index query per status, side by side: the list waits for the slowest, not the sum.
    const perStatus = await Promise.all(
      (status === undefined ? Object.values(JobStatus) : [status]).map((each) =>
        ctx.jobs.listByStatus(each, {
          since,
          until,
          // With a prefix the filter runs after the query, so the window is read whole.
          ...(prefix === undefined ? { limit: limit + 1 } : {}),
        }),
      ),
    );
    for (const found of perStatus) {
      jobs.push(...(prefix === undefined ? found : found.filter((job) => job.source.key.startsWith(prefix))));
    }
  }
  jobs.sort((a, b) => b.statusChangedAt.localeCompare(a.statusChangedAt));
  const more = jobs.length > limit;
  return { jobs: jobs.slice(0, limit), more };
}

export function parseStatus(value: string): JobStatus {
  const status = Object.values(JobStatus).find((candidate) => candidate === value.toUpperCase());
  if (status === undefined)
    throw new CliError(`unknown status ${value}; one of ${Object.values(JobStatus).join(', ')}`, 2);
  return status;
}

/** The longest window `--since` accepts: every listing and count reads one index partition per day. */
export const MAX_WINDOW_DAYS = 366;

/**
 * A duration such as `90s`, `15m`, `24h` or `7d`, in milliseconds, at most {@link MAX_WINDOW_DAYS}.
 * @throws CliError (exit code 2) for anything else.
 */
export function parseDuration(value: string): number {
  const match = /^(\d+)\s*([smhd])$/.exec(value.trim());
  if (match === null) throw new CliError(`"${value}" is not a duration like 90s, 15m, 24h or 7d`, 2);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  const ms = Number(match[1]) * unit;
  if (!(ms <= MAX_WINDOW_DAYS * 86_400_000)) {
    throw new CliError(`"${value}" is longer than the longest window, ${MAX_WINDOW_DAYS}d`, 2);
  }
  return ms;
}

/** `--before` is exclusive: the instant one millisecond earlier. */
function beforeInstant(value: string): Date {
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new CliError(`"${value}" is not an ISO 8601 time`, 2);
  return new Date(at - 1);
}
