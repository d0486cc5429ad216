/**
 * Where a drop's generation parameters come from (README "Dropping a video"): metadata, a sidecar
 * `<video key>.json` arriving before or after the video, folder presets `_defaults.json`, and
 * `jobs/` manifests. Each test uses its own folder, since a preset applies to everything below it.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStatus, MODEL } from '../../functions/domain/job.js';
import {
  emulatorRequests,
  generationPosts,
  hasStatus,
  objectExists,
  putObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitForJob,
} from '../support/runtime-harness.js';

const TEST_TIMEOUT_MS = 120_000;

describe.concurrent('generation parameters', { timeout: TEST_TIMEOUT_MS }, () => {
  let rt: TestRuntime;
  let clip: Uint8Array;

  beforeAll(async () => {
    rt = await startTestRuntime();
    clip = await readFile(await testClip());
  });

  afterAll(async () => {
    await rt?.stop();
  });

  const putJson = (key: string, value: unknown) =>
    putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key,
      body: JSON.stringify(value),
      contentType: 'application/json',
    });
  const putVideo = (key: string, metadata?: Record<string, string>) =>
    putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key,
      body: clip,
      ...(metadata === undefined ? {} : { metadata }),
    });

  it('uses the prompt of a sidecar uploaded before the video', async () => {
    await putJson('sidecar-first/clip.mp4.json', { prompt: 'paint it like Hokusai', frame_size: '640:480' });
    const jobId = await putVideo('sidecar-first/clip.mp4');

    const job = await waitForJob(rt.clients.jobs, jobId);

    expect(job.status).toBe(JobStatus.completed);
    expect(job.request).toEqual({
      model: MODEL,
      prompt: 'paint it like Hokusai',
      frameSize: '640:480',
      duration: 5,
    });
  });

  it('keeps a video without a prompt in AWAITING_PROMPT until its sidecar lands, then completes it', async () => {
    const jobId = await putVideo('sidecar-later/clip.mp4');
    const waiting = await waitForJob(rt.clients.jobs, jobId, hasStatus(JobStatus.awaitingPrompt));
    expect(waiting.request).toBeUndefined();
    expect(waiting.generationId).toBeUndefined();

    await putJson('sidecar-later/clip.mp4.json', { prompt: 'make it autumn', frame_size: '640:480' });
    const job = await waitForJob(rt.clients.jobs, jobId);

    expect(job.status).toBe(JobStatus.completed);
    expect(job.request).toEqual({
      model: MODEL,
      prompt: 'make it autumn',
      frameSize: '640:480',
      duration: 5,
    });
    expect(job.createdAt).toBe(waiting.createdAt);
  });

  it('applies the _defaults.json of a parent folder to a video in a nested folder', async () => {
    await putJson('presets/_defaults.json', {
      prompt: 'black and white film noir',
      frame_size: '640:480',
      seed: 42,
    });
    const jobId = await putVideo('presets/2024/march/clip.mp4');

    const job = await waitForJob(rt.clients.jobs, jobId);

    expect(job.status).toBe(JobStatus.completed);
    expect(job.request).toEqual({
      model: MODEL,
      prompt: 'black and white film noir',
      frameSize: '640:480',
      duration: 5,
      seed: 42,
    });
    expect(job.output?.key).toBe(`presets/2024/march/clip/${jobId}.mp4`);
  });

  it('takes each field from metadata over the sidecar over the folder preset', async () => {
    await putJson('precedence/_defaults.json', {
      prompt: 'from the preset',
      frame_size: '1280:720',
      seed: 7,
    });
    await putJson('precedence/deep/clip.mp4.json', { prompt: 'from the sidecar', frame_size: '640:480' });
    const jobId = await putVideo('precedence/deep/clip.mp4', { prompt: 'from the metadata' });

    const job = await waitForJob(rt.clients.jobs, jobId);

    expect(job.status).toBe(JobStatus.completed);
    expect(job.request).toEqual({
      model: MODEL,
      prompt: 'from the metadata',
      frameSize: '640:480',
      duration: 5,
      seed: 7,
    });
  });

  it('runs an existing video with the prompt of a jobs/ manifest', async () => {
    const videoJobId = await putVideo('library/one/base.mp4');
    await waitForJob(rt.clients.jobs, videoJobId, hasStatus(JobStatus.awaitingPrompt));

    const jobId = await putJson('jobs/one.json', {
      video: 'library/one/base.mp4',
      prompt: 'as a pencil sketch',
      frame_size: '640:480',
    });
    const job = await waitForJob(rt.clients.jobs, jobId);

    expect(jobId).not.toBe(videoJobId);
    expect(job.status).toBe(JobStatus.completed);
    expect(job.trigger).toMatchObject({
      kind: 'manifest',
      bucket: rt.endpoints.inputBucket,
      key: 'jobs/one.json',
    });
    expect(job.source).toMatchObject({ bucket: rt.endpoints.inputBucket, key: 'library/one/base.mp4' });
    expect(job.request).toEqual({
      model: MODEL,
      prompt: 'as a pencil sketch',
      frameSize: '640:480',
      duration: 5,
    });
    expect(job.output?.key).toBe(`library/one/base/${jobId}.mp4`);
    expect(
      await objectExists(rt.clients.s3, rt.endpoints.outputBucket, `library/one/base/${jobId}.mp4`),
    ).toBe(true);
    // The manifest does not touch the video's own job, which still waits for a prompt.
    expect((await rt.clients.jobs.get(videoJobId))?.status).toBe(JobStatus.awaitingPrompt);
  });

  it('runs two manifests naming one video as two jobs with two paid generations', async () => {
    await putVideo('library/two/base.mp4', { prompt: 'the video own prompt', 'frame-size': '640:480' });

    const [firstId, secondId] = await Promise.all([
      putJson('jobs/two-a.json', { video: 'library/two/base.mp4', prompt: 'as a watercolor' }),
      putJson('jobs/two-b.json', { video: 'library/two/base.mp4', prompt: 'as an oil painting' }),
    ]);
    const first = await waitForJob(rt.clients.jobs, firstId);
    const second = await waitForJob(rt.clients.jobs, secondId);

    expect(firstId).not.toBe(secondId);
    expect([first.status, second.status]).toEqual([JobStatus.completed, JobStatus.completed]);
    // The manifest's prompt wins; the rest falls back to the video's own metadata.
    expect(first.request).toMatchObject({ prompt: 'as a watercolor', frameSize: '640:480' });
    expect(second.request).toMatchObject({ prompt: 'as an oil painting', frameSize: '640:480' });
    expect(first.generationId).not.toBe(second.generationId);
    const posts = generationPosts(await emulatorRequests(rt.endpoints.provider));
    expect(posts.filter((post) => post.generationId === first.generationId)).toHaveLength(1);
    expect(posts.filter((post) => post.generationId === second.generationId)).toHaveLength(1);
  });
});
