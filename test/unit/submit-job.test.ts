import { describe, expect, it, vi } from 'vitest';
import {
  ProviderAuthError,
  ProviderRateLimitedError,
  ProviderRejectedRequestError,
  ProviderUnavailableError,
  SubmissionOutcomeUnknownError,
} from '../../functions/domain/errors.js';
import { deriveJobId, type Job, JobStatus, MODEL } from '../../functions/domain/job.js';
import type { SubmissionSettings } from '../../functions/domain/submission.js';
import { handleObjectCreated } from '../../functions/domain/submit-job.js';
import { rejectionOf } from '../support/assertions.js';
import { executionArnFor, type PutOptions, presignedUrlOf } from '../support/fakes.js';
import { asPublished, INPUT_BUCKET, T0 } from '../support/jobs.js';
import { minimalMp4 } from '../support/media.js';
import { createSubmitHarness } from '../support/submit-harness.js';

const DEADLINE = '2025-05-01T12:30:00.000Z';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const VIDEO = minimalMp4();

function setup(settings: Partial<SubmissionSettings> = {}) {
  const harness = createSubmitHarness(settings);
  const { objects, deps } = harness;
  return {
    ...harness,
    /** A user's upload of a video (a valid MP4 unless `body` says otherwise). */
    dropVideo: (key: string, options: PutOptions = {}, body: string | Uint8Array = VIDEO) =>
      objects.put(INPUT_BUCKET, key, body, { contentType: 'video/mp4', ...options }),
    dropJson: (key: string, value: unknown) => objects.putDocument(INPUT_BUCKET, key, value),
    /** The S3 notification of `key` reaching the submit function. */
    deliver: (key: string, versionId?: string) =>
      handleObjectCreated(deps, {
        bucket: INPUT_BUCKET,
        key,
        ...(versionId === undefined ? {} : { versionId }),
      }),
    /** The job id the current version of `key` gets. */
    jobIdOf: (key: string) => {
      const info = objects.infoOf(INPUT_BUCKET, key);
      return deriveJobId({
        bucket: INPUT_BUCKET,
        key,
        eTag: info.eTag,
        lastModified: info.lastModified,
        ...(info.versionId === undefined ? {} : { versionId: info.versionId }),
      });
    },
  };
}

type Harness = ReturnType<typeof setup>;

/** What a paid submission of `key` with `prompt` sends, in presigned mode. */
function providerBody(key: string, prompt: string, extra: Record<string, unknown> = {}) {
  return {
    model: MODEL,
    prompt,
    video_url: presignedUrlOf({ bucket: INPUT_BUCKET, key }, 3600),
    frame_size: '1280:720',
    duration: 5,
    ...extra,
  };
}

function expectNothingPaid(h: Harness): void {
  expect(h.provider.creates).toStrictEqual([]);
  expect(h.executions.started).toStrictEqual([]);
}

