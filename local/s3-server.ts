/**
 * The local S3 server: s3rver, persisted under a data directory, emitting event notification
 * records shaped exactly as real S3 sends them to Lambda.
 *
 * What s3rver gets wrong, and this module corrects:
 * - its records carry the raw key; real S3 URL-encodes it form-style (see `encodeS3EventKey`);
 * - it reports a completed multipart upload as `ObjectCreated:Post`;
 * - its sequencer is the bare clock in hex, so two writes in one millisecond tie;
 * - its Copy records have no eTag, and its response elements are not those of the response;
 * - it stores an `aws-chunked` request body (the SDK's default for streamed uploads) verbatim,
 *   chunk headers and trailing checksum included. Such bodies are decoded and verified here first;
 * - it streams a PUT body straight into the object's file, so a client that breaks off mid-body
 *   leaves a truncated object behind (replacing any previous one) and a request that never
 *   completes. Real S3 stores nothing then: every PUT body is staged whole here first.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, type Hash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { decodeS3Key } from '../functions/adapters/s3-event.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-clients.js';
import { authenticateS3Request, S3AuthError, type S3Credentials } from './s3-auth.js';
import { encodeLocalKeyPath, installLiteralKeyPaths, isLocalUploadId, routablePath } from './s3-keys.js';
import { applyS3RangeRules } from './s3-ranges.js';
import { LocalVersioning, type VersioningContext } from './s3-versions.js';

/** The event names the local server emits (real S3 has more, e.g. for tagging and restores). */
export type LocalS3EventName =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:Post'
  | 'ObjectCreated:Copy'
  | 'ObjectCreated:CompleteMultipartUpload'
  | 'ObjectRemoved:Delete';

export interface S3ServerOptions {
  /** Where buckets and objects are kept; they survive a restart on the same directory. */
  readonly dataDir: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** Buckets created at start when missing. */
  readonly buckets: readonly string[];
  /**
   * Receives one record per object event. When it returns a promise, the S3 request that caused
   * the event is answered only once it settles, and a rejection answers it with a 500: so a
   * caller that persists the event before resolving never loses an acknowledged upload.
   */
  readonly onEvent: (event: S3Event) => void | Promise<void>;
  /**
   * Buckets whose object events are delivered, as a bucket notification configuration would.
   * @default - every bucket
   */
  readonly eventBuckets?: readonly string[];
  /** @default LOCAL_REGION */
  readonly region?: string;
  /**
   * How long a PUT body may pause before the server gives up on it, closes the connection and
   * stores nothing (real S3 waits about 20 s, then answers `RequestTimeout`), so a client that
   * sends fewer bytes than its Content-Length gets an error instead of a request that never ends.
   * @default 20000
   */
  readonly bodyIdleTimeoutMs?: number;
  /**
   * The notification configuration's id, reported as `s3.configurationId`.
   * @default 'vidflow-local'
   */
  readonly configurationId?: string;
  /**
   * The access keys whose SigV4 signatures are accepted; every other request is refused as
   * real S3 refuses it (`local/s3-auth.ts`).
   * @default [LOCAL_CREDENTIALS]
   */
  readonly credentials?: readonly S3Credentials[];
  /**
   * Buckets versioned from the start (as the AWS stack's input bucket); any bucket can also be
   * switched with PutBucketVersioning (`local/s3-versions.ts`).
   * @default none
   */
  readonly versionedBuckets?: readonly string[];
}

export interface S3ServerHandle {
  /** Base URL for `endpoint` / `--endpoint-url`, e.g. `http://127.0.0.1:41237`. */
  readonly url: string;
  readonly port: number;
  /** The bucket names present in the data directory, sorted. */
  listBuckets(): Promise<string[]>;
  /** Stops accepting requests, waits for those in flight (and their event deliveries). */
  close(): Promise<void>;
}

/**
 * Encodes an object key as real S3 writes it into `s3.object.key`: form-urlencoded
 * (`application/x-www-form-urlencoded`, UTF-8, space as `+`, only `A-Z a-z 0-9 * - . _` left
 * as is), except that `/` stays unencoded. E.g. `trips/a b+c.mp4` -> `trips/a+b%2Bc.mp4`.
 */
