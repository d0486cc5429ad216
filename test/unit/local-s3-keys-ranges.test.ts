/**
 * The local S3 stores keys literally, inside their bucket's store, and answers ranged GETs as
 * real S3 does (classes 4 and 7 of the hostile-input findings).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../functions/adapters/object-store.js';
import { createLocalS3Client } from '../../local/aws-clients.js';
import { decodeLocalKeyPath, encodeLocalKeyPath } from '../../local/s3-keys.js';
import { type S3ServerHandle, startS3Server } from '../../local/s3-server.js';

const INPUT = 'keys-in';
const OUTPUT = 'keys-out';

/** Keys that a path join would move, merge or drop; each must stay its own object. */
const CRAFTED_KEYS = [
  '../keys-out/forged.mp4',
  '../../../outside.txt',
  'a/../b.mp4',
  'a/./b.mp4',
  'a/b.mp4',
  'a//b.mp4',
  '/a/b.mp4',
  '.',
  '..',
  '%2e%2e/x.mp4',
  '..%2F..%2Fy.mp4',
  '~',
  '~~/z',
  'folder/',
  '.hidden/clip.mp4',
];

describe('local S3 keys', () => {
  let dir: string;
  let server: S3ServerHandle;
  let client: S3Client;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidflow-s3-keys-'));
    server = await startS3Server({ dataDir: join(dir, 'data'), buckets: [INPUT, OUTPUT], onEvent: () => {} });
    client = createLocalS3Client({ endpoint: server.url });
    for (const key of CRAFTED_KEYS) {
      await client.send(new PutObjectCommand({ Bucket: INPUT, Key: key, Body: `body of ${key}` }));
    }
  });

  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores every crafted key as its own object, read back by its exact key', async () => {
    for (const key of CRAFTED_KEYS) {
      const got = await client.send(new GetObjectCommand({ Bucket: INPUT, Key: key }));
      expect(await got.Body?.transformToString()).toBe(`body of ${key}`);
    }
    const listed = await client.send(new ListObjectsV2Command({ Bucket: INPUT }));
    expect(new Set(listed.Contents?.map((object) => object.Key))).toStrictEqual(new Set(CRAFTED_KEYS));
  });

  it('writes nothing outside the bucket: the other bucket stays empty and the data directory holds only buckets', async () => {
    const other = await client.send(new ListObjectsV2Command({ Bucket: OUTPUT }));
    expect(other.Contents ?? []).toStrictEqual([]);
    expect((await readdir(dir)).sort()).toStrictEqual(['data', 'data-staging']);
    expect((await readdir(join(dir, 'data'))).sort()).toStrictEqual([INPUT, OUTPUT]);
  });

  it('deletes a dot-segment key without touching directories outside the bucket', async () => {
    await client.send(new DeleteObjectCommand({ Bucket: INPUT, Key: '../../../outside.txt' }));
    expect((await readdir(join(dir, 'data'))).sort()).toStrictEqual([INPUT, OUTPUT]);
    await expect(
      client.send(new GetObjectCommand({ Bucket: INPUT, Key: 'a/../b.mp4' })),
    ).resolves.toBeDefined();
  });

  it('lists by prefix through encoded segments', async () => {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: INPUT, Prefix: 'a/' }));
    expect(new Set(listed.Contents?.map((object) => object.Key))).toStrictEqual(
      new Set(['a/../b.mp4', 'a/./b.mp4', 'a/b.mp4', 'a//b.mp4']),
    );
  });

  it('answers a ranged GET of an empty object with 416 InvalidRange, as real S3 does', async () => {
    await client.send(new PutObjectCommand({ Bucket: INPUT, Key: 'empty.json', Body: '' }));
    const error = await client
      .send(new GetObjectCommand({ Bucket: INPUT, Key: 'empty.json', Range: 'bytes=0-65536' }))
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toMatchObject({ name: 'InvalidRange', $metadata: { httpStatusCode: 416 } });
  });

  it('answers a range starting past the end with 416, and a suffix range with the last bytes', async () => {
    await client.send(new PutObjectCommand({ Bucket: INPUT, Key: 'ten.txt', Body: '0123456789' }));
    await expect(
      client.send(new GetObjectCommand({ Bucket: INPUT, Key: 'ten.txt', Range: 'bytes=10-20' })),
    ).rejects.toMatchObject({ name: 'InvalidRange' });
    const suffix = await client.send(
      new GetObjectCommand({ Bucket: INPUT, Key: 'ten.txt', Range: 'bytes=-3' }),
    );
    expect(await suffix.Body?.transformToString()).toBe('789');
    expect(suffix.ContentRange).toBe('bytes 7-9/10');
  });

  it('reads an empty object as empty text through the object store', async () => {
    const store = new S3ObjectStore(client);
    await expect(store.readText({ bucket: INPUT, key: 'empty.json' }, 65_536)).resolves.toStrictEqual({
      text: '',
      size: 0,
    });
  });
});

describe('encodeLocalKeyPath', () => {
  it.each(CRAFTED_KEYS)('round-trips %j with no ".", ".." or empty inner segment', (key) => {
    const encoded = encodeLocalKeyPath(key);
    expect(decodeLocalKeyPath(encoded)).toBe(key);
    const segments = encoded.split('/');
    expect(
      segments.slice(0, -1).every((segment) => segment !== '' && segment !== '.' && segment !== '..'),
    ).toBe(true);
    expect(segments.at(-1) === '.' || segments.at(-1) === '..').toBe(false);
  });

  it('keeps prefixes: the encoding of a prefix is a prefix of the encoding of the key', () => {
    for (const [prefix, key] of [
      ['.', '.hidden/x'],
      ['a/', 'a/./b'],
      ['a/.', 'a/../b'],
      ['~', '~~/z'],
    ] as const) {
      expect(encodeLocalKeyPath(key).startsWith(encodeLocalKeyPath(prefix))).toBe(true);
    }
  });
});