describe('a video drop', () => {
  it('with a metadata prompt creates a SUBMITTED job, POSTs once and starts the execution named after the job', async () => {
    const h = setup();
    const info = h.dropVideo('trips/clip.mp4', { metadata: { prompt: 'make it snow' } });
    const jobId = h.jobIdOf('trips/clip.mp4');

    const returned = await h.deliver('trips/clip.mp4');

    const expected: Job = {
      jobId,
      status: JobStatus.submitted,
      source: {
        bucket: INPUT_BUCKET,
        key: 'trips/clip.mp4',
        eTag: info.eTag,
        size: VIDEO.length,
        contentType: 'video/mp4',
      },
      trigger: { kind: 'upload', bucket: INPUT_BUCKET, key: 'trips/clip.mp4', eTag: info.eTag },
      request: { model: MODEL, prompt: 'make it snow', frameSize: '1280:720', duration: 5 },
      generationId: 'gen-1',
      providerStatus: 'queued',
      pollCount: 0,
      attempt: 1,
      createdAt: T0,
      updatedAt: T0,
      statusChangedAt: T0,
      submittedAt: T0,
      deadlineAt: DEADLINE,
      submissionClaim: { token: expect.stringMatching(UUID), claimedAt: T0, sendingAt: T0 },
      executionArn: executionArnFor(jobId),
    };
    expect(h.jobs.all()).toStrictEqual([expected]);
    expect(returned).toStrictEqual(expected);
    expect(h.provider.creates).toStrictEqual([providerBody('trips/clip.mp4', 'make it snow')]);
    expect(h.objects.log.presigned).toStrictEqual([
      {
        ref: { bucket: INPUT_BUCKET, key: 'trips/clip.mp4' },
        expiresSeconds: 3600,
        contentType: 'video/mp4',
      },
    ]);
    expect(h.executions.started).toStrictEqual([{ name: jobId, input: { jobId, waitSeconds: 60 } }]);
    expect(h.events.published).toStrictEqual([]);
  });

  it('sends seed and references as the provider names them', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', {
      metadata: {
        prompt: 'p',
        seed: '7',
        'frame-size': '848:480',
        references: 'https://a.example.com/1.png',
      },
    });

    await h.deliver('clip.mp4');

    expect(h.provider.creates).toStrictEqual([
      providerBody('clip.mp4', 'p', {
        frame_size: '848:480',
        seed: 7,
        references: [{ type: 'image', url: 'https://a.example.com/1.png' }],
      }),
    ]);
  });

  it('presigns with the version of a versioned upload and records it', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' }, versionId: 'v-123' });

    const job = await h.deliver('clip.mp4', 'v-123');

    expect(job?.source.versionId).toBe('v-123');
    expect(job?.trigger.versionId).toBe('v-123');
    expect(h.provider.creates[0]?.video_url).toBe(
      presignedUrlOf({ bucket: INPUT_BUCKET, key: 'clip.mp4', versionId: 'v-123' }, 3600),
    );
  });

  it('caps the presigned URL lifetime at one hour', async () => {
    const h = setup({ presignExpiresSeconds: 7200 });
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });

    await h.deliver('clip.mp4');

    expect(h.objects.log.presigned.map((call) => call.expiresSeconds)).toStrictEqual([3600]);
  });

  it('in data-uri mode sends the video bytes as a data: URI and presigns nothing', async () => {
    const h = setup({ videoUrlMode: 'data-uri' });
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });

    await h.deliver('clip.mp4');

    expect(h.provider.creates).toStrictEqual([
      {
        ...providerBody('clip.mp4', 'p'),
        video_url: `data:video/mp4;base64,${Buffer.from(VIDEO).toString('base64')}`,
      },
    ]);
    expect(h.objects.log.presigned).toStrictEqual([]);
  });

  it('sends the bytes as a data: URI when the presigned URL would pass 2,048 characters', async () => {
    const h = setup();
    const key = `${'東京の夜景'.repeat(50)}.mp4`;
    h.dropVideo(key, { metadata: { prompt: 'make it snow' } });
    expect(presignedUrlOf({ bucket: INPUT_BUCKET, key }, 3600).length).toBeGreaterThan(2048);

    await h.deliver(key);

    expect(h.provider.creates.map((body) => body.video_url)).toStrictEqual([
      `data:video/mp4;base64,${Buffer.from(VIDEO).toString('base64')}`,
    ]);
  });

  it('in data-uri mode names the video type from the suffix when the upload says octet-stream', async () => {
    const h = setup({ videoUrlMode: 'data-uri' });
    h.dropVideo('clip.mov', { metadata: { prompt: 'p' }, contentType: 'application/octet-stream' });

    await h.deliver('clip.mov');

    expect(h.provider.creates[0]?.video_url?.startsWith('data:video/quicktime;base64,')).toBe(true);
  });

  it('delivered twice creates one job and POSTs once', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });

    const first = await h.deliver('clip.mp4');
    const second = await h.deliver('clip.mp4');

    expect(h.jobs.all()).toHaveLength(1);
    expect(second).toStrictEqual(first);
    expect(h.provider.creates).toHaveLength(1);
    expect(h.executions.started).toHaveLength(1);
  });

  it('delivered five times concurrently creates one job and POSTs once', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });

    await Promise.all(Array.from({ length: 5 }, () => h.deliver('clip.mp4')));

    const all = h.jobs.all();
    expect(all.map((job) => [job.status, job.generationId])).toStrictEqual([[JobStatus.submitted, 'gen-1']]);
    expect(h.provider.creates).toHaveLength(1);
    expect(h.executions.started).toHaveLength(1);
  });

  it('uploaded again under the same key is a new job', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
    await h.deliver('clip.mp4');
    h.clock.advanceSeconds(60);
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });

    await h.deliver('clip.mp4');

    expect(h.jobs.all()).toHaveLength(2);
    expect(h.provider.creates).toHaveLength(2);
    expect(await h.jobs.listBySource(INPUT_BUCKET, 'clip.mp4')).toHaveLength(2);
  });

  it('that vanished before it was read does nothing', async () => {
    const h = setup();

    await expect(h.deliver('gone.mp4')).resolves.toBeUndefined();

    expect(h.jobs.all()).toStrictEqual([]);
    expectNothingPaid(h);
  });
});

