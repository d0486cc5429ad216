/**
 * Bucket versioning for the local S3, which s3rver lacks: `PutBucketVersioning` /
 * `GetBucketVersioning`, a version id for every write to a versioned bucket (`x-amz-version-id`
 * on PUT, copy and multipart completion, on HEAD and GET, and in the event record), HEAD and GET
 * of an earlier version by `versionId`, and `ListObjectVersions`.
 *
 * s3rver keeps the current object as before; each version's bytes and metadata are also copied
 * into an archive kept beside the data directory (s3rver takes every folder inside it for a
 * bucket), with one JSON index per bucket. Deletes and delete markers are not versioned here:
 * a DELETE removes the current object as in an unversioned bucket (the pipeline never deletes inputs).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** One stored version of an object. */
export interface ObjectVersion {
  readonly versionId: string;
  readonly lastModified: string;
  readonly eTag: string;
  readonly size: number;
  /** The response headers s3rver stored with it (content type, `x-amz-meta-*`, …). */
  readonly headers: Readonly<Record<string, string>>;
}

interface BucketVersions {
  status?: 'Enabled' | 'Suspended';
  /** Versions per key, oldest first. */
  keys: Record<string, ObjectVersion[]>;
}

/** The part of a Koa context this module reads and answers. */
export interface VersioningContext {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly req: Readable;
  status: number;
  body: unknown;
  set(field: string, value: string): void;
}

/** Reads the current object of a key after s3rver wrote it. */
export type CurrentObjectReader = (
  bucket: string,
  key: string,
) => Promise<
  | { readonly metadata: Readonly<Record<string, string | number | undefined>>; readonly content: Readable }
  | undefined
>;

/**
 * The versioning state of the local buckets, persisted under `dir`.
 */
