/**
 * The local S3 server authenticates like real S3: every request carries a valid SigV4 signature
 * (header or presigned query) for the local credentials, or is refused with S3's own 403s.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalS3Client, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws-clients.js';
import { type S3ServerHandle, startS3Server } from '../../local/s3-server.js';

const run = promisify(execFile);
const BUCKET = 'vidflow-input';
const KEY = 'trips/my clip+1 100%/vidéo 東京.mp4';
const BODY = 'not really a video';

/** The S3 error code of an XML error body (GET); HEAD answers carry none. */
async function errorCode(response: Response): Promise<string | undefined> {
  return /<Code>([^<]+)<\/Code>/.exec(await response.text())?.[1];
}

describe('local S3 authentication (SigV4, as real S3)', () => {
  let dataDir: string;
  let server: S3ServerHandle;
  let client: S3Client;

  const clientWith = (credentials: { accessKeyId: string; secretAccessKey: string }, region = LOCAL_REGION) =>
    new S3Client({ endpoint: server.url, region, credentials, forcePathStyle: true });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vidflow-s3-auth-'));
    server = await startS3Server({ dataDir, buckets: [BUCKET], onEvent: () => {} });
    client = createLocalS3Client({ endpoint: server.url });
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: BODY, ContentType: 'video/mp4' }),
    );
  });

  afterAll(async () => {
    client.destroy();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves header-signed SDK requests, keys with spaces and Unicode and queries included', async () => {
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'trips/my clip+1 ' }),
    );
    expect(listed.Contents?.map((o) => o.Key)).toEqual([KEY]);
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }));
    expect(head.ContentLength).toBe(BODY.length);
  });

  it('answers a GET of a URL presigned for GET with 200 and the object', async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), {
      expiresIn: 60,
    });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(BODY);
  });

  it('answers HEAD of a URL presigned for GET with 403 (the method is signed)', async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), {
      expiresIn: 60,
    });
    const response = await fetch(url, { method: 'HEAD' });
    // S3 answers a HEAD without a body, so without an error code to read.
    expect(response.status).toBe(403);
  });

  it('answers a tampered X-Amz-Signature with 403 SignatureDoesNotMatch', async () => {
    const url = new URL(
      await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), { expiresIn: 60 }),
    );
    const signature = url.searchParams.get('X-Amz-Signature') ?? '';
    url.searchParams.set('X-Amz-Signature', `${signature.startsWith('0') ? '1' : '0'}${signature.slice(1)}`);
    const response = await fetch(url);
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('SignatureDoesNotMatch');
  });

  it('answers a presigned URL whose key was changed with 403 SignatureDoesNotMatch', async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), {
      expiresIn: 60,
    });
    const response = await fetch(url.replace('.mp4?', '.mov?'));
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('SignatureDoesNotMatch');
  });

  it('answers an expired presigned URL with 403 AccessDenied "Request has expired"', async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 61_000),
    });
    const response = await fetch(url);
    expect(response.status).toBe(403);
    const text = await response.text();
    expect(text).toContain('<Code>AccessDenied</Code>');
    expect(text).toContain('Request has expired');
  });

  it('answers an anonymous GET of a private object with 403 AccessDenied', async () => {
    const response = await fetch(
      `${server.url}/${BUCKET}/${KEY.split('/').map(encodeURIComponent).join('/')}`,
    );
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe('AccessDenied');
  });

  it('refuses a URL presigned for PUT when used to GET, and accepts the PUT', async () => {
    const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: BUCKET, Key: 'up.mp4' }), {
      expiresIn: 60,
    });
    expect((await fetch(url)).status).toBe(403);
    expect((await fetch(url, { method: 'PUT', body: 'uploaded' })).status).toBe(200);
  });

  it('refuses a wrong secret (SignatureDoesNotMatch), an unknown key (InvalidAccessKeyId) and another region', async () => {
    const wrongSecret = clientWith({ accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' });
    await expect(wrongSecret.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }))).rejects.toMatchObject(
      {
        $metadata: { httpStatusCode: 403 },
      },
    );
    await expect(wrongSecret.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
    const unknownKey = clientWith({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' });
    await expect(unknownKey.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }))).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
    });
    const otherRegion = clientWith(LOCAL_CREDENTIALS, 'eu-west-3');
    await expect(otherRegion.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }))).rejects.toMatchObject({
      name: 'AuthorizationHeaderMalformed',
    });
  });

  it('serves the real AWS CLI; a URL it presigns with SigV4 answers GET, one with SigV2 answers 400', async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'vidflow-awscli-'));
    const sigV4Config = join(scratch, 'config-s3v4');
    await writeFile(sigV4Config, '[default]\ns3 =\n  signature_version = s3v4\n');
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_'))),
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_CONFIG_FILE: join(scratch, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'credentials'),
    };
    try {
      const cli = (args: string[]) => run('aws', ['--endpoint-url', server.url, ...args], { env });
      expect((await cli(['s3', 'ls', `s3://${BUCKET}/trips/`, '--recursive'])).stdout).toContain(KEY);
      // Against a custom endpoint the CLI presigns with SigV2 unless told otherwise.
      const presign = ['s3', 'presign', `s3://${BUCKET}/${KEY}`, '--expires-in', '60'];
      const sigV2 = await fetch((await cli(presign)).stdout.trim());
      expect(sigV2.status).toBe(400);
      expect(await errorCode(sigV2)).toBe('InvalidRequest');
      env.AWS_CONFIG_FILE = sigV4Config;
      const sigV4 = await fetch((await cli(presign)).stdout.trim());
      expect(sigV4.status).toBe(200);
      expect(await sigV4.text()).toBe(BODY);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