describe('a video without a prompt', () => {
  it('waits in AWAITING_PROMPT without paying anything', async () => {
    const h = setup();
    h.dropVideo('trips/clip.mp4');

    const job = await h.deliver('trips/clip.mp4');

    expect(job?.status).toBe(JobStatus.awaitingPrompt);
    expect(job?.request).toBeUndefined();
    expect(h.jobs.require(h.jobIdOf('trips/clip.mp4')).status).toBe(JobStatus.awaitingPrompt);
    expectNothingPaid(h);
    expect(h.events.published).toStrictEqual([]);
  });

  it('is promoted and submitted once when its sidecar arrives, however often the sidecar is delivered', async () => {
    const h = setup();
    h.dropVideo('trips/clip.mp4');
    await h.deliver('trips/clip.mp4');
    h.clock.advanceSeconds(30);
    h.dropJson('trips/clip.mp4.json', { prompt: 'from the sidecar', frame_size: '720:1280' });

    const job = await h.deliver('trips/clip.mp4.json');
    await h.deliver('trips/clip.mp4.json');

    const jobId = h.jobIdOf('trips/clip.mp4');
    expect(job?.jobId).toBe(jobId);
    expect(h.jobs.require(jobId)).toMatchObject({
      status: JobStatus.submitted,
      request: { model: MODEL, prompt: 'from the sidecar', frameSize: '720:1280', duration: 5 },
      generationId: 'gen-1',
      statusChangedAt: '2025-05-01T12:00:30.000Z',
      executionArn: executionArnFor(jobId),
    });
    expect(h.provider.creates).toStrictEqual([
      providerBody('trips/clip.mp4', 'from the sidecar', { frame_size: '720:1280' }),
    ]);
    expect(h.executions.started).toHaveLength(1);
  });

  it.each(['clip.mp4.JSON', 'clip.mp4.Json'])(
    'reads a sidecar named %s, whether it lands before or after the video',
    async (sidecarKey) => {
      const before = setup();
      before.dropJson(`trips/${sidecarKey}`, { prompt: 'upper-case sidecar' });
      await before.deliver(`trips/${sidecarKey}`);
      before.dropVideo('trips/clip.mp4');
      expect((await before.deliver('trips/clip.mp4'))?.request?.prompt).toBe('upper-case sidecar');

      const after = setup();
      after.dropVideo('trips/clip.mp4');
      expect((await after.deliver('trips/clip.mp4'))?.status).toBe(JobStatus.awaitingPrompt);
      after.dropJson(`trips/${sidecarKey}`, { prompt: 'upper-case sidecar' });
      const job = await after.deliver(`trips/${sidecarKey}`);
      expect(job).toMatchObject({ status: JobStatus.submitted, request: { prompt: 'upper-case sidecar' } });
      expect(after.provider.creates).toHaveLength(1);
    },
  );

  it('prefers the lower-case sidecar when both cases exist', async () => {
    const h = setup();
    h.dropJson('clip.MOV.JSON', { prompt: 'upper' });
    h.dropJson('clip.MOV.json', { prompt: 'lower' });
    h.dropVideo('clip.MOV');
    expect((await h.deliver('clip.MOV'))?.request?.prompt).toBe('lower');
  });

  it.each([
    ['sidecar', 'trips/clip.mp4.json', 'SIDECAR_INVALID'],
    ['manifest', 'jobs/empty.json', 'MANIFEST_INVALID'],
  ])(
    'ends a video whose zero-byte %s it reads in a REJECTED record, never a throw',
    async (_kind, key, code) => {
      const h = setup();
      h.objects.put(INPUT_BUCKET, key, '');
      if (key.startsWith('jobs/')) {
        const job = await h.deliver(key);
        expect(job).toMatchObject({ status: JobStatus.rejected, error: { code } });
      } else {
        h.dropVideo('trips/clip.mp4');
        const job = await h.deliver('trips/clip.mp4');
        expect(job).toMatchObject({ status: JobStatus.rejected, error: { code } });
      }
      expectNothingPaid(h);
    },
  );

  it('rejects an AWAITING_PROMPT video whose zero-byte preset lands', async () => {
    const h = setup();
    h.dropVideo('trips/clip.mp4');
    await h.deliver('trips/clip.mp4');
    h.objects.put(INPUT_BUCKET, 'trips/_defaults.json', '');
    await h.deliver('trips/_defaults.json');
    expect(h.jobs.require(h.jobIdOf('trips/clip.mp4'))).toMatchObject({
      status: JobStatus.rejected,
      error: { code: 'PRESET_INVALID' },
    });
    expectNothingPaid(h);
  });

  it('starts at once with the prompt of a sidecar that arrived first', async () => {
    const h = setup();
    h.dropJson('trips/clip.mp4.json', { prompt: 'from the sidecar', seed: 11 });

    await expect(h.deliver('trips/clip.mp4.json')).resolves.toBeUndefined();
    expect(h.jobs.all()).toStrictEqual([]);

    h.dropVideo('trips/clip.mp4');
    const job = await h.deliver('trips/clip.mp4');

    expect(job?.status).toBe(JobStatus.submitted);
    expect(h.provider.creates).toStrictEqual([
      providerBody('trips/clip.mp4', 'from the sidecar', { seed: 11 }),
    ]);
  });

  it.each([0, 2, 4, 6, 8, 10, 12, 16, 20, 30])(
    'POSTs exactly once when video and sidecar notifications race (sidecar lands after %i ticks)',
    async (ticks) => {
      const h = setup();
      h.dropVideo('trips/clip.mp4');

      await Promise.all([
        h.deliver('trips/clip.mp4'),
        (async () => {
          for (let i = 0; i < ticks; i++) await new Promise((resolve) => setImmediate(resolve));
          h.dropJson('trips/clip.mp4.json', { prompt: 'from the sidecar' });
          return h.deliver('trips/clip.mp4.json');
        })(),
      ]);

      expect(h.provider.creates).toStrictEqual([providerBody('trips/clip.mp4', 'from the sidecar')]);
      expect(h.jobs.all().map((job) => job.status)).toStrictEqual([JobStatus.submitted]);
      expect(h.executions.started).toHaveLength(1);
    },
  );

  it('is promoted by a folder preset only when the preset covers its folder', async () => {
    const h = setup();
    for (const key of ['trips/a.mp4', 'trips/2024/b.mp4', 'other/c.mp4', 'tripsx/d.mp4', 'e.mp4']) {
      h.dropVideo(key);
      await h.deliver(key);
    }
    h.dropJson('trips/_defaults.json', { prompt: 'from the preset', frame_size: '960:960' });

    await expect(h.deliver('trips/_defaults.json')).resolves.toBeUndefined();

    const statusOf = (key: string) => h.jobs.require(h.jobIdOf(key)).status;
    expect(statusOf('trips/a.mp4')).toBe(JobStatus.submitted);
    expect(statusOf('trips/2024/b.mp4')).toBe(JobStatus.submitted);
    expect(statusOf('other/c.mp4')).toBe(JobStatus.awaitingPrompt);
    expect(statusOf('tripsx/d.mp4')).toBe(JobStatus.awaitingPrompt);
    expect(statusOf('e.mp4')).toBe(JobStatus.awaitingPrompt);
    expect(
      h.provider.creates.map((body) => [body.video_url, body.prompt, body.frame_size]).sort(),
    ).toStrictEqual(
      [
        [
          presignedUrlOf({ bucket: INPUT_BUCKET, key: 'trips/2024/b.mp4' }, 3600),
          'from the preset',
          '960:960',
        ],
        [presignedUrlOf({ bucket: INPUT_BUCKET, key: 'trips/a.mp4' }, 3600), 'from the preset', '960:960'],
      ].sort(),
    );
  });

  it('is promoted by a nested preset only inside that nested folder', async () => {
    const h = setup();
    for (const key of ['trips/a.mp4', 'trips/2024/b.mp4']) {
      h.dropVideo(key);
      await h.deliver(key);
    }
    h.dropJson('trips/2024/_defaults.json', { prompt: 'nested' });

    await h.deliver('trips/2024/_defaults.json');

    expect(h.jobs.require(h.jobIdOf('trips/2024/b.mp4')).status).toBe(JobStatus.submitted);
    expect(h.jobs.require(h.jobIdOf('trips/a.mp4')).status).toBe(JobStatus.awaitingPrompt);
    expect(h.provider.creates.map((body) => body.prompt)).toStrictEqual(['nested']);
  });

  it('waiting longer than the preset look-back is left waiting', async () => {
    const h = setup({ presetLookbackDays: 30 });
    h.dropVideo('trips/a.mp4');
    await h.deliver('trips/a.mp4');
    h.clock.advanceSeconds(31 * 86_400);
    h.dropJson('trips/_defaults.json', { prompt: 'late' });

    await h.deliver('trips/_defaults.json');

    expect(h.jobs.require(h.jobIdOf('trips/a.mp4')).status).toBe(JobStatus.awaitingPrompt);
    expectNothingPaid(h);
  });

  it('is rejected when the sidecar that arrives is invalid', async () => {
    const h = setup();
    h.dropVideo('clip.mp4');
    await h.deliver('clip.mp4');
    h.objects.put(INPUT_BUCKET, 'clip.mp4.json', '{"prompt": ');

    const job = await h.deliver('clip.mp4.json');

    expect(job?.status).toBe(JobStatus.rejected);
    expect(job?.error).toStrictEqual({
      code: 'SIDECAR_INVALID',
      message: 'sidecar is not valid JSON',
      stage: 'submit',
      retryable: false,
    });
    expect(h.events.published.map((event) => event.status)).toStrictEqual([JobStatus.rejected]);
    expectNothingPaid(h);
  });
});