export class LocalVersioning {
  private readonly buckets = new Map<string, BucketVersions>();
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly dir: string) {}

  /** Turns versioning on for these buckets at start (as the AWS stack's input bucket). */
  async enable(buckets: readonly string[]): Promise<void> {
    for (const bucket of buckets) {
      const state = await this.load(bucket);
      if (state.status === undefined) {
        state.status = 'Enabled';
        await this.save(bucket);
      }
    }
  }

  async isVersioned(bucket: string): Promise<boolean> {
    return (await this.load(bucket)).status === 'Enabled';
  }

  /** A fresh version id, shaped like S3's (32 URL-safe characters). */
  newVersionId(): string {
    return randomBytes(24).toString('base64url');
  }

  /**
   * Answers the bucket-level requests this module owns (`?versioning`, `?versions`).
   * Returns false for every other request.
   * @throws Error with an S3 code in its message for a malformed versioning configuration.
   */
  async answerBucketRequest(ctx: VersioningContext, bucket: string): Promise<boolean> {
    if ('versioning' in ctx.query && ctx.method === 'PUT') {
      const xml = await readText(ctx.req);
      const status = /<Status>\s*(Enabled|Suspended)\s*<\/Status>/.exec(xml)?.[1];
      if (status !== 'Enabled' && status !== 'Suspended') return answerError(ctx, 'MalformedXML');
      (await this.load(bucket)).status = status;
      await this.save(bucket);
      ctx.status = 200;
      ctx.body = '';
      return true;
    }
    if ('versioning' in ctx.query && ctx.method === 'GET') {
      const status = (await this.load(bucket)).status;
      answerXml(
        ctx,
        `<VersioningConfiguration xmlns="${XMLNS}">${status === undefined ? '' : `<Status>${status}</Status>`}</VersioningConfiguration>`,
      );
      return true;
    }
    if ('versions' in ctx.query && ctx.method === 'GET') {
      answerXml(
        ctx,
        await this.listVersionsXml(bucket, first(ctx.query.prefix) ?? '', first(ctx.query['max-keys'])),
      );
      return true;
    }
    return false;
  }

  /** Records the write just made to a versioned bucket and copies its bytes into the archive. */
  async record(bucket: string, key: string, versionId: string, read: CurrentObjectReader): Promise<void> {
    const current = await read(bucket, key);
    if (current === undefined) return;
    const archived = join(this.dir, bucket, versionId);
    await mkdir(join(this.dir, bucket), { recursive: true });
    await pipeline(current.content, createWriteStream(archived));
    const { metadata } = current;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(metadata)) {
      if (
        value !== undefined &&
        (name.startsWith('x-amz-meta-') ||
          name.startsWith('content-') ||
          name === 'cache-control' ||
          name === 'expires')
      ) {
        headers[name] = String(value);
      }
    }
    const state = await this.load(bucket);
    const versions = state.keys[key] ?? [];
    versions.push({
      versionId,
      lastModified: new Date(String(metadata['last-modified'])).toISOString(),
      eTag: String(metadata.etag).replaceAll('"', ''),
      size: Number(metadata['content-length']),
      headers,
    });
    state.keys[key] = versions;
    await this.save(bucket);
  }

  /** The latest version of a key in a versioned bucket, if any. */
  async latest(bucket: string, key: string): Promise<ObjectVersion | undefined> {
    return (await this.load(bucket)).keys[key]?.at(-1);
  }

  /**
   * Answers HEAD/GET of an earlier version from the archive. Returns false when the version is
   * the latest (s3rver serves it) .
   * @throws nothing; an unknown version is answered `NoSuchVersion` (404).
   */
  async answerVersionRead(
    ctx: VersioningContext,
    bucket: string,
    key: string,
    versionId: string,
  ): Promise<boolean> {
    const versions = (await this.load(bucket)).keys[key] ?? [];
    const version = versions.find((candidate) => candidate.versionId === versionId);
    if (version === undefined) return answerError(ctx, 'NoSuchVersion', 404);
    if (version === versions.at(-1)) return false;
    const range = byteRange(ctx.headers.range, version.size);
    if (range === 'unsatisfiable') return answerError(ctx, 'InvalidRange', 416);
    const path = join(this.dir, bucket, version.versionId);
    // The body first: Koa's body setter rewrites Content-Length and Content-Type.
    ctx.body = ctx.method === 'HEAD' ? Buffer.alloc(0) : createReadStream(path, range ?? {});
    ctx.status = range === undefined ? 200 : 206;
    for (const [name, value] of Object.entries(version.headers)) ctx.set(name, value);
    ctx.set('ETag', `"${version.eTag}"`);
    ctx.set('Last-Modified', new Date(version.lastModified).toUTCString());
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('Content-Length', String(range === undefined ? version.size : range.end - range.start + 1));
    if (range !== undefined) ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${version.size}`);
    ctx.set('x-amz-version-id', version.versionId);
    return true;
  }

  private async listVersionsXml(
    bucket: string,
    prefix: string,
    maxKeysText: string | undefined,
  ): Promise<string> {
    const maxKeys = maxKeysText === undefined ? 1000 : Math.max(0, Number.parseInt(maxKeysText, 10) || 0);
    const state = await this.load(bucket);
    const rows: string[] = [];
    for (const key of Object.keys(state.keys).sort()) {
      if (!key.startsWith(prefix)) continue;
      const versions = state.keys[key] ?? [];
      // Newest first within a key, as S3 lists them.
      for (const [index, version] of [...versions].reverse().entries()) {
        rows.push(
          `<Version><Key>${escapeXml(key)}</Key><VersionId>${version.versionId}</VersionId><IsLatest>${index === 0}</IsLatest><LastModified>${version.lastModified}</LastModified><ETag>&quot;${version.eTag}&quot;</ETag><Size>${version.size}</Size><StorageClass>STANDARD</StorageClass></Version>`,
        );
      }
    }
    const truncated = rows.length > maxKeys;
    return `<ListVersionsResult xmlns="${XMLNS}"><Name>${escapeXml(bucket)}</Name><Prefix>${escapeXml(prefix)}</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${rows.slice(0, maxKeys).join('')}</ListVersionsResult>`;
  }

  private async load(bucket: string): Promise<BucketVersions> {
    const cached = this.buckets.get(bucket);
    if (cached !== undefined) return cached;
    let state: BucketVersions = { keys: {} };
    try {
      state = JSON.parse(await readFile(this.indexPath(bucket), 'utf8')) as BucketVersions;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    this.buckets.set(bucket, state);
    return state;
  }

  /** Writes the bucket's index; writes are queued so two requests never write the file at once. */
  private save(bucket: string): Promise<void> {
    const write = async () => {
      await mkdir(this.dir, { recursive: true });
      await writeFile(this.indexPath(bucket), JSON.stringify(this.buckets.get(bucket) ?? { keys: {} }));
    };
    this.saving = this.saving.then(write, write);
    return this.saving;
  }

  private indexPath(bucket: string): string {
    return join(this.dir, `${bucket}.json`);
  }
}

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

function answerXml(ctx: VersioningContext, xml: string): void {
  ctx.status = 200;
  ctx.set('Content-Type', 'application/xml');
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${xml}`;
}

function answerError(ctx: VersioningContext, code: string, status = 400): true {
  // The body first: Koa's body setter would otherwise turn an empty HEAD answer into a 204.
  ctx.body =
    ctx.method === 'HEAD'
      ? Buffer.alloc(0)
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message></Error>`;
  ctx.status = status;
  ctx.set('Content-Type', 'application/xml');
  return true;
}

/** A single `bytes=` range as S3 reads it; undefined for none (or one it ignores, as S3 does). */
function byteRange(
  header: string | string[] | undefined,
  size: number,
): { readonly start: number; readonly end: number } | 'unsatisfiable' | undefined {
  const match = typeof header === 'string' ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (match === null || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    return size === 0 || suffix === 0
      ? 'unsatisfiable'
      : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  if (start >= size) return 'unsatisfiable';
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  return end < start ? undefined : { start, end };
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}
