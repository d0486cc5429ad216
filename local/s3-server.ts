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
 *
 * Files: this one (options, the request middleware, start and close), `s3-engine.ts` (s3rver's
 * typed surface), `s3-request-body.ts` and `s3-aws-chunked.ts` (PUT bodies), `s3-event-records.ts`
 * (event records), `s3-auth.ts` (SigV4), `s3-keys.ts` (key paths), `s3-ranges.ts` (Range rules),
 * `s3-versions.ts` (bucket versioning).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import type { S3Event } from 'aws-lambda';
import { decodeS3Key } from '../functions/adapters/s3-event.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-clients.js';
import { authenticateS3Request, S3AuthError, type S3Credentials } from './s3-auth.js';
import {
  type KoaContext,
  type KoaMiddleware,
  S3Error,
  S3rver,
  type S3rverInstance,
  type S3rverRecord,
} from './s3-engine.js';
import {
  buildRecord,
  createSequencer,
  describeObject,
  type RequestContext,
  withResolvers,
} from './s3-event-records.js';
import { encodeLocalKeyPath, installLiteralKeyPaths, isLocalUploadId, routablePath } from './s3-keys.js';
import { applyS3RangeRules } from './s3-ranges.js';
import { decodeAwsChunkedBody, stagePlainBody } from './s3-request-body.js';
import { type CurrentObjectReader, LocalVersioning, type VersioningContext } from './s3-versions.js';

export { encodeS3EventKey, type LocalS3EventName } from './s3-event-records.js';

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

/** Decodes `s3.object.key` back to the object key: the submit function's own decoder. */
export const decodeS3EventKey = decodeS3Key;

/** What the request middleware and the event listener share for one server. */
interface ServerParts {
  readonly server: S3rverInstance;
  /** The S3 request a write (and so its event) belongs to. */
  readonly requests: AsyncLocalStorage<RequestContext>;
  readonly versioning: LocalVersioning;
  readonly readCurrent: CurrentObjectReader;
  readonly stagingDir: string;
}

/**
 * Starts s3rver on a loopback port with the given buckets and real-S3-shaped event records.
 *
 * @throws when the port is taken or the data directory cannot be created.
 */
export async function startS3Server(options: S3ServerOptions): Promise<S3ServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? LOCAL_REGION;
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
  const versioning = new LocalVersioning(`${options.dataDir.replace(/\/+$/, '')}-versions`);
  await versioning.enable(options.versionedBuckets ?? []);
  const parts: ServerParts = {
    server,
    requests: new AsyncLocalStorage<RequestContext>(),
    versioning,
    readCurrent: async (bucket, key) => {
      const object = await server.store.getObject(bucket, key);
      return object?.content == null ? undefined : { metadata: object.metadata, content: object.content };
    },
    stagingDir,
  };
  const auth = { credentials: options.credentials ?? [LOCAL_CREDENTIALS], region };
  server.middleware.unshift(createRequestMiddleware(parts, auth, options.bodyIdleTimeoutMs ?? 20_000));
  server.on('event', createEventListener(parts, options, region));

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

/**
 * The middleware put before s3rver's own: authenticates, refuses what real S3 refuses and s3rver
 * does not, answers versioned requests, then runs s3rver's handling with the PUT body staged and
 * the request's context available to the event listener.
 */
function createRequestMiddleware(
  parts: ServerParts,
  auth: Parameters<typeof authenticateS3Request>[1],
  bodyIdleTimeoutMs: number,
): KoaMiddleware {
  const { server, versioning } = parts;
  return async (ctx, next) => {
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
    await parts.requests.run(request, () =>
      handleWithStagedBody(parts, ctx, next, request, target, bodyIdleTimeoutMs),
    );
  };
}

/**
 * Runs s3rver's handling of one request with its PUT body staged, records the version it wrote,
 * and answers only once the event deliveries it caused have settled (a failed one fails it).
 */
async function handleWithStagedBody(
  parts: ServerParts,
  ctx: KoaContext,
  next: () => Promise<void>,
  request: RequestContext,
  target: ReturnType<typeof bucketAndKey>,
  bodyIdleTimeoutMs: number,
): Promise<void> {
  const { versioning, stagingDir } = parts;
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
      await versioning.record(target.bucket, target.key, request.versionId, parts.readCurrent);
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
}

/**
 * Turns each s3rver event into a real-S3-shaped record for `options.onEvent`; the S3 request that
 * caused it (if any) waits for the delivery.
 */
function createEventListener(
  parts: ServerParts,
  options: S3ServerOptions,
  region: string,
): (raw: { readonly Records: readonly S3rverRecord[] }) => void {
  const configurationId = options.configurationId ?? 'vidflow-local';
  const eventBuckets = options.eventBuckets === undefined ? undefined : new Set(options.eventBuckets);
  const nextSequencer = createSequencer();
  return (raw) => {
    const source = raw.Records[0];
    if (source === undefined) return;
    const bucket = source.s3.bucket.name;
    if (eventBuckets !== undefined && !eventBuckets.has(bucket)) return;
    const request = parts.requests.getStore();
    // Taken now, in the order s3rver finished the writes, not after the asynchronous work below.
    const sequencer = nextSequencer();
    const eventTime = new Date().toISOString();
    const delivery = (async () => {
      await request?.versionWritten;
      const object = await describeObject(parts.server, source, bucket);
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
  };
}

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
