/**
 * Versioning in the local S3 (`local/s3-versions.ts`): buckets versioned from the start or by
 * PutBucketVersioning, version ids on PUT/HEAD/GET and in event records, reads of an earlier
 * version, and ListObjectVersions as the AWS CLI calls it; an unversioned bucket stays as it was.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLocalS3Client } from '../../local/aws-clients.js';
import { type S3ServerHandle, startS3Server } from '../../local/s3-server.js';
import { awsCli } from '../support/runtime-harness.js';

const VERSIONED = 'versioned-bucket';
const PLAIN = 'plain-bucket';

const listing = z.object({
  Versions: z.array(
    z.object({
      Key: z.string(),
      VersionId: z.string(),
      IsLatest: z.boolean(),
      ETag: z.string(),
      Size: z.number(),
    }),
  ),
});

describe('local S3 versioning', () => {
  let dir: string;
  let server: S3ServerHandle;
  let client: S3Client;
  const events: S3Event[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidflow-s3-versions-'));
    server = await startS3Server({
      dataDir: join(dir, 'data'),
      buckets: [VERSIONED, PLAIN],
      versionedBuckets: [VERSIONED],
      onEvent: (event) => {
        events.push(event);
      },
    });
    client = createLocalS3Client({ endpoint: server.url });
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const put = (bucket: string, key: string, body: string) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: { note: body } }));
  const versionsInEvents = (bucket: string, key: string) =>
    events
      .flatMap((event) => event.Records)
      .filter((record) => record.s3.bucket.name === bucket && record.s3.object.key === key)
      .map((record) => record.s3.object.versionId);

  it('gives every write to a versioned bucket its own version id, on PUT, HEAD, GET and in the event', async () => {
    const first = await put(VERSIONED, 'clip.mp4', 'same bytes');
    const second = await put(VERSIONED, 'clip.mp4', 'same bytes');

    expect(first.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(second.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(second.VersionId).not.toBe(first.VersionId);
    expect(first.ETag).toBe(second.ETag);
    expect(versionsInEvents(VERSIONED, 'clip.mp4')).toStrictEqual([first.VersionId, second.VersionId]);
    const head = await client.send(new HeadObjectCommand({ Bucket: VERSIONED, Key: 'clip.mp4' }));
    expect(head.VersionId).toBe(second.VersionId);
    const got = await client.send(new GetObjectCommand({ Bucket: VERSIONED, Key: 'clip.mp4' }));
    expect(got.VersionId).toBe(second.VersionId);
    await got.Body?.transformToString();
  });

  it('reads an earlier version by versionId, and answers 404 for a version it never had', async () => {
    const old = await put(VERSIONED, 'doc.txt', 'old text');
    const current = await put(VERSIONED, 'doc.txt', 'new text!');

    const got = await client.send(
      new GetObjectCommand({ Bucket: VERSIONED, Key: 'doc.txt', VersionId: old.VersionId }),
    );
    expect([await got.Body?.transformToString(), got.VersionId, got.ETag, got.Metadata]).toStrictEqual([
      'old text',
      old.VersionId,
      old.ETag,
      { note: 'old text' },
    ]);
    const head = await client.send(
      new HeadObjectCommand({ Bucket: VERSIONED, Key: 'doc.txt', VersionId: old.VersionId }),
    );
    expect([head.ContentLength, head.VersionId]).toStrictEqual([8, old.VersionId]);
    const latest = await client.send(
      new GetObjectCommand({ Bucket: VERSIONED, Key: 'doc.txt', VersionId: current.VersionId }),
    );
    expect([await latest.Body?.transformToString(), latest.VersionId]).toStrictEqual([
      'new text!',
      current.VersionId,
    ]);
    const ranged = await client.send(
      new GetObjectCommand({
        Bucket: VERSIONED,
        Key: 'doc.txt',
        VersionId: old.VersionId,
        Range: 'bytes=4-',
      }),
    );
    expect([
      await ranged.Body?.transformToString(),
      ranged.ContentRange,
      ranged.$metadata.httpStatusCode,
    ]).toStrictEqual(['text', 'bytes 4-7/8', 206]);
    const suffix = await client.send(
      new GetObjectCommand({
        Bucket: VERSIONED,
        Key: 'doc.txt',
        VersionId: old.VersionId,
        Range: 'bytes=-3',
      }),
    );
    expect(await suffix.Body?.transformToString()).toBe('ext');
    await expect(
      client.send(
        new GetObjectCommand({
          Bucket: VERSIONED,
          Key: 'doc.txt',
          VersionId: old.VersionId,
          Range: 'bytes=8-',
        }),
      ),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 416 } });
    await expect(
      client.send(new HeadObjectCommand({ Bucket: VERSIONED, Key: 'doc.txt', VersionId: 'no-such-version' })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  it('lists object versions for `aws s3api list-object-versions`, newest first per key', async () => {
    const a = await put(VERSIONED, 'list/a.mp4', 'a1');
    const b = await put(VERSIONED, 'list/a.mp4', 'a2');
    const c = await put(VERSIONED, 'list/b.mp4', 'b1');

    const result = await awsCli(
      [
        's3api',
        'list-object-versions',
        '--bucket',
        VERSIONED,
        '--prefix',
        'list/',
        '--endpoint-url',
        server.url,
      ],
      listing,
    );
    expect(result.Versions.map((v) => [v.Key, v.VersionId, v.IsLatest, v.ETag, v.Size])).toStrictEqual([
      ['list/a.mp4', b.VersionId, true, b.ETag, 2],
      ['list/a.mp4', a.VersionId, false, a.ETag, 2],
      ['list/b.mp4', c.VersionId, true, c.ETag, 2],
    ]);
    const status = await awsCli(
      ['s3api', 'get-bucket-versioning', '--bucket', VERSIONED, '--endpoint-url', server.url],
      z.object({ Status: z.string() }),
    );
    expect(status).toStrictEqual({ Status: 'Enabled' });
  });

  it('leaves an unversioned bucket without version ids until PutBucketVersioning enables it', async () => {
    const plain = await put(PLAIN, 'clip.mp4', 'x');
    expect(plain.VersionId).toBeUndefined();
    const head = await client.send(new HeadObjectCommand({ Bucket: PLAIN, Key: 'clip.mp4' }));
    expect(head.VersionId).toBeUndefined();
    expect(versionsInEvents(PLAIN, 'clip.mp4')).toStrictEqual([undefined]);

    await client.send(
      new PutBucketVersioningCommand({ Bucket: PLAIN, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const versioned = await put(PLAIN, 'after.mp4', 'y');
    expect(versioned.VersionId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(versionsInEvents(PLAIN, 'after.mp4')).toStrictEqual([versioned.VersionId]);
  });
});