describe('parameters of a drop', () => {
  it('take metadata over sidecar over the nearest preset, field by field', async () => {
    const h = setup();
    h.dropJson('_defaults.json', { prompt: 'top preset', seed: 1, frame_size: '640:480' });
    h.dropJson('trips/_defaults.json', {
      prompt: 'trips preset',
      seed: 2,
      references: ['https://r.example.com/p.png'],
    });
    h.dropJson('trips/2024/clip.mp4.json', { prompt: 'sidecar', seed: 3 });
    h.dropVideo('trips/2024/clip.mp4', { metadata: { prompt: 'metadata' } });

    const job = await h.deliver('trips/2024/clip.mp4');

    expect(job?.request).toStrictEqual({
      model: MODEL,
      prompt: 'metadata',
      frameSize: '1280:720',
      duration: 5,
      seed: 3,
      references: ['https://r.example.com/p.png'],
    });
  });
});

describe('a job manifest', () => {
  it('runs the named video with its parameters over the video metadata', async () => {
    const h = setup();
    const video = h.dropVideo('trips/clip.mp4', { metadata: { prompt: 'metadata prompt', seed: '1' } });
    const manifest = h.dropJson('jobs/run-1.json', {
      video: 'trips/clip.mp4',
      prompt: 'manifest prompt',
      frame_size: '720:1280',
    });

    const job = await h.deliver('jobs/run-1.json');

    const jobId = h.jobIdOf('jobs/run-1.json');
    expect(job?.jobId).toBe(jobId);
    expect(h.jobs.require(jobId)).toMatchObject({
      status: JobStatus.submitted,
      source: {
        bucket: INPUT_BUCKET,
        key: 'trips/clip.mp4',
        eTag: video.eTag,
        size: VIDEO.length,
        contentType: 'video/mp4',
      },
      trigger: { kind: 'manifest', bucket: INPUT_BUCKET, key: 'jobs/run-1.json', eTag: manifest.eTag },
      request: { model: MODEL, prompt: 'manifest prompt', frameSize: '720:1280', duration: 5, seed: 1 },
      generationId: 'gen-1',
    });
    expect(h.provider.creates).toStrictEqual([
      providerBody('trips/clip.mp4', 'manifest prompt', { frame_size: '720:1280', seed: 1 }),
    ]);
    expect(h.executions.started).toStrictEqual([{ name: jobId, input: { jobId, waitSeconds: 60 } }]);
  });

  it('two manifests naming one video make two jobs of that source', async () => {
    const h = setup();
    h.dropVideo('trips/clip.mp4');
    h.dropJson('jobs/a.json', { video: 'trips/clip.mp4', prompt: 'first' });
    h.dropJson('jobs/b.json', { video: 'trips/clip.mp4', prompt: 'second' });

    await h.deliver('jobs/a.json');
    await h.deliver('jobs/b.json');
    await h.deliver('jobs/a.json');

    const jobs = await h.jobs.listBySource(INPUT_BUCKET, 'trips/clip.mp4');
    expect(jobs.map((job) => job.request?.prompt).sort()).toStrictEqual(['first', 'second']);
    expect(h.provider.creates.map((body) => body.prompt)).toStrictEqual(['first', 'second']);
  });

  it.each([
    [
      'a key that does not exist',
      { video: 'trips/missing.mp4', prompt: 'p' },
      'SOURCE_MISSING',
      'trips/missing.mp4',
    ],
    ['a parent path', { video: '../x.mp4', prompt: 'p' }, 'MANIFEST_INVALID', 'jobs/run.json'],
    ['a URL', { video: 's3://other-bucket/x.mp4', prompt: 'p' }, 'MANIFEST_INVALID', 'jobs/run.json'],
    ['no video', { prompt: 'p' }, 'MANIFEST_INVALID', 'jobs/run.json'],
  ])('naming %s is REJECTED with %s', async (_name, manifest, code, sourceKey) => {
    const h = setup();
    h.dropJson('jobs/run.json', manifest);

    const job = await h.deliver('jobs/run.json');

    expect(job).toMatchObject({
      jobId: h.jobIdOf('jobs/run.json'),
      status: JobStatus.rejected,
      source: { bucket: INPUT_BUCKET, key: sourceKey },
      trigger: { kind: 'manifest', key: 'jobs/run.json' },
      error: { code, stage: 'submit', retryable: false },
      completedAt: T0,
    });
    expect(h.events.published).toStrictEqual([asPublished(job)]);
    expectNothingPaid(h);
  });

  it('without a prompt anywhere is REJECTED with PROMPT_MISSING', async () => {
    const h = setup();
    h.dropVideo('clip.mp4');
    h.dropJson('jobs/run.json', { video: 'clip.mp4' });

    const job = await h.deliver('jobs/run.json');

    expect(job?.error).toStrictEqual({
      code: 'PROMPT_MISSING',
      message: 'neither the manifest nor the video names a prompt',
      stage: 'submit',
      retryable: false,
    });
    expectNothingPaid(h);
  });
});

