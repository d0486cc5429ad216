/**
 * The model catalog end to end: a drop per catalog model, with that model's own fields, completes
 * with exactly one POST carrying them; a drop per model with one field outside its published rules
 * ends REJECTED naming the model and the field, and nothing is POSTed. Each test uses its own folder.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvName } from '../../functions/config/env-names.js';
import { JobStatus, MODEL } from '../../functions/domain/job.js';
import { eventDetailProblems } from '../cli/schemas.js';
import {
  emulatorRequests,
  eventsOfJob,
  generationPosts,
  postsForObject,
  putObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitFor,
  waitForJob,
} from '../support/runtime-harness.js';

const TEST_TIMEOUT_MS = 120_000;
const CHARACTER = { type: 'image', url: 'https://cdn.example.com/faces/ada.png' };

/** Per model: the sidecar fields of a good drop, and one field out of its rules. */
const CASES: readonly {
  readonly model: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly bad: readonly [field: string, value: unknown];
}[] = [
  {
    model: 'runway/act_two',
    fields: { character: CHARACTER, expression_intensity: 4, body_control: true, frame_size: '960:960' },
    bad: ['expression_intensity', 6],
  },
  {
    model: 'krea/krea-wan-14b/video-to-video',
    fields: { prompt: 'turn it into a watercolour', strength: 0.4, enable_prompt_expansion: false, seed: 7 },
    bad: ['strength', 1.5],
  },
  {
    model: 'klingai/video-o1-video-to-video-edit',
    fields: {
      prompt: 'add a small fairy riding the raccoon',
      keep_audio: true,
      image_list: ['https://cdn.example.com/fairy.png'],
    },
    bad: ['prompt', 'x'.repeat(2501)],
  },
  {
    model: 'blackforestlabs/flux-3-video-v2v',
    fields: {
      prompt: 'the camera keeps flying over the sea',
      duration: 6,
      aspect_ratio: '16:9',
      generate_audio: false,
    },
    bad: ['duration', 21],
  },
  {
    model: 'blackforestlabs/flux-3-video-draft-v2v',
    fields: { prompt: 'a quick draft of what comes next', safety_tolerance: 1 },
    bad: ['resolution', 'fhd'],
  },
];

