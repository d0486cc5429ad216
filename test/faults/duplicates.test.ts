/**
 * Duplicate deliveries (issue 4, README "Nothing lost, nothing paid twice"): S3 delivers notifications at least once,
 * so the same record reaches submit again, at once or later; a video and its sidecar land in
 * the same instant. Each upload still makes one job and one paid POST. (Two manifests naming
 * one video are two jobs: test/integration/parameters.test.ts proves it.)
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import {
  type FaultRuntime,
  notificationOf,
  promptOf,
  sortProviderCalls,
  startFaultRuntime,
} from '../support/fault-harness.js';
import {
  emulatorRequests,
  eventsOfJob,
  hasStatus,
  jobIdOf,
  postsForObject,
  putObject,
  testClip,
  waitFor,
  waitForJob,
} from '../support/runtime-harness.js';

describe.concurrent('the same S3 notification delivered again', { timeout: 120_000 }, () => {
  let rt: FaultRuntime;
  let clip: Uint8Array;

  beforeAll(async () => {
    // A prior typical time below the polling floor: the policy checks from the first second
    // instead of first near the likely finish (docs/polling.md), so the job of the test that
    // delivers again while generating is seen GENERATING while it generates.
    rt = await startFaultRuntime({ functionEnvironment: { VIDFLOW_POLL_TYPICAL_SECONDS: '0.5' } });
    clip = await readFile(await testClip());
  });

  afterAll(async () => {
    await rt?.stop();
  });

  const putVideo = (key: string, metadata?: Record<string, string>) =>
    putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key,
      body: clip,
      ...(metadata === undefined ? {} : { metadata }),
    });

  /** One job for the key, COMPLETED, one POST, one terminal event: the state after any duplicates. */
  async function expectOneJobOnePost(key: string, jobId: string): Promise<Job> {
    const job = await waitForJob(rt.clients.jobs, jobId);
    expect([job.status, job.error?.code]).toEqual([JobStatus.completed, undefined]);
    const ofSource = await rt.clients.jobs.listBySource(rt.endpoints.inputBucket, key);
    expect(ofSource.map((other) => other.jobId)).toEqual([jobId]);
    const entries = await emulatorRequests(rt.endpoints.provider);
    const posts = postsForObject(entries, rt.endpoints.inputBucket, key);
    expect(posts.map((post) => [post.status, post.generationId])).toEqual([[200, job.generationId]]);
    // Events are written after the record; wait for the one, then make sure it stays one.
    await waitFor('the terminal event', async () =>
      (await eventsOfJob(rt.endpoints.eventsFile, jobId)).length > 0 ? true : undefined,
    );
    expect((await eventsOfJob(rt.endpoints.eventsFile, jobId)).map((event) => event.detailType)).toEqual([
      'Job Completed',
    ]);
    return job;
  }

  it.each([2, 3, 4, 5])(
    'makes one job and one POST of an upload whose notification arrives %i times at once',
    async (deliveries) => {
      const key = `duplicates/at-once-${deliveries}.mp4`;
      const jobId = await putVideo(key, { prompt: promptOf(key), 'frame-size': '640:480' });
      const notification = await notificationOf(rt, key);

      await Promise.all(
        Array.from({ length: deliveries - 1 }, () => rt.runtime.deliverS3Event(notification)),
      );

      await expectOneJobOnePost(key, jobId);
    },
  );

  it('makes one job and one POST of a notification delivered again while submitting, generating and after completion', async () => {
    const key = 'duplicates/spaced.mp4';
    const jobId = await putVideo(key, { prompt: promptOf(key), 'frame-size': '640:480' });
    const notification = await notificationOf(rt, key);

    await rt.runtime.deliverS3Event(notification);
    await waitForJob(rt.clients.jobs, jobId, (job) => job.generationId !== undefined);
    await rt.runtime.deliverS3Event(notification);
    await waitForJob(rt.clients.jobs, jobId, hasStatus(JobStatus.generating));
    await rt.runtime.deliverS3Event(notification);
    const completed = await expectOneJobOnePost(key, jobId);

    // Two more after the end: the terminal record does not change, and nothing is paid again.
    await rt.runtime.deliverS3Event(notification);
    await rt.runtime.deliverS3Event(notification);
    await rt.runtime.drainSubmissions();
    const after = await expectOneJobOnePost(key, jobId);
    expect(after.updatedAt).toBe(completed.updatedAt);
    expect(after.attempt).toBe(1);
  });

  it('makes one job and one POST of a video and its sidecar uploaded at the same instant, four times over', async () => {
    const keys = ['race/a/clip.mp4', 'race/b/clip.mp4', 'race/c/clip.mp4', 'race/d/clip.mp4'];
    const jobIds = await Promise.all(
      keys.map(async (key) => {
        const [jobId] = await Promise.all([
          putVideo(key),
          putObject(rt.clients.s3, {
            bucket: rt.endpoints.inputBucket,
            key: `${key}.json`,
            body: JSON.stringify({ prompt: promptOf(key), frame_size: '640:480' }),
            contentType: 'application/json',
          }),
        ]);
        return jobId;
      }),
    );

    for (const [index, key] of keys.entries()) {
      const jobId = jobIds[index] ?? '';
      expect(jobId).toBe(await jobIdOf(rt.clients.s3, rt.endpoints.inputBucket, key));
      const job = await expectOneJobOnePost(key, jobId);
      expect(job.request?.prompt).toBe(promptOf(key));
    }
    // The sidecars themselves are no jobs.
    const calls = sortProviderCalls(await emulatorRequests(rt.endpoints.provider));
    const racePosts = calls.posts.filter((post) =>
      keys.some((key) => JSON.stringify(post.body).includes(promptOf(key))),
    );
    expect(racePosts).toHaveLength(keys.length);
  });
});