describe('a drop that breaks a rule', () => {
  it.each<[string, (h: Harness) => void, string]>([
    ['an empty file', (h) => h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } }, ''), 'EMPTY_FILE'],
    [
      'a text file named .mp4',
      (h) => h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } }, 'just some notes, not a video\n'),
      'NOT_A_VIDEO',
    ],
    [
      'a truncated MP4',
      (h) => h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } }, VIDEO.slice(0, VIDEO.length - 10)),
      'NOT_A_VIDEO',
    ],
    [
      'a prompt of 1001 characters',
      (h) => h.dropVideo('clip.mp4', { metadata: { prompt: 'a'.repeat(1001) } }),
      'PROMPT_TOO_LONG',
    ],
    ['a blank prompt', (h) => h.dropVideo('clip.mp4', { metadata: { prompt: '   ' } }), 'PROMPT_MISSING'],
    [
      'a metadata seed that is not a number',
      (h) => h.dropVideo('clip.mp4', { metadata: { prompt: 'p', seed: 'abc' } }),
      'SEED_INVALID',
    ],
    [
      'an unknown frame size',
      (h) => h.dropVideo('clip.mp4', { metadata: { prompt: 'p', 'frame-size': '1920:1080' } }),
      'FRAME_SIZE_INVALID',
    ],
    [
      'a duration of 10',
      (h) => h.dropVideo('clip.mp4', { metadata: { prompt: 'p', duration: '10' } }),
      'DURATION_INVALID',
    ],
    [
      'an http reference',
      (h) => h.dropVideo('clip.mp4', { metadata: { prompt: 'p', references: 'http://x.example.com/a.png' } }),
      'REFERENCES_INVALID',
    ],
    [
      'a sidecar with an unknown field',
      (h) => {
        h.dropJson('clip.mp4.json', { prompt: 'p', strength: 1 });
        h.dropVideo('clip.mp4');
      },
      'SIDECAR_INVALID',
    ],
    [
      'a sidecar over 64 KiB',
      (h) => {
        h.dropJson('clip.mp4.json', { prompt: 'a'.repeat(70_000) });
        h.dropVideo('clip.mp4');
      },
      'SIDECAR_INVALID',
    ],
    [
      'an invalid folder preset',
      (h) => {
        h.dropJson('_defaults.json', { seed: 'seven' });
        h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
      },
      'PRESET_INVALID',
    ],
  ])('(%s) is REJECTED with %s, one event and no provider call', async (_name, arrange, code) => {
    const h = setup();
    arrange(h);

    const job = await h.deliver('clip.mp4');

    const jobId = h.jobIdOf('clip.mp4');
    expect(h.jobs.all()).toStrictEqual([job]);
    expect(job).toMatchObject({
      jobId,
      status: JobStatus.rejected,
      source: { bucket: INPUT_BUCKET, key: 'clip.mp4' },
      completedAt: T0,
    });
    expect(job?.error).toStrictEqual({
      code,
      message: expect.any(String),
      stage: 'submit',
      retryable: false,
    });
    expect(job?.request).toBeUndefined();
    expect(h.events.published).toStrictEqual([asPublished(job)]);
    expectNothingPaid(h);
  });

  it('over the size limit is REJECTED with INPUT_TOO_LARGE before its bytes are read', async () => {
    const h = setup({ maxInputBytes: 100 });
    const readRange = vi.spyOn(h.objects, 'readRange');
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } }, minimalMp4(200));

    const job = await h.deliver('clip.mp4');

    expect(job?.error).toStrictEqual({
      code: 'INPUT_TOO_LARGE',
      message: `the video is ${minimalMp4(200).length} bytes; the limit is 100`,
      stage: 'submit',
      retryable: false,
    });
    expect(readRange).not.toHaveBeenCalled();
    expectNothingPaid(h);
  });

  it('delivered again publishes no second event', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } }, '');

    await h.deliver('clip.mp4');
    await h.deliver('clip.mp4');

    expect(h.events.published).toHaveLength(1);
    expect(h.jobs.all()).toHaveLength(1);
  });
});

