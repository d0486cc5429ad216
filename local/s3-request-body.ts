/**
 * PUT bodies staged whole before s3rver sees them: an `aws-chunked` body is decoded and verified
 * (length and trailing checksum), a plain one received to its last byte, so that a body that is
 * broken off or does not match its headers stores nothing, as on real S3.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder, createChecksum } from './s3-aws-chunked.js';
import { headerValue, type KoaContext, S3Error } from './s3-engine.js';

/**
 * When a PUT body is `aws-chunked` (`x-amz-content-sha256: STREAMING-...`), decodes it into a
 * staging file, verifies its length and trailing checksum, and hands the decoded body and
 * plain headers to s3rver. Returns the staging file's remover, or undefined for a plain body.
 */
export async function decodeAwsChunkedBody(
  ctx: KoaContext,
  stagingDir: string,
): Promise<(() => Promise<void>) | undefined> {
  const headers = ctx.headers;
  const encodings = headerValue(headers, 'content-encoding')
    .split(',')
    .map((encoding) => encoding.trim())
    .filter((encoding) => encoding !== '');
  if (
    !headerValue(headers, 'x-amz-content-sha256').startsWith('STREAMING-') &&
    !encodings.includes('aws-chunked')
  ) {
    return undefined;
  }
  const trailer = headerValue(headers, 'x-amz-trailer').toLowerCase();
  const checksum = createChecksum(trailer);
  const file = join(stagingDir, randomUUID());
  const decoder = new AwsChunkedDecoder((data) => checksum?.update(data));
  const remove = () => rm(file, { force: true });
  try {
    await pipeline(ctx.req, decoder, createWriteStream(file));
  } catch (error) {
    await remove();
    throw new S3Error('IncompleteBody', `Could not decode the aws-chunked request body: ${String(error)}`);
  }
  const declaredLength = headerValue(headers, 'x-amz-decoded-content-length');
  if (declaredLength !== '' && Number(declaredLength) !== decoder.decodedBytes) {
    await remove();
    throw new S3Error(
      'IncompleteBody',
      `x-amz-decoded-content-length is ${declaredLength} but the body holds ${decoder.decodedBytes} bytes.`,
    );
  }
  const sent = decoder.trailers.get(trailer);
  if (checksum !== undefined && sent !== undefined && sent !== checksum.digest()) {
    await remove();
    throw new S3Error('BadDigest', `The ${trailer} you specified did not match the calculated checksum.`);
  }
  const otherEncodings = encodings.filter((encoding) => encoding !== 'aws-chunked');
  if (otherEncodings.length > 0) headers['content-encoding'] = otherEncodings.join(',');
  else delete headers['content-encoding'];
  headers['content-length'] = String(decoder.decodedBytes);
  delete headers['transfer-encoding'];
  delete headers['x-amz-decoded-content-length'];
  delete headers['x-amz-trailer'];
  ctx.req = createReadStream(file);
  return remove;
}

/**
 * Receives a plain (not `aws-chunked`) PUT body whole into a staging file before s3rver sees it,
 * so a request whose client breaks off (aborts, resets, or dies) mid-body fails with
 * `IncompleteBody` and writes nothing, as on real S3. Returns the staging file's remover, or
 * undefined when the request has no body (e.g. a copy).
 */
export async function stagePlainBody(
  ctx: KoaContext,
  stagingDir: string,
  idleTimeoutMs: number,
): Promise<(() => Promise<void>) | undefined> {
  const headers = ctx.headers;
  const declared = headerValue(headers, 'content-length');
  const chunked = headerValue(headers, 'transfer-encoding') !== '';
  if (!chunked && (declared === '' || Number(declared) === 0)) return undefined;
  const file = join(stagingDir, randomUUID());
  const remove = () => rm(file, { force: true });
  const request = ctx.req;
  let received = 0;
  let idle = false;
  let timer: NodeJS.Timeout | undefined;
  const armTimer = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      idle = true;
      request.destroy(new Error(`no body bytes for ${idleTimeoutMs} ms`));
    }, idleTimeoutMs);
  };
  armTimer();
  try {
    await pipeline(
      request,
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          received += chunk.length;
          armTimer();
          callback(null, chunk);
        },
      }),
      createWriteStream(file),
    );
  } catch (error) {
    await remove();
    if (idle) {
      throw new S3Error(
        'RequestTimeout',
        `Your socket connection to the server was not read from or written to within the timeout period (${received} of ${declared || 'unknown'} bytes received).`,
      );
    }
    throw new S3Error('IncompleteBody', `The request body was not received whole: ${String(error)}`);
  } finally {
    clearTimeout(timer);
  }
  if (declared !== '' && Number(declared) !== received) {
    await remove();
    throw new S3Error(
      'IncompleteBody',
      `You did not provide the number of bytes specified by the Content-Length HTTP header (${declared}; received ${received}).`,
    );
  }
  ctx.req = createReadStream(file);
  return remove;
}
