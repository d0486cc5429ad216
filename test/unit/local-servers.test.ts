import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createLocalDynamoDbClient,
  createLocalS3Client,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
} from '../../local/aws-clients.js';
import {
  buildCreateTableInputs,
  type DynamoDbServerHandle,
  ensureTablesFromTemplate,
  LocalTableMismatchError,
  startDynamoDbServer,
} from '../../local/dynamodb-server.js';
import {
  decodeS3EventKey,
  encodeS3EventKey,
  type S3ServerHandle,
  startS3Server,
} from '../../local/s3-server.js';
import { signedS3Fetch } from '../support/signed-fetch.js';

const run = promisify(execFile);
const INPUT = 'vidflow-input';
const OUTPUT = 'vidflow-output';
const KEY = 'trips/my clip+1 100%/vidéo 東京.mp4';
const ENCODED_KEY = 'trips/my+clip%2B1+100%25/vid%C3%A9o+%E6%9D%B1%E4%BA%AC.mp4';
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SEQUENCER = /^[0-9A-F]{18}$/;

/** Runs the real AWS CLI against a local endpoint, isolated from the user's AWS configuration. */
async function awsCli(args: readonly string[]): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), 'vidflow-awscli-'));
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
  );
  try {
    const { stdout } = await run('aws', [...args], {
      env: {
        ...env,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        AWS_CONFIG_FILE: join(scratch, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'credentials'),
      },
    });
    return stdout;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

async function readObject(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (response.Body === undefined) throw new Error(`no body for ${key}`);
  return response.Body.transformToByteArray();
}

function onlyRecord(records: readonly S3EventRecord[]): S3EventRecord {
  expect(records).toHaveLength(1);
  const [record] = records;
  if (record === undefined) throw new Error('no record');
  return record;
}

describe('S3 event key encoding', () => {
  it.each([
    // The AWS documentation's own example.
    ['red flower.jpg', 'red+flower.jpg'],
    // LocalStack's AWS-validated snapshot (test_s3_notifications_sqs.py::test_key_encoding).
    ['a@b', 'a%40b'],
    // Observed from real S3 in aws/aws-sdk-net#640.
    ['this im + age blah.txt', 'this+im+%2B+age+blah.txt'],
    // '/' stays, ':' is encoded (localstack/localstack#465, minio/minio#11665).
    ['files/2017-11-15 14:22:21_file.csv', 'files/2017-11-15+14%3A22%3A21_file.csv'],
    ['a(1)~!*-_.txt', 'a%281%29%7E%21*-_.txt'],
    [KEY, ENCODED_KEY],
  ])('encodes %j as %j and decodes it back', (key, encoded) => {
    expect(encodeS3EventKey(key)).toBe(encoded);
    expect(decodeS3EventKey(encoded)).toBe(key);
  });
});

describe('local S3 server', () => {
  let dataDir: string;
  let server: S3ServerHandle;
  let client: S3Client;
  const records: S3EventRecord[] = [];
  let failDeliveries = false;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vidflow-s3-'));
    server = await startS3Server({
      dataDir,
      buckets: [INPUT, OUTPUT],
      eventBuckets: [INPUT],
      onEvent: async (event: S3Event) => {
        if (failDeliveries) throw new Error('queue unavailable');
        records.push(...event.Records);
      },
    });
    client = createLocalS3Client({ endpoint: server.url });
  });

  afterAll(async () => {
    client.destroy();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    records.length = 0;
    failDeliveries = false;
  });

  it('creates the configured buckets and lists them sorted', async () => {
    expect(await server.listBuckets()).toEqual([INPUT, OUTPUT]);
  });

  it('emits one ObjectCreated:Put record shaped like real S3 for an `aws s3 cp` upload', async () => {
    const file = join(dataDir, '..', `clip-${randomBytes(4).toString('hex')}.mp4`);
    const body = randomBytes(200_000);
    await writeFile(file, body);
    try {
      await awsCli([
        's3',
        'cp',
        file,
        `s3://${INPUT}/${KEY}`,
        '--endpoint-url',
        server.url,
        '--metadata',
        'prompt=a red balloon over Tokyo',
      ]);
    } finally {
      await rm(file, { force: true });
    }

    const record = onlyRecord(records);
    expect(record).toEqual({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: expect.stringMatching(ISO_8601),
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: expect.stringMatching(/^AWS:[A-Z0-9]+$/) },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: {
        'x-amz-request-id': expect.stringMatching(/^[0-9A-F]{16}$/),
        'x-amz-id-2': expect.stringMatching(/^[A-Za-z0-9+/]{76}$/),
      },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'vidflow-local',
        bucket: {
          name: INPUT,
          ownerIdentity: { principalId: expect.stringMatching(/^[A-Z0-9]+$/) },
          arn: `arn:aws:s3:::${INPUT}`,
        },
        object: {
          key: ENCODED_KEY,
          size: body.length,
          eTag: md5(body),
          sequencer: expect.stringMatching(SEQUENCER),
        },
      },
    });
    expect(Object.keys(record.s3.object)).not.toContain('versionId');
    expect(decodeS3EventKey(record.s3.object.key)).toBe(KEY);

    const head = await client.send(new HeadObjectCommand({ Bucket: INPUT, Key: KEY }));
    expect(head.Metadata).toEqual({ prompt: 'a red balloon over Tokyo' });
    expect(head.ETag).toBe(`"${record.s3.object.eTag}"`);
    expect(sha256(await readObject(client, INPUT, KEY))).toBe(sha256(body));
  });

  it('reports the PUT response request ids in responseElements', async () => {
    const put = await client.send(new PutObjectCommand({ Bucket: INPUT, Key: 'ids.mp4', Body: 'x' }));
    const record = onlyRecord(records);
    expect(record.responseElements['x-amz-request-id']).toBe(put.$metadata.requestId);
    expect(record.responseElements['x-amz-id-2']).toBe(put.$metadata.extendedRequestId);
  });

  it('stores a streamed PutObject from a default-config SDK client (aws-chunked) byte for byte', async () => {
    const defaultClient = new S3Client({
      endpoint: server.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
    });
    const body = randomBytes(300_000);
    try {
      await defaultClient.send(
        new PutObjectCommand({
          Bucket: INPUT,
          Key: 'streamed.mp4',
          Body: Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]),
          ContentLength: body.length,
          ContentType: 'video/mp4',
        }),
      );
    } finally {
      defaultClient.destroy();
    }
    const stored = await readObject(client, INPUT, 'streamed.mp4');
    expect(sha256(stored)).toBe(sha256(body));
    const head = await client.send(new HeadObjectCommand({ Bucket: INPUT, Key: 'streamed.mp4' }));
    expect(head.ContentEncoding).toBeUndefined();
    expect(head.ContentType).toBe('video/mp4');
    expect(onlyRecord(records).s3.object.size).toBe(body.length);
  });

  it('verifies the trailing checksum of an aws-chunked body and rejects a mismatch with BadDigest', async () => {
    const put = (key: string, checksum: string) =>
      signedS3Fetch(`${server.url}/${INPUT}/${key}`, {
        method: 'PUT',
        headers: {
          'content-encoding': 'aws-chunked',
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'x-amz-decoded-content-length': '11',
          'x-amz-trailer': 'x-amz-checksum-crc32',
        },
        body: `6\r\nhello \r\n5\r\nworld\r\n0\r\nx-amz-checksum-crc32:${checksum}\r\n\r\n`,
      });
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32('hello world'));

    const good = await put('good.mp4', crc.toString('base64'));
    expect(good.status).toBe(200);
    expect(Buffer.from(await readObject(client, INPUT, 'good.mp4')).toString()).toBe('hello world');

    const bad = await put('bad.mp4', 'AAAAAA==');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('<Code>BadDigest</Code>');
    await expect(client.send(new HeadObjectCommand({ Bucket: INPUT, Key: 'bad.mp4' }))).rejects.toMatchObject(
      {
        name: 'NotFound',
      },
    );
    expect(records.map((record) => record.s3.object.key)).toEqual(['good.mp4']);
  });

  it('stores a streamed PutObject with ContentLength from the local client (Expect: 100-continue)', async () => {
    const parts = [randomBytes(1024 * 1024), randomBytes(1024 * 1024), randomBytes(1024 * 1024)];
    const body = Buffer.concat(parts);

    await client.send(
      new PutObjectCommand({
        Bucket: INPUT,
        Key: 'streamed-plain.mp4',
        Body: Readable.from(parts),
        ContentLength: body.length,
      }),
    );

    expect(sha256(await readObject(client, INPUT, 'streamed-plain.mp4'))).toBe(sha256(body));
    expect(onlyRecord(records).eventName).toBe('ObjectCreated:Put');
  });

  it('stores nothing, and keeps the previous object, when a PUT breaks off mid-body', async () => {
    await client.send(new PutObjectCommand({ Bucket: INPUT, Key: 'kept.mp4', Body: 'the old bytes' }));
    const putBrokenOff = async (key: string) => {
      const body = new PassThrough();
      body.write(randomBytes(1024 * 1024));
      const abort = new AbortController();
      setTimeout(() => abort.abort(), 200);
      await expect(
        client.send(
          new PutObjectCommand({ Bucket: INPUT, Key: key, Body: body, ContentLength: 3 * 1024 * 1024 }),
          { abortSignal: abort.signal },
        ),
      ).rejects.toMatchObject({ name: 'AbortError' });
    };

    await putBrokenOff('kept.mp4');
    await putBrokenOff('broken.mp4');

    await vi.waitFor(async () => expect(await readdir(`${dataDir}-staging`)).toEqual([]));
    expect(Buffer.from(await readObject(client, INPUT, 'kept.mp4')).toString()).toBe('the old bytes');
    await expect(
      client.send(new HeadObjectCommand({ Bucket: INPUT, Key: 'broken.mp4' })),
    ).rejects.toMatchObject({ name: 'NotFound' });
    expect(records.map((record) => record.s3.object.key)).toEqual(['kept.mp4']);
  });

  it('emits exactly one CompleteMultipartUpload record for a lib-storage multipart upload, bytes intact', async () => {
    const body = randomBytes(11 * 1024 * 1024 + 123);
    const key = 'big folder/multi part.mov';
    await new Upload({
      client,
      params: { Bucket: INPUT, Key: key, Body: Readable.from([body]), Metadata: { prompt: 'slow zoom' } },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    }).done();

    const record = onlyRecord(records);
    expect(record.eventName).toBe('ObjectCreated:CompleteMultipartUpload');
    expect(record.s3.object.key).toBe('big+folder/multi+part.mov');
    expect(record.s3.object.size).toBe(body.length);
    const head = await client.send(new HeadObjectCommand({ Bucket: INPUT, Key: key }));
    expect(head.ETag).toBe(`"${record.s3.object.eTag}"`);
    expect(head.Metadata).toEqual({ prompt: 'slow zoom' });
    expect(sha256(await readObject(client, INPUT, key))).toBe(sha256(body));
  });

  it('emits Copy records with size and eTag, and Delete records with neither', async () => {
    await client.send(new PutObjectCommand({ Bucket: INPUT, Key: 'src.mp4', Body: 'source bytes' }));
    await client.send(
      new CopyObjectCommand({ Bucket: INPUT, Key: 'copy of src.mp4', CopySource: `${INPUT}/src.mp4` }),
    );
    await client.send(new DeleteObjectCommand({ Bucket: INPUT, Key: 'copy of src.mp4' }));

    expect(records.map((record) => record.eventName)).toEqual([
      'ObjectCreated:Put',
      'ObjectCreated:Copy',
      'ObjectRemoved:Delete',
    ]);
    const [, copy, removal] = records;
    expect(copy?.s3.object).toEqual({
      key: 'copy+of+src.mp4',
      size: 12,
      eTag: md5(Buffer.from('source bytes')),
      sequencer: expect.stringMatching(SEQUENCER),
    });
    expect(removal?.s3.object).toEqual({
      key: 'copy+of+src.mp4',
      sequencer: expect.stringMatching(SEQUENCER),
    });
  });

  it('gives successive events on one key strictly increasing sequencers', async () => {
    for (let version = 0; version < 5; version += 1) {
      await client.send(new PutObjectCommand({ Bucket: INPUT, Key: 'same.mp4', Body: `v${version}` }));
    }
    await client.send(new DeleteObjectCommand({ Bucket: INPUT, Key: 'same.mp4' }));

    const sequencers = records.map((record) => record.s3.object.sequencer);
    expect(sequencers).toHaveLength(6);
    expect([...sequencers].sort()).toEqual(sequencers);
    expect(new Set(sequencers).size).toBe(6);
  });

  it('emits nothing for buckets outside eventBuckets', async () => {
    await client.send(new PutObjectCommand({ Bucket: OUTPUT, Key: 'result.mp4', Body: 'out' }));
    expect(records).toEqual([]);
  });

  it('answers the upload with a 500 when the event cannot be delivered', async () => {
    failDeliveries = true;
    await expect(
      client.send(new PutObjectCommand({ Bucket: INPUT, Key: 'undelivered.mp4', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'InternalError', $metadata: { httpStatusCode: 500 } });
  });

  it('refuses a key over 1024 bytes with KeyTooLongError, as real S3 does, and stores a 1024-byte one', async () => {
    const folders = `${'d'.repeat(200)}/`.repeat(4);
    const longest = `${folders}${'k'.repeat(1024 - 4 - folders.length)}.mp4`;
    expect(Buffer.byteLength(longest)).toBe(1024);

    await expect(
      client.send(new PutObjectCommand({ Bucket: INPUT, Key: `${longest}x`, Body: 'x' })),
    ).rejects.toMatchObject({ name: 'KeyTooLongError', $metadata: { httpStatusCode: 400 } });
    await client.send(new PutObjectCommand({ Bucket: INPUT, Key: longest, Body: 'x' }));
    expect(records.map((record) => decodeS3EventKey(record.s3.object.key))).toEqual([longest]);
  });

  it('refuses a key part it cannot store as a file name with KeyTooLongError instead of crashing', async () => {
    const key = `long/${'k'.repeat(234)}.mp4`;

    await expect(
      client.send(new PutObjectCommand({ Bucket: INPUT, Key: key, Body: 'x' })),
    ).rejects.toMatchObject({
      name: 'KeyTooLongError',
      message: expect.stringContaining('at most 233 bytes per part'),
    });
    await client.send(new PutObjectCommand({ Bucket: INPUT, Key: `long/${'k'.repeat(229)}.mp4`, Body: 'x' }));
    expect(records).toHaveLength(1);
  });
});

