/**
 * Re-uploads in a bucket without versioning (the local input bucket; docs/architecture.md "Job
 * identity"): the same bytes written twice to one key within one second share ETag and
 * Last-Modified, and a copy in place keeps the ETag; each write is still its own job and its own
 * POST, named by the event's sequencer, while duplicate deliveries of one write stay one job.
 */
import { readFile } from 'node:fs/promises';
import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveJobId, type Job, JobStatus } from '../../functions/domain/job.js';
import { type FaultRuntime, notificationsOf, startFaultRuntime } from '../support/fault-harness.js';
import {
  awsCli,
  emulatorRequests,
  isSettled,
  jobIdOf,
  postsForObject,
  putObject,
  testClip,
  waitFor,
} from '../support/runtime-harness.js';

describe('writes of one key in a bucket without versioning', { timeout: 120_000 }, () => {
  let rt: FaultRuntime;
  let clip: Uint8Array;

  beforeAll(async () => {
    rt = await startFaultRuntime();
    clip = await readFile(await testClip());
  });

  afterAll(async () => {
    await rt?.stop();
  });

  const head = async (key: string) => {
    const result = await rt.clients.s3.send(
      new HeadObjectCommand({ Bucket: rt.endpoints.inputBucket, Key: key }),
    );
    return {
      eTag: result.ETag,
      lastModified: result.LastModified?.toISOString(),
      versionId: result.VersionId,
    };
  };

  const put = (key: string, prompt: string) =>
    putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key,
      body: clip,
      metadata: { prompt, 'frame-size': '640:480' },
    });

  /** PUTs the same bytes twice under a fresh key; returns the key once both writes fell in one second. */
  async function putTwiceWithinOneSecond(prefix: string): Promise<string> {
    for (let tries = 0; tries < 5; tries += 1) {
      const key = `${prefix}-${tries}.mp4`;
      await put(key, 'same bytes');
      const first = await head(key);
      await put(key, 'same bytes');
      const second = await head(key);
      expect(second.versionId).toBeUndefined();
      if (second.eTag === first.eTag && second.lastModified === first.lastModified) return key;
    }
    throw new Error('no two PUTs within one second in 5 tries');
  }

  /** The jobs of `key`, once `count` of them exist and all are settled. */
  async function settledJobs(key: string, count: number): Promise<readonly Job[] | undefined> {
    const jobs = await rt.clients.jobs.listBySource(rt.endpoints.inputBucket, key);
    return jobs.length >= count && jobs.every(isSettled) ? jobs : undefined;
  }

  async function expectCompletedJobsAndPosts(key: string, count: number): Promise<readonly Job[]> {
    const jobs = await waitFor(`${count} settled jobs of ${key}`, () => settledJobs(key, count));
    expect(jobs.map((job) => [job.status, job.error?.code])).toStrictEqual(
      Array(count).fill([JobStatus.completed, undefined]),
    );
    expect(new Set(jobs.map((job) => job.trigger.sequencer)).size).toBe(count);
    for (const job of jobs) expect(job.jobId).toMatch(/^[a-z2-7]{20}$/);
    const posts = postsForObject(
      await emulatorRequests(rt.endpoints.provider),
      rt.endpoints.inputBucket,
      key,
    );
    expect(posts.map((post) => post.status)).toStrictEqual(Array(count).fill(200));
    expect(new Set(posts.map((post) => post.generationId))).toStrictEqual(
      new Set(jobs.map((job) => job.generationId)),
    );
    return jobs;
  }

  it('makes the same bytes uploaded twice within one second two jobs and two POSTs', async () => {
    const key = await putTwiceWithinOneSecond('reuploads/twice');
    await expectCompletedJobsAndPosts(key, 2);
  });

  it('makes a copy in place with new metadata a new job, with the new prompt', async () => {
    const key = 'reuploads/copied.mp4';
    await put(key, 'before the copy');
    await rt.clients.s3.send(
      new CopyObjectCommand({
        Bucket: rt.endpoints.inputBucket,
        Key: key,
        CopySource: `${rt.endpoints.inputBucket}/${key}`,
        MetadataDirective: 'REPLACE',
        ContentType: 'video/mp4',
        Metadata: { prompt: 'after the copy', 'frame-size': '640:480' },
      }),
    );
    const jobs = await expectCompletedJobsAndPosts(key, 2);
    expect(new Set(jobs.map((job) => job.source.eTag)).size).toBe(1);
    expect(jobs.map((job) => job.request?.prompt)).toContain('after the copy');
  });

  it('keeps one job per write when each of two same-second writes is delivered three more times', async () => {
    const key = await putTwiceWithinOneSecond('reuploads/duplicated');
    const notifications = await waitFor('the two notifications', async () => {
      const found = notificationsOf(rt, key);
      return found.length === 2 ? found : undefined;
    });
    await Promise.all(
      notifications.flatMap((notification) => [1, 2, 3].map(() => rt.runtime.deliverS3Event(notification))),
    );
    await rt.runtime.drainSubmissions();
    await expectCompletedJobsAndPosts(key, 2);
  });
});

