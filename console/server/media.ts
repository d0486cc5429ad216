/**
 * The console's video proxy: a job's input or output streamed from S3 with HTTP range support,
 * so the browser can seek (it asks for the byte ranges around the new position).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { Job } from '../../functions/domain/job.js';
import { HttpError } from './http.js';

export type MediaKind = 'input' | 'output';

/** The S3 object behind a job's input or output. @throws HttpError 404 when the job has none. */
export function mediaObjectOf(
  job: Job,
  kind: MediaKind,
): { bucket: string; key: string; versionId?: string } {
  if (kind === 'input') {
    return {
      bucket: job.source.bucket,
      key: job.source.key,
      ...(job.source.versionId === undefined ? {} : { versionId: job.source.versionId }),
    };
  }
  if (job.output === undefined)
    throw new HttpError(404, `job ${job.jobId} has no output (it is ${job.status})`);
  return { bucket: job.output.bucket, key: job.output.key };
}

/**
 * Answer a GET (or HEAD) for the object with S3's own range handling: 206 with `Content-Range`
 * for a `Range` request, 200 otherwise; `download` adds `Content-Disposition: attachment`.
 * @throws HttpError 404 when the object is gone, 416 for a range outside it.
 */
export async function streamObject(
  s3: S3Client,
  object: { bucket: string; key: string; versionId?: string },
  request: IncomingMessage,
  response: ServerResponse,
  options: { readonly download?: string } = {},
): Promise<void> {
  const range = request.headers.range;
  let result: GetObjectCommandOutput;
  try {
    result = await s3.send(
      new GetObjectCommand({
        Bucket: object.bucket,
        Key: object.key,
        ...(object.versionId === undefined ? {} : { VersionId: object.versionId }),
        ...(typeof range === 'string' && /^bytes=\d*-\d*$/.test(range) ? { Range: range } : {}),
      }),
    );
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchVersion') {
      throw new HttpError(
        404,
        `s3://${object.bucket}/${object.key} no longer exists (it was deleted)`,
        'GONE',
      );
    }
    if (name === 'InvalidRange') throw new HttpError(416, 'the requested range is outside the video');
    throw error;
  }
  const headers: Record<string, string | number> = {
    'content-type': result.ContentType ?? 'video/mp4',
    'accept-ranges': 'bytes',
    'cache-control': 'private, max-age=60',
  };
  if (result.ContentLength !== undefined) headers['content-length'] = result.ContentLength;
  if (result.ContentRange !== undefined) headers['content-range'] = result.ContentRange;
  if (result.ETag !== undefined) headers.etag = result.ETag;
  if (options.download !== undefined) {
    headers['content-disposition'] = `attachment; filename="${options.download.replace(/["\\\r\n]/g, '_')}"`;
  }
  response.writeHead(result.ContentRange === undefined ? 200 : 206, headers);
  const body = result.Body as Readable | undefined;
  if (request.method === 'HEAD' || body === undefined) {
    body?.destroy();
    response.end();
    return;
  }
  body.on('error', () => response.destroy());
  response.on('close', () => body.destroy());
  body.pipe(response);
}