describe('local S3 server body timeout', () => {
  it('fails a PUT whose body stops short of its Content-Length instead of waiting forever, storing nothing', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-s3-idle-'));
    const server = await startS3Server({
      dataDir,
      buckets: [INPUT],
      onEvent: () => {},
      bodyIdleTimeoutMs: 300,
    });
    const client = createLocalS3Client({ endpoint: server.url });
    try {
      await expect(
        client.send(
          new PutObjectCommand({
            Bucket: INPUT,
            Key: 'short.mp4',
            Body: Readable.from([randomBytes(1000)]),
            ContentLength: 2000,
          }),
        ),
      ).rejects.toThrow();
      await expect(
        client.send(new HeadObjectCommand({ Bucket: INPUT, Key: 'short.mp4' })),
      ).rejects.toMatchObject({ name: 'NotFound' });
    } finally {
      client.destroy();
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('local S3 server persistence', () => {
  it('keeps buckets and objects across a restart on the same data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-s3-'));
    try {
      const first = await startS3Server({ dataDir, buckets: [INPUT], onEvent: () => {} });
      const firstClient = createLocalS3Client({ endpoint: first.url });
      await firstClient.send(new PutObjectCommand({ Bucket: INPUT, Key: KEY, Body: 'persisted' }));
      firstClient.destroy();
      await first.close();

      const second = await startS3Server({ dataDir, buckets: [INPUT, OUTPUT], onEvent: () => {} });
      const secondClient = createLocalS3Client({ endpoint: second.url });
      try {
        expect(Buffer.from(await readObject(secondClient, INPUT, KEY)).toString()).toBe('persisted');
        expect(await second.listBuckets()).toEqual([INPUT, OUTPUT]);
      } finally {
        secondClient.destroy();
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** A jobs table as CDK synthesizes it, plus a global table and a resource to ignore. */
const TEMPLATE = {
  Resources: {
    InputBucket: { Type: 'AWS::S3::Bucket', Properties: {} },
    JobsTable1234ABCD: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        KeySchema: [{ AttributeName: 'jobId', KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: 'jobId', AttributeType: 'S' },
          { AttributeName: 'statusDay', AttributeType: 'S' },
          { AttributeName: 'statusChangedAt', AttributeType: 'S' },
          { AttributeName: 'sourceId', AttributeType: 'S' },
          { AttributeName: 'createdAt', AttributeType: 'S' },
          { AttributeName: 'generationId', AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byStatus',
            KeySchema: [
              { AttributeName: 'statusDay', KeyType: 'HASH' },
              { AttributeName: 'statusChangedAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: 'bySource',
            KeySchema: [
              { AttributeName: 'sourceId', KeyType: 'HASH' },
              { AttributeName: 'createdAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: 'byGenerationId',
            KeySchema: [{ AttributeName: 'generationId', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      },
    },
    LocksTable: {
      Type: 'AWS::DynamoDB::GlobalTable',
      Properties: {
        TableName: 'vidflow-locks',
        KeySchema: [{ AttributeName: 'lockId', KeyType: 'HASH' }],
        AttributeDefinitions: [
          { AttributeName: 'lockId', AttributeType: 'S' },
          { AttributeName: 'owner', AttributeType: 'S' },
        ],
        BillingMode: 'PROVISIONED',
        WriteProvisionedThroughputSettings: {
          WriteCapacityAutoScalingSettings: {
            MinCapacity: 1,
            MaxCapacity: 10,
            TargetTrackingScalingPolicyConfiguration: { TargetValue: 70 },
          },
        },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        Replicas: [{ Region: 'us-east-1', ReadProvisionedThroughputSettings: { ReadCapacityUnits: 5 } }],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byOwner',
            KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
            WriteProvisionedThroughputSettings: {
              WriteCapacityAutoScalingSettings: { MinCapacity: 1, MaxCapacity: 10 },
            },
          },
        ],
      },
    },
  },
} as const;

const resolveName = (logicalId: string) => (logicalId.startsWith('JobsTable') ? 'vidflow-jobs' : logicalId);

describe('local DynamoDB server', () => {
  let dataDir: string;
  let server: DynamoDbServerHandle;
  let client: DynamoDBClient;
  let documents: DynamoDBDocumentClient;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vidflow-dynamodb-'));
    server = await startDynamoDbServer({ dataDir });
    client = createLocalDynamoDbClient({ endpoint: server.url });
    documents = DynamoDBDocumentClient.from(client);
  });

  afterAll(async () => {
    client.destroy();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates the template tables with their keys and indexes, on demand', async () => {
    expect(await ensureTablesFromTemplate(client, TEMPLATE, resolveName)).toEqual([
      'vidflow-jobs',
      'vidflow-locks',
    ]);

    const jobs = (await client.send(new DescribeTableCommand({ TableName: 'vidflow-jobs' }))).Table;
    expect(jobs?.TableStatus).toBe('ACTIVE');
    expect(jobs?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(jobs?.KeySchema).toEqual([{ AttributeName: 'jobId', KeyType: 'HASH' }]);
    const indexes = (jobs?.GlobalSecondaryIndexes ?? [])
      .map((index) => ({ name: index.IndexName, keys: index.KeySchema, projection: index.Projection }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name)));
    expect(indexes).toEqual([
      {
        name: 'byGenerationId',
        keys: [{ AttributeName: 'generationId', KeyType: 'HASH' }],
        projection: { ProjectionType: 'ALL' },
      },
      {
        name: 'bySource',
        keys: [
          { AttributeName: 'sourceId', KeyType: 'HASH' },
          { AttributeName: 'createdAt', KeyType: 'RANGE' },
        ],
        projection: { ProjectionType: 'ALL' },
      },
      {
        name: 'byStatus',
        keys: [
          { AttributeName: 'statusDay', KeyType: 'HASH' },
          { AttributeName: 'statusChangedAt', KeyType: 'RANGE' },
        ],
        projection: { ProjectionType: 'ALL' },
      },
    ]);

    const locks = (await client.send(new DescribeTableCommand({ TableName: 'vidflow-locks' }))).Table;
    expect(locks?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(
      locks?.GlobalSecondaryIndexes?.map((index) => [index.IndexName, index.Projection?.ProjectionType]),
    ).toEqual([['byOwner', 'KEYS_ONLY']]);
  });

  it('takes the template name as is and asks resolveName otherwise', () => {
    const names = buildCreateTableInputs(TEMPLATE, (logicalId) => `resolved-${logicalId}`).map(
      (input) => input.TableName,
    );
    expect(names).toEqual(['resolved-JobsTable1234ABCD', 'vidflow-locks']);
  });

  it('answers queries on the global indexes, the sparse one holding only items with its key', async () => {
    const job = (jobId: string, status: string, at: string, generationId?: string) => ({
      jobId,
      statusDay: `${status}#${at.slice(0, 10)}`,
      statusChangedAt: at,
      sourceId: `${INPUT}/${KEY}`,
      createdAt: at,
      ...(generationId !== undefined && { generationId }),
    });
    for (const item of [
      job('job-a', 'COMPLETED', '2025-05-01T10:00:00.000Z', 'gen-a'),
      job('job-b', 'COMPLETED', '2025-05-01T12:00:00.000Z', 'gen-b'),
      job('job-c', 'AWAITING_PROMPT', '2025-05-01T11:00:00.000Z'),
    ]) {
      await documents.send(new PutCommand({ TableName: 'vidflow-jobs', Item: item }));
    }

    const completed = await documents.send(
      new QueryCommand({
        TableName: 'vidflow-jobs',
        IndexName: 'byStatus',
        KeyConditionExpression: 'statusDay = :day AND statusChangedAt BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':day': 'COMPLETED#2025-05-01',
          ':from': '2025-05-01T00:00:00.000Z',
          ':to': '2025-05-01T23:59:59.999Z',
        },
        ScanIndexForward: false,
      }),
    );
    expect(completed.Items?.map((item) => item.jobId)).toEqual(['job-b', 'job-a']);

    const bySource = await documents.send(
      new QueryCommand({
        TableName: 'vidflow-jobs',
        IndexName: 'bySource',
        KeyConditionExpression: 'sourceId = :source',
        ExpressionAttributeValues: { ':source': `${INPUT}/${KEY}` },
      }),
    );
    expect(bySource.Items?.map((item) => item.jobId)).toEqual(['job-a', 'job-c', 'job-b']);

    const byGeneration = await documents.send(
      new QueryCommand({
        TableName: 'vidflow-jobs',
        IndexName: 'byGenerationId',
        KeyConditionExpression: 'generationId = :id',
        ExpressionAttributeValues: { ':id': 'gen-b' },
      }),
    );
    expect(byGeneration.Items?.map((item) => item.jobId)).toEqual(['job-b']);
  });

  it('accepts an unchanged template again and refuses one whose index keys changed', async () => {
    expect(await ensureTablesFromTemplate(client, TEMPLATE, resolveName)).toEqual([
      'vidflow-jobs',
      'vidflow-locks',
    ]);

    // (An index the template gained is added instead: local-table-upgrade.test.ts.)
    const changed = structuredClone(TEMPLATE) as unknown as {
      Resources: {
        JobsTable1234ABCD: { Properties: { GlobalSecondaryIndexes: { KeySchema: unknown[] }[] } };
      };
    };
    const byStatus = changed.Resources.JobsTable1234ABCD.Properties.GlobalSecondaryIndexes[0];
    if (byStatus !== undefined) byStatus.KeySchema = [{ AttributeName: 'statusDay', KeyType: 'HASH' }];
    await expect(ensureTablesFromTemplate(client, changed, resolveName)).rejects.toThrow(
      LocalTableMismatchError,
    );
    await expect(ensureTablesFromTemplate(client, changed, resolveName)).rejects.toThrow(
      'global index byStatus has keys statusDay:HASH,statusChangedAt:RANGE',
    );
  });

  it('lists its tables to the real AWS CLI', async () => {
    const output = await awsCli([
      'dynamodb',
      'list-tables',
      '--endpoint-url',
      server.url,
      '--output',
      'json',
    ]);
    expect(JSON.parse(output)).toEqual({ TableNames: ['vidflow-jobs', 'vidflow-locks'] });
  });

  it('keeps tables and items across a restart on the same data directory', async () => {
    client.destroy();
    await server.close();
    server = await startDynamoDbServer({ dataDir });
    client = createLocalDynamoDbClient({ endpoint: server.url });
    documents = DynamoDBDocumentClient.from(client);

    const item = await documents.send(new GetCommand({ TableName: 'vidflow-jobs', Key: { jobId: 'job-b' } }));
    expect(item.Item?.generationId).toBe('gen-b');
    expect(await ensureTablesFromTemplate(client, TEMPLATE, resolveName)).toEqual([
      'vidflow-jobs',
      'vidflow-locks',
    ]);
  });
});