describe('when the provider refuses or fails', () => {
  it('a 400 (ProviderRejectedRequestError) ends the job REJECTED with PROVIDER_REJECTED', async () => {
    const h = setup();
    h.provider.scriptCreate(new ProviderRejectedRequestError('prompt: violates the content policy', 400));
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });

    const job = await h.deliver('clip.mp4');

    expect(job).toMatchObject({
      status: JobStatus.rejected,
      error: {
        code: 'PROVIDER_REJECTED',
        message: 'prompt: violates the content policy',
        stage: 'submit',
        retryable: false,
      },
      completedAt: T0,
    });
    expect(job?.generationId).toBeUndefined();
    expect(h.provider.creates).toHaveLength(1);
    expect(h.executions.started).toStrictEqual([]);
    expect(h.events.published).toStrictEqual([asPublished(job)]);
  });

  it('an auth failure ends the job FAILED with PROVIDER_AUTH_FAILED', async () => {
    const h = setup();
    h.provider.scriptCreate(new ProviderAuthError('the API key was refused', 401));
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });

    const job = await h.deliver('clip.mp4');

    expect(job?.status).toBe(JobStatus.failed);
    expect(job?.error).toStrictEqual({
      code: 'PROVIDER_AUTH_FAILED',
      message: 'the API key was refused',
      stage: 'submit',
      retryable: false,
    });
  });

  it('an unknown submission outcome ends the job FAILED with SUBMISSION_OUTCOME_UNKNOWN and is never resent', async () => {
    const h = setup();
    h.provider.scriptCreate(
      new SubmissionOutcomeUnknownError('the provider did not answer the create in time'),
    );
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });

    const job = await h.deliver('clip.mp4');
    await h.deliver('clip.mp4');

    expect(job).toMatchObject({
      status: JobStatus.failed,
      error: {
        code: 'SUBMISSION_OUTCOME_UNKNOWN',
        message: 'the provider did not answer the create in time',
        stage: 'submit',
        retryable: false,
      },
    });
    expect(h.provider.creates).toHaveLength(1);
    expect(h.events.published).toHaveLength(1);
    expect(h.executions.started).toStrictEqual([]);
  });

  it.each([
    ['ProviderUnavailableError', () => new ProviderUnavailableError('the provider answered 503', 503)],
    ['ProviderRateLimitedError', () => new ProviderRateLimitedError('the provider answered 429', 30)],
  ])('%s releases the claim and is rethrown; a redelivery POSTs again', async (_name, makeError) => {
    const h = setup();
    const error = makeError();
    h.provider.scriptCreate(error);
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
    const jobId = h.jobIdOf('clip.mp4');

    expect(await rejectionOf(h.deliver('clip.mp4'))).toBe(error);
    const afterFailure = h.jobs.require(jobId);
    expect(afterFailure.status).toBe(JobStatus.submitted);
    expect(afterFailure.submissionClaim).toBeUndefined();
    expect(afterFailure.generationId).toBeUndefined();
    expect(h.events.published).toStrictEqual([]);

    const job = await h.deliver('clip.mp4');

    expect(h.jobs.all()).toHaveLength(1);
    expect(h.provider.creates).toHaveLength(2);
    expect(job).toMatchObject({
      status: JobStatus.submitted,
      generationId: 'gen-2',
      executionArn: executionArnFor(jobId),
    });
    expect(h.executions.started).toHaveLength(1);
  });

  it('sends nothing when the sweeper took its claim back before it marked the claim as sending', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
    const jobId = h.jobIdOf('clip.mp4');
    // While this (slow) invocation builds its URL, the sweeper releases the claim it holds.
    vi.spyOn(h.objects, 'presignGet').mockImplementationOnce(async (ref, expiresSeconds) => {
      const { submissionClaim } = h.jobs.require(jobId);
      await h.jobs.update(
        jobId,
        {},
        { expectClaimToken: submissionClaim?.token ?? '', removeFields: ['submissionClaim'] },
      );
      return presignedUrlOf(ref, expiresSeconds);
    });

    const job = await h.deliver('clip.mp4');

    expect(h.provider.creates).toStrictEqual([]);
    expect(job).toMatchObject({ status: JobStatus.submitted });
    expect(job?.submissionClaim).toBeUndefined();
  });

  it('a failure to build the video URL releases the claim and is rethrown, with nothing sent', async () => {
    const h = setup();
    const s3Down = new Error('S3 is unavailable');
    vi.spyOn(h.objects, 'presignGet').mockRejectedValueOnce(s3Down);
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });

    expect(await rejectionOf(h.deliver('clip.mp4'))).toBe(s3Down);
    expect(h.jobs.require(h.jobIdOf('clip.mp4')).submissionClaim).toBeUndefined();
    expect(h.provider.creates).toStrictEqual([]);

    await h.deliver('clip.mp4');
    expect(h.provider.creates).toHaveLength(1);
  });

  it('a failed StartExecution after the POST is rethrown; a redelivery starts the execution without a second POST', async () => {
    const h = setup();
    const throttled = new Error('ThrottlingException: Rate exceeded');
    h.executions.failNextStart(throttled);
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
    const jobId = h.jobIdOf('clip.mp4');

    expect(await rejectionOf(h.deliver('clip.mp4'))).toBe(throttled);
    const afterFailure = h.jobs.require(jobId);
    expect(afterFailure.generationId).toBe('gen-1');
    expect(afterFailure.executionArn).toBeUndefined();

    const job = await h.deliver('clip.mp4');

    expect(h.provider.creates).toHaveLength(1);
    expect(h.executions.started).toStrictEqual([{ name: jobId, input: { jobId, waitSeconds: 60 } }]);
    expect(job).toMatchObject({ generationId: 'gen-1', executionArn: executionArnFor(jobId) });
  });
});

