/**
 * The input reaches the provider in the form its upstream can use, for every size class
 * (VIDFLOW_VIDEO_URL_MODE=auto, the default in AWS): a data URI while the encoded URI fits 16 MB,
 * a signed URL above that (the input CDN stand-in), which the emulator fetches with HEAD then GET.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvName } from '../../functions/config/env-names.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { dataUriLength, MAX_VIDEO_DATA_URI_CHARS } from '../../functions/domain/provider-limits.js';
import {
  emulatorRequests,
  generationPosts,
  paddedTestClip,
  putObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitForJob,
} from '../support/runtime-harness.js';

const SIZES = {
  small: 0,
  'near the data-URI limit': 11_900_000,
  'above the data-URI limit': 13_000_000,
} as const;

describe('inputs of each size class (auto mode)', () => {
  let rt: TestRuntime;
  const jobs = new Map<string, Job>();
  const bytes = new Map<string, number>();

  beforeAll(async () => {
    rt = await startTestRuntime({ functionEnvironment: { [EnvName.videoUrlMode]: 'auto' } });
    for (const [name, minBytes] of Object.entries(SIZES)) {
      const body = await readFile(minBytes === 0 ? await testClip() : await paddedTestClip(minBytes));
      bytes.set(name, body.length);
      const jobId = await putObject(rt.clients.s3, {
        bucket: rt.endpoints.inputBucket,
        key: `sizes/${name}.mp4`,
        body,
        metadata: { prompt: `size ${name}` },
      });
      jobs.set(name, await waitForJob(rt.clients.jobs, jobId));
    }
  }, 300_000);

  afterAll(async () => {
    await rt?.stop();
  });

  it('sizes the classes around the limit as intended', () => {
    expect(dataUriLength('video/mp4', bytes.get('near the data-URI limit') ?? 0)).toBeLessThanOrEqual(
      MAX_VIDEO_DATA_URI_CHARS,
    );
    expect(dataUriLength('video/mp4', bytes.get('above the data-URI limit') ?? 0)).toBeGreaterThan(
      MAX_VIDEO_DATA_URI_CHARS,
    );
  });

  it.each(Object.keys(SIZES))('completes the %s input', (name) => {
    expect(jobs.get(name)?.status).toBe(JobStatus.completed);
  });

  it('sends the two smaller inputs as data URIs and the larger as a URL fetched with HEAD then GET', async () => {
    const posts = generationPosts(await emulatorRequests(rt.endpoints.provider));
    const videoUrlOf = (name: string): string => {
      const post = posts.find((entry) => entry.generationId === jobs.get(name)?.generationId);
      const body = post?.body as { video_url?: string } | undefined;
      return body?.video_url ?? '';
    };
    expect(videoUrlOf('small')).toMatch(/^data:video\/mp4;base64,/);
    expect(videoUrlOf('near the data-URI limit')).toMatch(/^data:video\/mp4;base64,/);
    expect(videoUrlOf('above the data-URI limit')).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/vidflow-input\/sizes\//,
    );
    const fetches = (await (await fetch(`${rt.endpoints.provider}/_emulator/input-fetches`)).json()) as {
      generationId: string;
      fetches: unknown;
    }[];
    expect(fetches).toEqual([
      {
        generationId: jobs.get('above the data-URI limit')?.generationId,
        fetches: [
          { method: 'HEAD', status: 200 },
          { method: 'GET', status: 200 },
        ],
      },
    ]);
  });
});
