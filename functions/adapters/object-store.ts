/**
 * The object store over S3: HEAD, ranged and small reads, presigned GETs and streaming uploads
 * in constant memory (one streamed PutObject when the length is known, else lib-storage multipart).
 */
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ObjectInfo, ObjectRef, ObjectStore, UploadedObject, UploadOptions } from '../domain/ports.js';

/** Multipart part size: S3's 5 MiB minimum would mean more requests for the same bytes. */
const PART_SIZE_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;
/** The largest object one PutObject may write. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 * 1024 * 1024;

export class S3ObjectStore implements ObjectStore {
  /**
   * @param inputUrls when given, `presignGet` of an object in `inputUrls.bucket` answers with its
   *   URL (CloudFront signed, answering HEAD and GET) instead of an S3 presigned GET.
   */
  constructor(
    private readonly s3: S3Client,
    private readonly inputUrls?: {
      readonly bucket: string;
      sign(ref: ObjectRef, expiresSeconds: number): Promise<string>;
    },
  ) {}

  async head(ref: ObjectRef): Promise<ObjectInfo | undefined> {
    try {
      const result = await this.s3.send(
        new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
      );
      return {
        size: result.ContentLength ?? 0,
        eTag: stripQuotes(result.ETag ?? ''),
        contentType: result.ContentType ?? 'application/octet-stream',
        lastModified: (result.LastModified ?? new Date(0)).toISOString(),
        ...(result.VersionId && result.VersionId !== 'null' ? { versionId: result.VersionId } : {}),
        metadata: lowerKeys(result.Metadata ?? {}),
      };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async readRange(ref: ObjectRef, start: number, endInclusive: number): Promise<Uint8Array> {
    const result = await this.s3.send(
      new GetObjectCommand({
        Bucket: ref.bucket,
        Key: ref.key,
        VersionId: ref.versionId,
        Range: `bytes=${start}-${endInclusive}`,
      }),
    );
    if (result.Body === undefined) return new Uint8Array();
    return result.Body.transformToByteArray();
  }

  async readText(
    ref: ObjectRef,
    maxBytes: number,
  ): Promise<{ readonly text: string; readonly size: number } | undefined> {
    try {
      const result = await this.s3.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          VersionId: ref.versionId,
          Range: `bytes=0-${maxBytes}`,
        }),
      );
      const size = totalSizeOf(result.ContentRange) ?? result.ContentLength ?? 0;
      const text = result.Body === undefined ? '' : await result.Body.transformToString('utf-8');
      return { text, size };
    } catch (error) {
      if (isMissing(error)) return undefined;
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 416)
        return { text: '', size: 0 };
      throw error;
    }
  }

  async listKeys(bucket: string, prefix: string, maxKeys: number): Promise<readonly string[]> {
    const result = await this.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: maxKeys }),
    );
    return (result.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key]));
  }

  async readAll(ref: ObjectRef): Promise<Uint8Array> {
    const result = await this.s3.send(
      new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key, VersionId: ref.versionId }),
    );
    if (result.Body === undefined) return new Uint8Array();
    return result.Body.transformToByteArray();
  }

  async presignGet(ref: ObjectRef, expiresSeconds: number, contentType?: string): Promise<string> {
    if (this.inputUrls !== undefined && ref.bucket === this.inputUrls.bucket) {
      return this.inputUrls.sign(ref, expiresSeconds);
    }
    const command = new GetObjectCommand({
      Bucket: ref.bucket,
      Key: ref.key,
      VersionId: ref.versionId,
      ResponseContentType: contentType,
    });
    return getSignedUrl(this.s3, command, { expiresIn: expiresSeconds });
  }

  async upload(ref: ObjectRef, body: Readable, options: UploadOptions): Promise<UploadedObject> {
    const { contentLength } = options;
    if (contentLength !== undefined && contentLength <= MAX_SINGLE_PUT_BYTES) {
      return this.putStream(ref, body, contentLength, options);
    }
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
    });
    const upload = new Upload({
      client: this.s3,
      params: {
        Bucket: ref.bucket,
        Key: ref.key,
        Body: body,
        ContentType: options.contentType,
        Metadata: options.metadata ? { ...options.metadata } : undefined,
      },
      partSize: PART_SIZE_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    const result = await upload.done();
    return { eTag: stripQuotes(result.ETag ?? ''), size };
  }

  /**
   * One PutObject streaming `body`, whose length is announced up front. The body passes through
   * a length check (not a `data` listener: that would start the flow before the SDK, which waits
   * for `100 Continue`, is reading, and the bytes in between would be lost); when the body errors
   * or its length differs, the request is aborted, so S3 stores nothing, and the body's error is
   * thrown.
   */
  private async putStream(
    ref: ObjectRef,
    body: Readable,
    contentLength: number,
    options: UploadOptions,
  ): Promise<UploadedObject> {
    const checked = new ExactLength(contentLength);
    const abort = new AbortController();
    let failure: { readonly error: unknown } | undefined;
    const fail = (error: unknown) => {
      if (failure !== undefined) return;
      failure = { error };
      checked.destroy(error instanceof Error ? error : new Error(String(error)));
      abort.abort(error);
    };
    body.on('error', fail);
    checked.on('error', fail);
    body.pipe(checked);
    try {
      const result = await this.s3.send(
        new PutObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          Body: checked,
          ContentLength: contentLength,
          ContentType: options.contentType,
          Metadata: options.metadata ? { ...options.metadata } : undefined,
        }),
        { abortSignal: abort.signal },
      );
      if (failure !== undefined) throw failure.error;
      return { eTag: stripQuotes(result.ETag ?? ''), size: checked.bytes };
    } catch (error) {
      body.destroy();
      throw failure === undefined ? error : failure.error;
    } finally {
      body.off('error', fail);
    }
  }
  async putJson(ref: ObjectRef, value: unknown): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: ref.bucket,
        Key: ref.key,
        Body: `${JSON.stringify(value, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    );
  }
}

/** Passes a body through, erroring when it holds more or fewer bytes than `expected`. */
class ExactLength extends Transform {
  bytes = 0;

  constructor(private readonly expected: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.expected) {
      callback(new Error(`the body is longer than the ${this.expected} bytes announced`));
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.bytes !== this.expected) {
      callback(new Error(`the body ended after ${this.bytes} of the ${this.expected} bytes announced`));
      return;
    }
    callback();
  }
}

function isMissing(error: unknown): boolean {
  if (error instanceof NotFound || error instanceof NoSuchKey) return true;
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404;
}

/** `bytes 0-65536/123456` -> 123456. */
function totalSizeOf(contentRange: string | undefined): number | undefined {
  const total = contentRange?.split('/')[1];
  return total === undefined || total === '*' ? undefined : Number(total);
}

function stripQuotes(eTag: string): string {
  return eTag.replace(/^"|"$/g, '');
}

function lowerKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key.toLowerCase(), value]));
}