export function encodeS3EventKey(key: string): string {
  return new URLSearchParams([['k', key]]).toString().slice('k='.length).replaceAll('%2F', '/');
}

/** Decodes `s3.object.key` back to the object key: the submit function's own decoder. */
export const decodeS3EventKey = decodeS3Key;

/**
 * Starts s3rver on a loopback port with the given buckets and real-S3-shaped event records.
 *
 * @throws when the port is taken or the data directory cannot be created.
 */
export async function startS3Server(options: S3ServerOptions): Promise<S3ServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? LOCAL_REGION;
  const configurationId = options.configurationId ?? 'vidflow-local';
  const bodyIdleTimeoutMs = options.bodyIdleTimeoutMs ?? 20_000;
  const eventBuckets = options.eventBuckets === undefined ? undefined : new Set(options.eventBuckets);
  await mkdir(options.dataDir, { recursive: true });
  // Decoded aws-chunked bodies are staged outside dataDir: s3rver takes every directory there for a bucket.
  // Beside the data directory (s3rver takes every folder inside it for a bucket), cleared at
  // start: a killed runtime leaves nothing behind in /tmp.
  const stagingDir = `${options.dataDir.replace(/\/+$/, '')}-staging`;
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true });

  installLiteralKeyPaths();
  const server = new S3rver({
    address: host,
    port: options.port ?? 0,
    directory: options.dataDir,
    silent: true,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  const requests = new AsyncLocalStorage<RequestContext>();
  const nextSequencer = createSequencer();
  const versioning = new LocalVersioning(`${options.dataDir.replace(/\/+$/, '')}-versions`);
  await versioning.enable(options.versionedBuckets ?? []);
  const readCurrent = async (bucket: string, key: string) => {
    const object = await server.store.getObject(bucket, key);
    return object?.content == null ? undefined : { metadata: object.metadata, content: object.content };
  };

  const auth = { credentials: options.credentials ?? [LOCAL_CREDENTIALS], region };
  server.middleware.unshift(async (ctx, next) => {
    // Before anything reads or rewrites the request: its headers and target as the client signed them.
    if (ctx.method !== 'OPTIONS') await authenticateS3Request(ctx, auth).catch(toS3Error);
    const request: RequestContext = {
      requestId: randomBytes(8).toString('hex').toUpperCase(),
      hostId: randomBytes(57).toString('base64'),
      sourceIp: ctx.ip.replace(/^::ffff:/, ''),
      completesMultipartUpload: ctx.method === 'POST' && ctx.query.uploadId !== undefined,
      deliveries: [],
      ...withResolvers(),
    };
    ctx.set('x-amz-request-id', request.requestId);
    ctx.set('x-amz-id-2', request.hostId);
    if (ctx.method === 'PUT' || ctx.method === 'POST') refuseUnstorableKey(ctx.path);
    refuseForgedUploadId(ctx.query);
    const target = bucketAndKey(ctx.path);
    const versionCtx = ctx as unknown as VersioningContext;
    if (target !== undefined && target.key === undefined) {
      if (await versioning.answerBucketRequest(versionCtx, target.bucket)) return;
    }
    const readVersionId = typeof ctx.query.versionId === 'string' ? ctx.query.versionId : undefined;
    if (
      target?.key !== undefined &&
      (ctx.method === 'GET' || ctx.method === 'HEAD') &&
      readVersionId !== undefined
    ) {
      if (await versioning.answerVersionRead(versionCtx, target.bucket, target.key, readVersionId)) return;
    }
    const writesVersion =
      target?.key !== undefined &&
      ((ctx.method === 'PUT' && ctx.query.partNumber === undefined) ||
        (ctx.method === 'POST' && ctx.query.uploadId !== undefined)) &&
      (await versioning.isVersioned(target.bucket));
    if (writesVersion) request.versionId = versioning.newVersionId();
    const routable = routablePath(ctx.path);
    if (routable !== ctx.path) ctx.path = routable;
    await applyS3RangeRules(ctx, (bucket, key) => objectSize(server, bucket, key), S3Error);
    await requests.run(request, async () => {
      const removeStagedBody =
        ctx.method === 'PUT'
          ? ((await decodeAwsChunkedBody(ctx, stagingDir)) ??
            (await stagePlainBody(ctx, stagingDir, bodyIdleTimeoutMs)))
          : undefined;
      let requestError: { readonly reason: unknown } | undefined;
      try {
        await next();
        if (target?.key !== undefined && request.versionId !== undefined && ctx.status < 300) {
          // Before the event is delivered: the submit function HEADs this exact version.
          await versioning.record(target.bucket, target.key, request.versionId, readCurrent);
          ctx.set('x-amz-version-id', request.versionId);
        } else if (
          target?.key !== undefined &&
          (ctx.method === 'GET' || ctx.method === 'HEAD') &&
          ctx.status < 300
        ) {
          const latest = await versioning.latest(target.bucket, target.key);
          if (latest !== undefined) ctx.set('x-amz-version-id', latest.versionId);
        }
      } catch (reason) {
        requestError = { reason };
      } finally {
        request.versionRecorded();
      }
      // Observed before anything else is awaited (even when the request failed), so a delivery
      // that rejects while the staged body is being removed is never an unhandled rejection.
      const settled = Promise.allSettled(request.deliveries);
      await removeStagedBody?.();
      const results = await settled;
      if (requestError !== undefined) throw requestError.reason;
      const failure = results.find((result) => result.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
    });
  });

  server.on('event', (raw) => {
    const source = raw.Records[0];
    if (source === undefined) return;
    const bucket = source.s3.bucket.name;
    if (eventBuckets !== undefined && !eventBuckets.has(bucket)) return;
    const request = requests.getStore();
    // Taken now, in the order s3rver finished the writes, not after the asynchronous work below.
    const sequencer = nextSequencer();
    const eventTime = new Date().toISOString();
    const delivery = (async () => {
      await request?.versionWritten;
      const object = await describeObject(server, source, bucket);
      const record = buildRecord({
        source,
        request,
        ...(request?.versionId === undefined ? {} : { versionId: request.versionId }),
        bucket,
        object,
        sequencer,
        eventTime,
        region,
        configurationId,
      });
      await options.onEvent({ Records: [record] });
    })();
    if (request !== undefined) request.deliveries.push(delivery);
    else
      delivery.catch((error: unknown) => process.emitWarning(`S3 event delivery failed: ${String(error)}`));
  });

  try {
    // s3rver listens without an 'error' listener: a taken port would crash the process with an
    // unhandled EADDRINUSE instead of rejecting. Try the port first, so the caller gets the error.
    if ((options.port ?? 0) !== 0) await assertPortFree(options.port ?? 0, host);
    const address = await server.run();
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    return {
      url,
      port: address.port,
      listBuckets: async () => (await server.store.listBuckets()).map((bucket) => bucket.name).sort(),
      close: async () => {
        const closed = server.close();
        server.httpServer?.closeIdleConnections();
        await closed;
        await rm(stagingDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(stagingDir, { recursive: true, force: true });
    throw error;
  }
}

// --- s3rver (CommonJS, untyped): the part of its surface used here --------------------------

interface KoaContext {
  readonly method: string;
  /** The request target as received: percent-encoded path and raw query. */
  readonly url: string;
  /** The request path, percent-encoded: `/<bucket>/<key>` for path-style requests. */
  path: string;
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  /** The original request's headers (Koa reads them from `ctx.request.req`, not `ctx.req`). */
  headers: IncomingHttpHeaders;
  readonly ip: string;
  /** The body stream s3rver's PUT handlers read. */
  req: Readable;
  /** The response status set so far (s3rver sets it in its handlers). */
  readonly status: number;
  set(field: string, value: string): void;
}

type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

interface S3rverRecord {
  readonly eventName: string;
  readonly s3: {
    readonly bucket: { readonly name: string };
    readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string };
  };
}

interface S3rverInstance {
  /** Koa's middleware list, composed when the server starts listening. */
  readonly middleware: KoaMiddleware[];
  readonly store: {
    listBuckets(): Promise<Array<{ readonly name: string }>>;
    getMetadata(bucket: string, key: string): Promise<Readonly<Record<string, string | number | undefined>>>;
    getObject(
      bucket: string,
      key: string,
    ): Promise<{
      readonly metadata: Readonly<Record<string, string | number | undefined>>;
      readonly content: Readable | null;
    } | null>;
  };
  readonly httpServer?: Server;
  run(): Promise<{ readonly port: number }>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: { readonly Records: readonly S3rverRecord[] }) => void): void;
}

interface S3rverOptions {
  readonly address: string;
  readonly port: number;
  readonly directory: string;
  readonly silent: boolean;
  readonly configureBuckets: ReadonlyArray<{ readonly name: string; readonly configs: readonly string[] }>;
}

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as new (options: S3rverOptions) => S3rverInstance;
/** s3rver's error type: thrown from a middleware, it becomes an S3 XML error response. */
const S3Error = require('s3rver/lib/models/error') as new (
  code: string,
  message: string,
  detail?: Record<string, unknown>,
) => Error;

async function objectSize(server: S3rverInstance, bucket: string, key: string): Promise<number | undefined> {
  try {
    return Number((await server.store.getMetadata(bucket, key))['content-length']);
  } catch {
    return undefined; // missing: s3rver answers NoSuchKey / NoSuchBucket itself
  }
}

/** An upload id names a directory of s3rver's: one that is not its own could walk out of it. */
function refuseForgedUploadId(query: KoaContext['query']): void {
  const uploadId = query.uploadId;
  if (uploadId === undefined) return;
  if (typeof uploadId !== 'string' || !isLocalUploadId(uploadId)) {
    throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
  }
}

function toS3Error(error: unknown): never {
  throw error instanceof S3AuthError ? new S3Error(error.code, error.message) : error;
}

// --- event records ---------------------------------------------------------------------------

interface RequestContext {
  readonly requestId: string;
  readonly hostId: string;
  readonly sourceIp: string;
  readonly completesMultipartUpload: boolean;
  /** Event deliveries the response waits for. */
  readonly deliveries: Promise<void>[];
  /** The version id of the write, in a versioned bucket. */
  versionId?: string;
  /** Settles once the write's version is recorded (or the request ended without one). */
  readonly versionWritten: Promise<void>;
  readonly versionRecorded: () => void;
}

function withResolvers(): Pick<RequestContext, 'versionWritten' | 'versionRecorded'> {
  let resolve: () => void = () => undefined;
  const versionWritten = new Promise<void>((done) => {
    resolve = done;
  });
  return { versionWritten, versionRecorded: resolve };
}

/** `/<bucket>` or `/<bucket>/<key>` of a path-style request (the key decoded); undefined for `/`. */
function bucketAndKey(path: string): { readonly bucket: string; readonly key?: string } | undefined {
  const match = /^\/([^/]+)(?:\/(.*))?$/.exec(path);
  if (match?.[1] === undefined) return undefined;
  const key = match[2];
  if (key === undefined || key === '') return { bucket: match[1] };
  try {
    return { bucket: match[1], key: decodeURIComponent(key) };
  } catch {
    return undefined; // a malformed escape: s3rver answers it as before
  }
}

interface ObjectDescription {
  readonly key: string;
  readonly size?: number;
  readonly eTag?: string;
}

async function describeObject(
  server: S3rverInstance,
  source: S3rverRecord,
  bucket: string,
): Promise<ObjectDescription> {
  const { key, size, eTag } = source.s3.object;
  if (source.eventName !== 'ObjectCreated:Copy') return { key, size, eTag };
  // s3rver's Copy record has no eTag; the copy is already written, so its metadata is current.
  const metadata = await server.store.getMetadata(bucket, key);
  return { key, size: Number(metadata['content-length']), eTag: String(metadata.etag).replaceAll('"', '') };
}

function buildRecord(input: {
  readonly source: S3rverRecord;
  readonly request: RequestContext | undefined;
  readonly bucket: string;
  readonly object: ObjectDescription;
  readonly sequencer: string;
  readonly versionId?: string;
  readonly eventTime: string;
  readonly region: string;
  readonly configurationId: string;
}): S3EventRecord {
  const { request, object } = input;
  const eventName = toRealEventName(input.source.eventName, request);
  // Removal records carry neither size nor eTag, as in real S3 (the aws-lambda type says otherwise).
  const s3Object = (
    eventName.startsWith('ObjectRemoved:')
      ? { key: encodeS3EventKey(object.key), sequencer: input.sequencer }
      : {
          key: encodeS3EventKey(object.key),
          size: object.size,
          eTag: object.eTag,
          ...(input.versionId === undefined ? {} : { versionId: input.versionId }),
          sequencer: input.sequencer,
        }
  ) as S3EventRecord['s3']['object'];
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: input.region,
    eventTime: input.eventTime,
    eventName,
    userIdentity: { principalId: LOCAL_PRINCIPAL_ID },
    requestParameters: { sourceIPAddress: request?.sourceIp ?? '127.0.0.1' },
    responseElements: {
      'x-amz-request-id': request?.requestId ?? randomBytes(8).toString('hex').toUpperCase(),
      'x-amz-id-2': request?.hostId ?? randomBytes(57).toString('base64'),
    },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: input.configurationId,
      bucket: {
        name: input.bucket,
        ownerIdentity: { principalId: LOCAL_OWNER_ID },
        arn: `arn:aws:s3:::${input.bucket}`,
      },
      object: s3Object,
    },
  };
}

