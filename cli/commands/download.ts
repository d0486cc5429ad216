/**
 * `vidflow download <jobId> [dest]`: the edited video of a completed job, to a file or stdout.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { JobStatus } from '../../functions/domain/job.js';
import { type CliContext, CliError } from '../context.js';
import { printJson } from '../format.js';
import { getJob } from './jobs.js';

export interface DownloadOptions {
  readonly json?: boolean;
  /** Replace an existing file. */
  readonly force?: boolean;
}

export async function downloadOutput(
  ctx: CliContext,
  jobId: string,
  dest: string | undefined,
  options: DownloadOptions,
): Promise<number> {
  const job = await getJob(ctx, jobId);
  const output = job.output;
  if (job.status !== JobStatus.completed || output === undefined) {
    const hint =
      job.status === JobStatus.completed
        ? ''
        : job.error === undefined
          ? ' yet (`vidflow watch` follows it)'
          : ` (${job.error.code}: ${job.error.message})`;
    throw new CliError(`job ${jobId} is ${job.status}: there is no output to download${hint}`);
  }
  const toStdout = dest === '-';
  const path = toStdout ? '-' : await destinationPath(dest, `${jobId}.mp4`, options.force === true);

  const result = await ctx.clients.s3
    .send(new GetObjectCommand({ Bucket: output.bucket, Key: output.key }))
    .catch((error: unknown) => {
      if (error instanceof Error && error.name === 'NoSuchKey') {
        throw new CliError(`the output s3://${output.bucket}/${output.key} of job ${jobId} is gone`, 1, {
          cause: error,
        });
      }
      throw error;
    });
  if (!(result.Body instanceof Readable)) throw new CliError(`S3 returned no body for ${output.key}`);

  let bytes = 0;
  const counted = result.Body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  if (toStdout) {
    // Bytes, not text: straight to the process's stdout.
    await pipeline(counted, process.stdout, { end: false });
    return 0;
  }
  // Written beside the destination, renamed once complete: an interrupted download leaves no partial video.
  const partial = `${path}.part`;
  try {
    await pipeline(counted, createWriteStream(partial));
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  const source = `s3://${output.bucket}/${output.key}`;
  if (options.json) printJson(ctx.out.stdout, { jobId, path, bytes, source });
  else ctx.out.stdout.write(`saved ${source} to ${path} (${bytes} bytes)\n`);
  return 0;
}

async function destinationPath(dest: string | undefined, fileName: string, force: boolean): Promise<string> {
  let path = resolve(dest ?? fileName);
  const existing = await stat(path).catch(() => undefined);
  // A destination ending in a slash names a folder, as with cp: it must exist (a file named
  // after its last part would surprise), and the video goes inside it.
  if (dest !== undefined && /[/\\]$/.test(dest) && !existing?.isDirectory()) {
    throw new CliError(`${dest} is not an existing folder`);
  }
  if (existing?.isDirectory()) path = join(path, fileName);
  const file = existing?.isDirectory() ? await stat(path).catch(() => undefined) : existing;
  if (file !== undefined && !force) throw new CliError(`${path} exists; pass --force to replace it`);
  return path;
}
