import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3EventRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../functions/adapters/object-store.js';
import { OutputDownloadError } from '../../functions/domain/errors.js';
import { createLocalS3Client } from '../../local/aws-clients.js';
import { type S3ServerHandle, startS3Server } from '../../local/s3-server.js';

const BUCKET = 'vidflow-output';
const MiB = 1024 * 1024;

describe('S3ObjectStore.upload against the local S3 server', () => {
  let dataDir: string;
  let server: S3ServerHandle;
  let client: S3Client;
  let store: S3ObjectStore;
  const records: S3EventRecord[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vidflow-object-store-'));
    server = await startS3Server({
      dataDir,
      buckets: [BUCKET],
      onEvent: (event) => {
        records.push(...event.Records);
      },
    });
    client = createLocalS3Client({ endpoint: server.url });
    store = new S3ObjectStore(client);
  });

  afterAll(async () => {
    client.destroy();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    records.length = 0;
  });

  const options = { contentType: 'video/mp4', metadata: { 'job-id': 'job1' } };

  it('writes a body of known length with one streamed PutObject', async () => {
    const parts = [randomBytes(MiB), randomBytes(MiB), randomBytes(MiB + 17)];
    const body = Buffer.concat(parts);

    const result = await store.upload({ bucket: BUCKET, key: 'single.mp4' }, Readable.from(parts), {
      ...options,
      contentLength: body.length,
    });

    expect(result).toStrictEqual({ eTag: md5(body), size: body.length });
    expect(md5(await read('single.mp4'))).toBe(md5(body));
    expect(records.map((record) => record.eventName)).toStrictEqual(['ObjectCreated:Put']);
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'single.mp4' }));
    expect(head.ContentType).toBe('video/mp4');
    expect(head.Metadata).toStrictEqual({ 'job-id': 'job1' });
  });

  it('falls back to multipart when the length is unknown', async () => {
    const body = randomBytes(9 * MiB);

    const result = await store.upload({ bucket: BUCKET, key: 'multi.mp4' }, Readable.from([body]), options);

    expect(result.size).toBe(body.length);
    expect(md5(await read('multi.mp4'))).toBe(md5(body));
    expect(records.map((record) => record.eventName)).toStrictEqual([
      'ObjectCreated:CompleteMultipartUpload',
    ]);
  });

  it("rejects with the body's own error and stores nothing when the body errors mid-stream", async () => {
    const broken = new OutputDownloadError('OUTPUT_STALLED', 'the output download stalled');
    const body = Readable.from(
      (async function* () {
        yield randomBytes(MiB);
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw broken;
      })(),
    );

    await expect(
      store.upload({ bucket: BUCKET, key: 'errored.mp4' }, body, { ...options, contentLength: 3 * MiB }),
    ).rejects.toBe(broken);

    await expectMissing('errored.mp4');
  });

  it.each([
    ['ends short of', 2 * MiB],
    ['runs past', 4 * MiB],
  ])('rejects and stores nothing when the body %s the announced length', async (_case, bytes) => {
    const key = `wrong-length-${bytes}.mp4`;
    await expect(
      store.upload({ bucket: BUCKET, key }, Readable.from([randomBytes(bytes)]), {
        ...options,
        contentLength: 3 * MiB,
      }),
    ).rejects.toThrow(/bytes announced/);

    await expectMissing(key);
  });

  async function read(key: string): Promise<Uint8Array> {
    const result = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return (await result.Body?.transformToByteArray()) ?? new Uint8Array();
  }

  async function expectMissing(key: string): Promise<void> {
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toMatchObject({
      name: 'NotFound',
    });
    expect(records).toStrictEqual([]);
  }
});

function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}