describe.concurrent('model catalog', { timeout: TEST_TIMEOUT_MS }, () => {
  let rt: TestRuntime;
  let restricted: TestRuntime;
  let clip: Uint8Array;

  beforeAll(async () => {
    [rt, restricted] = await Promise.all([
      startTestRuntime(),
      startTestRuntime({
        functionEnvironment: {
          [EnvName.defaultModel]: 'krea/krea-wan-14b/video-to-video',
          [EnvName.allowedModels]: 'krea/krea-wan-14b/video-to-video, runway/gen4_aleph',
        },
      }),
    ]);
    clip = await readFile(await testClip());
  });

  afterAll(async () => {
    await Promise.all([rt?.stop(), restricted?.stop()]);
  });

  const drop = async (
    runtime: TestRuntime,
    key: string,
    sidecar: Readonly<Record<string, unknown>> | undefined,
    metadata?: Record<string, string>,
  ) => {
    const bucket = runtime.endpoints.inputBucket;
    if (sidecar !== undefined) {
      await putObject(runtime.clients.s3, {
        bucket,
        key: `${key}.json`,
        body: JSON.stringify(sidecar),
        contentType: 'application/json',
      });
    }
    const jobId = await putObject(runtime.clients.s3, {
      bucket,
      key,
      body: clip,
      ...(metadata === undefined ? {} : { metadata }),
    });
    const job = await waitForJob(runtime.clients.jobs, jobId);
    const posts = postsForObject(await emulatorRequests(runtime.endpoints.provider), bucket, key);
    // The terminal event follows the record's last write.
    const events = await waitFor(`the terminal event of ${key}`, async () => {
      const found = await eventsOfJob(runtime.endpoints.eventsFile, jobId);
      return found.length > 0 ? found : undefined;
    });
    return { job, posts, events };
  };

  it.each(CASES)('completes a $model drop with its own fields and one POST', async ({ model, fields }) => {
    const { job, posts, events } = await drop(rt, `ok/${model}/clip.mp4`, { model, ...fields });

    expect(job.status).toBe(JobStatus.completed);
    expect(events.map((event) => event.detail.status)).toEqual([JobStatus.completed]);
    expect(events.map((event) => eventDetailProblems(event.detail))).toEqual([[]]);
    expect(events[0]?.detail).toMatchObject({ request: { model } });
    expect(job.output?.size).toBeGreaterThan(0);
    const videoField = model === 'runway/act_two' ? 'reference' : 'video_url';
    expect(job.request).toEqual({
      model,
      fields,
      videoField,
      ...(typeof fields.prompt === 'string' ? { prompt: fields.prompt } : {}),
      ...(typeof fields.frame_size === 'string' ? { frameSize: fields.frame_size } : {}),
    });
    expect(posts).toHaveLength(1);
    // postsForObject matched the POST by its video (video_url, or act_two's reference.url).
    const { [videoField]: video, ...sent } = (posts[0]?.body ?? {}) as Record<string, unknown>;
    expect(sent).toEqual({ model, ...fields });
    if (videoField === 'reference') expect(video).toMatchObject({ type: 'video' });
    // The runtime's log (echoed on the `vidflow dev` console) names the model of each submission.
    const log = (await readFile(join(rt.dataDir, 'runtime.log'), 'utf8')).split('\n');
    const submitted = log.filter(
      (line) => line.includes('"generation submitted"') && line.includes(job.jobId),
    );
    expect(submitted.map((line) => (JSON.parse(line) as { model?: string }).model)).toEqual([model]);
  });

  it.each(CASES)(
    'rejects a $model drop whose $bad.0 is out of its rules, with no POST',
    async ({ model, fields, bad }) => {
      const [field, value] = bad;
      const { job, posts, events } = await drop(rt, `bad/${model}/clip.mp4`, {
        model,
        ...fields,
        [field]: value,
      });

      expect(job.status).toBe(JobStatus.rejected);
      expect(job.error).toMatchObject({ code: 'MODEL_FIELD_INVALID', model, field, stage: 'submit' });
      expect(job.error?.message).toContain(`model ${model}, field ${field}: must be `);
      expect(posts).toEqual([]);
      expect(events.map((event) => eventDetailProblems(event.detail))).toEqual([[]]);
      expect(events[0]?.detail).toMatchObject({ status: JobStatus.rejected, error: { model, field } });
    },
  );

  it('rejects a field the model does not take, naming both', async () => {
    const { job, posts } = await drop(rt, 'unknown-field/clip.mp4', {
      model: 'krea/krea-wan-14b/video-to-video',
      prompt: 'p',
      frame_size: '1280:720',
    });

    expect(job.status).toBe(JobStatus.rejected);
    expect(job.error).toMatchObject({
      code: 'MODEL_FIELD_UNKNOWN',
      model: 'krea/krea-wan-14b/video-to-video',
      field: 'frame_size',
    });
    expect(posts).toEqual([]);
  });

  it('rejects a model the catalog does not have', async () => {
    const { job, posts } = await drop(rt, 'unknown-model/clip.mp4', undefined, {
      model: 'runway/aleph2',
      prompt: 'p',
    });

    expect(job.status).toBe(JobStatus.rejected);
    expect(job.error).toMatchObject({ code: 'MODEL_UNKNOWN', model: 'runway/aleph2', field: 'model' });
    expect(posts).toEqual([]);
  });

  it('takes the model from metadata and a prompt-less model starts without waiting for a prompt', async () => {
    const { job, posts } = await drop(
      rt,
      'metadata/clip.mp4',
      { character: CHARACTER },
      { model: 'runway/act_two' },
    );

    expect(job.status).toBe(JobStatus.completed);
    expect(job.request).toEqual({
      model: 'runway/act_two',
      fields: { character: CHARACTER },
      videoField: 'reference',
    });
    expect(posts).toHaveLength(1);
  });

  it('takes the model and its fields from a folder preset, the sidecar winning field by field', async () => {
    await putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key: 'preset-folder/_defaults.json',
      body: JSON.stringify({ model: 'krea/krea-wan-14b/video-to-video', strength: 0.2, seed: 1 }),
      contentType: 'application/json',
    });
    const { job, posts } = await drop(rt, 'preset-folder/clip.mp4', { prompt: 'ink wash', strength: 0.9 });

    expect(job.status).toBe(JobStatus.completed);
    expect(job.request).toEqual({
      model: 'krea/krea-wan-14b/video-to-video',
      fields: { prompt: 'ink wash', strength: 0.9, seed: 1 },
      videoField: 'video_url',
      prompt: 'ink wash',
    });
    expect(posts).toHaveLength(1);
  });

  it('runs a manifest naming a model and its fields on an existing video', async () => {
    const bucket = rt.endpoints.inputBucket;
    await putObject(rt.clients.s3, {
      bucket,
      key: 'manifest-src/clip.mp4',
      body: clip,
      metadata: { prompt: 'the original' },
    });
    const jobId = await putObject(rt.clients.s3, {
      bucket,
      key: 'jobs/flux.json',
      body: JSON.stringify({
        video: 'manifest-src/clip.mp4',
        model: 'blackforestlabs/flux-3-video-draft-v2v',
        prompt: 'what happens next',
        duration: 5,
      }),
      contentType: 'application/json',
    });
    const job = await waitForJob(rt.clients.jobs, jobId);

    expect(job.status).toBe(JobStatus.completed);
    expect(job.request).toEqual({
      model: 'blackforestlabs/flux-3-video-draft-v2v',
      fields: { prompt: 'what happens next', duration: 5 },
      videoField: 'video_url',
      prompt: 'what happens next',
    });
  });

  it('keeps a drop without a model on runway/gen4_aleph, recorded as before', async () => {
    const { job } = await drop(rt, 'default/clip.mp4', undefined, { prompt: 'make it autumn' });

    expect(job.status).toBe(JobStatus.completed);
    expect(job.request).toEqual({
      model: MODEL,
      prompt: 'make it autumn',
      frameSize: '1280:720',
      duration: 5,
    });
    expect(job.error).toBeUndefined();
  });

  it('runs the deployment default model and refuses a model it does not allow', async () => {
    const byDefault = await drop(restricted, 'restricted/default.mp4', undefined, { prompt: 'watercolour' });
    const refused = await drop(restricted, 'restricted/refused.mp4', {
      model: 'runway/act_two',
      character: CHARACTER,
    });

    expect(byDefault.job.status).toBe(JobStatus.completed);
    expect(byDefault.job.request?.model).toBe('krea/krea-wan-14b/video-to-video');
    expect(refused.job.status).toBe(JobStatus.rejected);
    expect(refused.job.error).toMatchObject({
      code: 'MODEL_NOT_ALLOWED',
      model: 'runway/act_two',
      field: 'model',
    });
    const posts = generationPosts(await emulatorRequests(restricted.endpoints.provider));
    expect(posts).toHaveLength(1);
  });
});
