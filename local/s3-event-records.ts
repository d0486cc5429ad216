/**
 * S3 event notification records as real S3 sends them to Lambda, built from s3rver's: the key
 * form-urlencoded, a multipart completion named as such, a sequencer that never ties, a Copy's
 * eTag, the response elements of the request that caused the event.
 */
import { randomBytes } from 'node:crypto';
import type { S3EventRecord } from 'aws-lambda';
import type { S3rverInstance, S3rverRecord } from './s3-engine.js';

/** The event names the local server emits (real S3 has more, e.g. for tagging and restores). */
export type LocalS3EventName =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:Post'
  | 'ObjectCreated:Copy'
  | 'ObjectCreated:CompleteMultipartUpload'
  | 'ObjectRemoved:Delete';

/**
 * Encodes an object key as real S3 writes it into `s3.object.key`: form-urlencoded
 * (`application/x-www-form-urlencoded`, UTF-8, space as `+`, only `A-Z a-z 0-9 * - . _` left
 * as is), except that `/` stays unencoded. E.g. `trips/a b+c.mp4` -> `trips/a+b%2Bc.mp4`.
 */
export function encodeS3EventKey(key: string): string {
  return new URLSearchParams([['k', key]]).toString().slice('k='.length).replaceAll('%2F', '/');
}

export interface RequestContext {
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

export function withResolvers(): Pick<RequestContext, 'versionWritten' | 'versionRecorded'> {
  let resolve: () => void = () => undefined;
  const versionWritten = new Promise<void>((done) => {
    resolve = done;
  });
  return { versionWritten, versionRecorded: resolve };
}

export interface ObjectDescription {
  readonly key: string;
  readonly size?: number;
  readonly eTag?: string;
}

export async function describeObject(
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

export function buildRecord(input: {
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
export function createSequencer(now: () => number = Date.now): () => string {
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