const LOCAL_PRINCIPAL_ID = 'AWS:AIDAVIDFLOWLOCALUSER';
const LOCAL_OWNER_ID = 'A1VIDFLOWLOCAL';

function toRealEventName(s3rverName: string, request: RequestContext | undefined): LocalS3EventName {
  switch (s3rverName) {
    case 'ObjectCreated:Post':
      // s3rver says Post for both a browser form upload and a completed multipart upload.
      return request?.completesMultipartUpload === true
        ? 'ObjectCreated:CompleteMultipartUpload'
        : 'ObjectCreated:Post';
    case 'ObjectCreated:Copy':
    case 'ObjectRemoved:Delete':
      return s3rverName;
    default:
      return 'ObjectCreated:Put';
  }
}

/**
 * Sequencers as real S3 writes them: 18 uppercase hex digits (the clock in milliseconds, then a
 * counter within the millisecond), strictly increasing within the process, so strictly
 * increasing per key; a restart continues from the clock.
 */
function createSequencer(now: () => number = Date.now): () => string {
  let lastMs = 0;
  let counter = 0;
  return () => {
    const ms = now();
    if (ms > lastMs) {
      lastMs = ms;
      counter = 0;
    } else if (counter < 0xffffff) {
      counter += 1;
    } else {
      lastMs += 1;
      counter = 0;
    }
    return (
      lastMs.toString(16).toUpperCase().padStart(12, '0') +
      counter.toString(16).toUpperCase().padStart(6, '0')
    );
  };
}