describe('other keys', () => {
  it.each(['notes.txt', 'trips/photo.jpg', 'trips/other.json'])(
    'ignores %s without reading anything',
    async (key) => {
      const h = setup();
      h.objects.put(INPUT_BUCKET, key, 'x');
      const head = vi.spyOn(h.objects, 'head');

      await expect(h.deliver(key)).resolves.toBeUndefined();

      expect(head).not.toHaveBeenCalled();
      expect(h.jobs.calls).toStrictEqual([]);
      expectNothingPaid(h);
    },
  );
});

describe('job identity of writes of one key (docs/architecture.md "Job identity")', () => {
  const at = (h: Harness, key: string, sequencer?: string, versionId?: string) =>
    handleObjectCreated(h.deps, {
      bucket: INPUT_BUCKET,
      key,
      ...(sequencer === undefined ? {} : { sequencer }),
      ...(versionId === undefined ? {} : { versionId }),
    });

  it('makes the same bytes written twice within one instant (unversioned) two jobs and two POSTs', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
    const first = await at(h, 'clip.mp4', '0000018C00000000000001');
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
    const second = await at(h, 'clip.mp4', '0000018C00000000000002');

    const info = h.objects.infoOf(INPUT_BUCKET, 'clip.mp4');
    expect(first?.jobId).toBe(h.jobIdOf('clip.mp4'));
    expect(second?.jobId).toBe(
      deriveJobId({
        bucket: INPUT_BUCKET,
        key: 'clip.mp4',
        eTag: info.eTag,
        sequencer: '0000018C00000000000002',
      }),
    );
    expect(second?.jobId).toMatch(/^[a-z2-7]{20}$/);
    expect(h.jobs.all().map((job) => [job.trigger.sequencer, job.status])).toStrictEqual(
      expect.arrayContaining([
        ['0000018C00000000000001', JobStatus.submitted],
        ['0000018C00000000000002', JobStatus.submitted],
      ]),
    );
    expect(h.jobs.all()).toHaveLength(2);
    expect(h.provider.creates).toHaveLength(2);
  });

  it('keeps each write to one job however often, and in whatever order, its deliveries arrive', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
    const sequencers = ['0A01', '0A02', '0A01', '0A02', '0A02', '0A01'];
    const jobs = await Promise.all(sequencers.map((sequencer) => at(h, 'clip.mp4', sequencer)));
    const again = await Promise.all(sequencers.map((sequencer) => at(h, 'clip.mp4', sequencer)));

    expect(new Set(jobs.map((job) => job?.jobId)).size).toBe(2);
    expect(again.map((job) => job?.jobId)).toStrictEqual(jobs.map((job) => job?.jobId));
    expect(h.jobs.all()).toHaveLength(2);
    expect(h.provider.creates).toHaveLength(2);
    expect(h.executions.started).toHaveLength(2);
  });

  it('makes one job of one write delivered several times', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
    const jobs = await Promise.all([1, 2, 3, 4].map(() => at(h, 'clip.mp4', '0B01')));

    expect(jobs.map((job) => job?.jobId)).toStrictEqual(Array(4).fill(h.jobIdOf('clip.mp4')));
    expect(h.jobs.all()).toHaveLength(1);
    expect(h.provider.creates).toHaveLength(1);
  });

  it('treats deliveries without a sequencer as the write the eTag@lastModified pair names, as before', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' } });
    await at(h, 'clip.mp4', '0C01');
    await at(h, 'clip.mp4');
    await at(h, 'clip.mp4');

    expect(h.jobs.all().map((job) => job.jobId)).toStrictEqual([h.jobIdOf('clip.mp4')]);
    expect(h.provider.creates).toHaveLength(1);
  });

  it('names a versioned write by its version id, whatever its sequencer', async () => {
    const h = setup();
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' }, versionId: 'v1' });
    await at(h, 'clip.mp4', '0D01', 'v1');
    await at(h, 'clip.mp4', '0D02', 'v1'); // not a real S3 case: the version id decides
    h.dropVideo('clip.mp4', { metadata: { prompt: 'p' }, versionId: 'v2' });
    await at(h, 'clip.mp4', '0D03', 'v2');

    const eTag = h.objects.infoOf(INPUT_BUCKET, 'clip.mp4').eTag;
    expect(
      h.jobs
        .all()
        .map((job) => job.jobId)
        .sort(),
    ).toStrictEqual(
      ['v1', 'v2']
        .map((versionId) => deriveJobId({ bucket: INPUT_BUCKET, key: 'clip.mp4', eTag, versionId }))
        .sort(),
    );
    expect(h.provider.creates).toHaveLength(2);
  });

  it('promotes every job of the same bytes waiting for a prompt when the sidecar lands, once each', async () => {
    const h = setup();
    h.dropVideo('clip.mp4');
    await at(h, 'clip.mp4', '0E01');
    h.dropVideo('clip.mp4');
    await at(h, 'clip.mp4', '0E02');
    expect(h.jobs.all().map((job) => job.status)).toStrictEqual([
      JobStatus.awaitingPrompt,
      JobStatus.awaitingPrompt,
    ]);

    h.dropJson('clip.mp4.json', { prompt: 'from the sidecar' });
    await Promise.all([at(h, 'clip.mp4.json', '0F01'), at(h, 'clip.mp4.json', '0F01')]);

    expect(h.jobs.all().map((job) => job.status)).toStrictEqual([JobStatus.submitted, JobStatus.submitted]);
    expect(h.provider.creates).toStrictEqual([
      providerBody('clip.mp4', 'from the sidecar'),
      providerBody('clip.mp4', 'from the sidecar'),
    ]);
  });
});