describe('writes of one key in a versioned bucket (as the AWS stack input bucket)', {
  timeout: 120_000,
}, () => {
  let rt: FaultRuntime;
  let clip: Uint8Array;

  beforeAll(async () => {
    rt = await startFaultRuntime({ versionedInput: true });
    clip = await readFile(await testClip());
  });

  afterAll(async () => {
    await rt?.stop();
  });

  it('makes two PUTs of the same bytes two jobs named by version id, each delivered three more times still one job', async () => {
    const key = 'versioned/twice.mp4';
    const put = () =>
      rt.clients.s3.send(
        new PutObjectCommand({
          Bucket: rt.endpoints.inputBucket,
          Key: key,
          Body: clip,
          ContentType: 'video/mp4',
          Metadata: { prompt: 'same bytes', 'frame-size': '640:480' },
        }),
      );
    const first = await put();
    const second = await put();
    const versionIds = [first.VersionId, second.VersionId];
    expect(new Set(versionIds).size).toBe(2);
    expect(first.ETag).toBe(second.ETag);
    const expectedIds = versionIds.map((versionId) =>
      deriveJobId({
        bucket: rt.endpoints.inputBucket,
        key,
        eTag: (first.ETag ?? '').replaceAll('"', ''),
        ...(versionId === undefined ? {} : { versionId }),
      }),
    );
    // The harness derives the id of the current version from a HEAD, version id included.
    expect(await jobIdOf(rt.clients.s3, rt.endpoints.inputBucket, key)).toBe(expectedIds[1]);

    const notifications = await waitFor('the two notifications', async () => {
      const found = notificationsOf(rt, key);
      return found.length === 2 ? found : undefined;
    });
    expect(notifications.map((event) => event.Records[0]?.s3.object.versionId)).toStrictEqual(versionIds);
    await Promise.all(
      notifications.flatMap((notification) => [1, 2, 3].map(() => rt.runtime.deliverS3Event(notification))),
    );
    await rt.runtime.drainSubmissions();

    const jobs = await waitFor('2 settled jobs', async () => {
      const found = await rt.clients.jobs.listBySource(rt.endpoints.inputBucket, key);
      return found.length >= 2 && found.every(isSettled) ? found : undefined;
    });
    expect(jobs.map((job) => job.jobId).sort()).toStrictEqual([...expectedIds].sort());
    expect(jobs.map((job) => [job.status, job.source.versionId])).toStrictEqual(
      expect.arrayContaining([
        [JobStatus.completed, versionIds[0]],
        [JobStatus.completed, versionIds[1]],
      ]),
    );
    const posts = postsForObject(
      await emulatorRequests(rt.endpoints.provider),
      rt.endpoints.inputBucket,
      key,
    );
    expect(posts.map((post) => post.status)).toStrictEqual([200, 200]);
  });

  it('lists both versions with `aws s3api list-object-versions`', async () => {
    const key = 'versioned/listed.mp4';
    for (const prompt of ['one', 'two']) {
      await rt.clients.s3.send(
        new PutObjectCommand({
          Bucket: rt.endpoints.inputBucket,
          Key: key,
          Body: clip,
          Metadata: { prompt },
        }),
      );
    }
    const listed = await awsCli([
      's3api',
      'list-object-versions',
      '--bucket',
      rt.endpoints.inputBucket,
      '--prefix',
      key,
      '--endpoint-url',
      rt.endpoints.s3,
    ]);
    const versions = (listed as { Versions?: Array<{ Key: string; IsLatest: boolean }> }).Versions ?? [];
    expect(versions.map((version) => [version.Key, version.IsLatest])).toStrictEqual([
      [key, true],
      [key, false],
    ]);
  });
});