// --- aws-chunked request bodies ----------------------------------------------------------------

/**
 * When a PUT body is `aws-chunked` (`x-amz-content-sha256: STREAMING-...`), decodes it into a
 * staging file, verifies its length and trailing checksum, and hands the decoded body and
 * plain headers to s3rver. Returns the staging file's remover, or undefined for a plain body.
 */
async function decodeAwsChunkedBody(
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
async function stagePlainBody(
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

// --- keys ------------------------------------------------------------------------------------

/** Real S3's limit on a key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/**
 * s3rver keeps an object as files named `<last key segment>._S3rver_metadata.json` (and shorter
 * suffixes) under one directory per segment; file names hold at most 255 bytes.
 */
const MAX_LOCAL_KEY_SEGMENT_BYTES = 255 - '._S3rver_metadata.json'.length;

/**
 * Refuses a write whose key real S3 refuses (over 1024 bytes: `KeyTooLongError`) or that s3rver
 * cannot store (a segment over {@link MAX_LOCAL_KEY_SEGMENT_BYTES} bytes: its file write would
 * fail outside any handler and take the whole process down). Path-style requests only, as
 * every local client sends.
 */
function refuseUnstorableKey(path: string): void {
  const encodedKey = /^\/[^/]+\/(.+)$/.exec(path)?.[1];
  if (encodedKey === undefined) return;
  let key: string;
  try {
    key = decodeURIComponent(encodedKey);
  } catch {
    return; // s3rver's router answers a malformed path itself
  }
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 'Your key is too long');
  }
  const onDisk = encodeLocalKeyPath(key);
  if (onDisk.split('/').some((segment) => Buffer.byteLength(segment, 'utf8') > MAX_LOCAL_KEY_SEGMENT_BYTES)) {
    throw new S3Error(
      'KeyTooLongError',
      `The local S3 server stores each "/"-separated part of a key as a file name: at most ${MAX_LOCAL_KEY_SEGMENT_BYTES} bytes per part (real S3 has no such limit)`,
    );
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

interface Checksum {
  update(data: Buffer): void;
  /** Base64 of the big-endian digest, as in `x-amz-checksum-*`. */
  digest(): string;
}

/** The trailing checksums Node can compute; others (crc32c, crc64nvme) are accepted unverified. */
function createChecksum(trailer: string): Checksum | undefined {
  const hashOf = (hash: Hash): Checksum => ({
    update: (data) => hash.update(data),
    digest: () => hash.digest('base64'),
  });
  switch (trailer) {
    case 'x-amz-checksum-crc32': {
      let value = 0;
      return {
        update: (data) => {
          value = crc32(data, value);
        },
        digest: () => {
          const bytes = Buffer.alloc(4);
          bytes.writeUInt32BE(value >>> 0);
          return bytes.toString('base64');
        },
      };
    }
    case 'x-amz-checksum-sha1':
      return hashOf(createHash('sha1'));
    case 'x-amz-checksum-sha256':
      return hashOf(createHash('sha256'));
    default:
      return undefined;
  }
}

const MAX_CHUNK_LINE_BYTES = 8 * 1024;

/**
 * Decodes the `aws-chunked` content encoding: `<hex size>[;chunk-signature=...]\r\n<data>\r\n`
 * repeated, a zero-size chunk, then trailer lines (`x-amz-checksum-crc32:...`) and an empty line.
 */
class AwsChunkedDecoder extends Transform {
  readonly trailers = new Map<string, string>();
  decodedBytes = 0;
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private remaining = 0;
  private line: Buffer[] = [];
  private lineBytes = 0;

  constructor(private readonly onData: (data: Buffer) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)));
    }
  }

  override _flush(callback: TransformCallback): void {
    // Some clients end the body right after the last trailer line, without the final empty line.
    if (this.state === 'trailer' && this.lineBytes > 0) this.onLine(this.takeLine());
    if (this.state === 'trailer') this.state = 'done';
    callback(this.state === 'done' ? null : new Error(`the body ended inside a chunk (${this.state})`));
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 'done') throw new Error('bytes after the final chunk');
      if (this.state === 'data') {
        const data = chunk.subarray(offset, offset + this.remaining);
        this.onData(data);
        this.push(data);
        this.decodedBytes += data.length;
        this.remaining -= data.length;
        offset += data.length;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      const newline = chunk.indexOf(0x0a, offset);
      const end = newline === -1 ? chunk.length : newline + 1;
      this.line.push(chunk.subarray(offset, end));
      this.lineBytes += end - offset;
      offset = end;
      if (this.lineBytes > MAX_CHUNK_LINE_BYTES) throw new Error('chunk header line too long');
      if (newline !== -1) this.onLine(this.takeLine());
    }
  }

  private takeLine(): string {
    const text = Buffer.concat(this.line)
      .toString('latin1')
      .replace(/\r?\n$/, '');
    this.line = [];
    this.lineBytes = 0;
    return text;
  }

  private onLine(text: string): void {
    switch (this.state) {
      case 'data-end':
        if (text !== '') throw new Error('missing CRLF after chunk data');
        this.state = 'size';
        return;
      case 'size': {
        const size = (text.split(';', 1)[0] ?? '').trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new Error(`bad chunk size line ${JSON.stringify(text)}`);
        this.remaining = Number.parseInt(size, 16);
        this.state = this.remaining === 0 ? 'trailer' : 'data';
        return;
      }
      case 'trailer': {
        if (text === '') {
          this.state = 'done';
          return;
        }
        const colon = text.indexOf(':');
        if (colon <= 0) throw new Error(`bad trailer line ${JSON.stringify(text)}`);
        this.trailers.set(text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim());
        return;
      }
      default:
        return;
    }
  }
}

/**
 * Binds `port` on `host` and lets it go again.
 *
 * @throws the listen error (an `EADDRINUSE` errno error naming the port) when it is taken.
 */
function assertPortFree(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
