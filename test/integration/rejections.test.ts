/**
 * Bad input is refused before any paid call (README "Dropping a video" and "How it fails"): the job ends REJECTED
 * with its code, a "Job Rejected" event is written, and the emulator never sees a POST.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RejectionCode } from '../../functions/domain/errors.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import {
  emulatorRequests,
  eventsOfJob,
  generationPosts,
  putObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitFor,
  waitForJob,
} from '../support/runtime-harness.js';

describe('rejected drops', () => {
  let rt: TestRuntime;
  let clip: Uint8Array;

  beforeAll(async () => {
    rt = await startTestRuntime();
    clip = await readFile(await testClip());
  });

  afterAll(async () => {
    await rt?.stop();
  });

  /** Waits for the job to end and for its terminal event, which is written after the record. */
  async function settle(jobId: string): Promise<Job> {
    const job = await waitForJob(rt.clients.jobs, jobId);
    await waitFor('the terminal event', async () =>
      (await eventsOfJob(rt.endpoints.eventsFile, jobId)).length > 0 ? true : undefined,
    );
    return job;
  }

  async function expectRejectedWithoutPaidCall(job: Job, code: RejectionCode): Promise<void> {
    expect(job.status).toBe(JobStatus.rejected);
    expect(job.error).toMatchObject({ code, stage: 'submit', retryable: false });
    expect(job.generationId).toBeUndefined();
    expect(job.executionArn).toBeUndefined();
    expect(job.completedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const events = await eventsOfJob(rt.endpoints.eventsFile, job.jobId);
    expect(
      events.map((event) => [event.detailType, event.detail.status, event.detail.schemaVersion]),
    ).toEqual([['Job Rejected', JobStatus.rejected, 1]]);
    // No test in this file submits a valid drop, so the emulator must have seen no create call.
    expect(generationPosts(await emulatorRequests(rt.endpoints.provider))).toEqual([]);
  }

  it('rejects text bytes named .mp4 as NOT_A_VIDEO', async () => {
    const jobId = await putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key: 'bad/notes.mp4',
      body: 'these are meeting notes, not a video\n'.repeat(20),
      metadata: { prompt: 'make it pop' },
    });

    await expectRejectedWithoutPaidCall(await settle(jobId), RejectionCode.notAVideo);
  });

  it('rejects a prompt over 1000 characters as PROMPT_TOO_LONG', async () => {
    const jobId = await putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key: 'bad/long prompt.mp4',
      body: clip,
      metadata: { prompt: 'a'.repeat(1001) },
    });

    const job = await settle(jobId);

    await expectRejectedWithoutPaidCall(job, RejectionCode.promptTooLong);
    expect(job.error?.message).toContain('1001 characters');
  });

  it('rejects a frame size the model does not offer as FRAME_SIZE_INVALID', async () => {
    const jobId = await putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key: 'bad/full hd.mp4',
      body: clip,
      metadata: { prompt: 'make it pop', 'frame-size': '1920:1080' },
    });

    const job = await settle(jobId);

    await expectRejectedWithoutPaidCall(job, RejectionCode.frameSizeInvalid);
    expect(job.error?.message).toContain('1920:1080');
  });

  it('creates no job for a .txt upload', async () => {
    const key = 'bad/readme.txt';
    const wouldBeJobId = await putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key,
      body: 'not a drop',
      contentType: 'text/plain',
      metadata: { prompt: 'make it pop' },
    });
    // Any S3 event the upload caused was queued before the PUT was answered: let submit finish it.
    await rt.runtime.drainSubmissions();

    expect(await rt.clients.jobs.get(wouldBeJobId)).toBeUndefined();
    expect(await rt.clients.jobs.listBySource(rt.endpoints.inputBucket, key)).toEqual([]);
  });
});
