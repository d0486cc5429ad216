import { describe, expect, it } from 'vitest';
import {
  JobInvariantError,
  JobNotFoundError,
  OutputDownloadError,
  OutputRejectedError,
  ProviderMalformedResponseError,
  StaleTransitionError,
} from '../../functions/domain/errors.js';
import { type FinalizeDeps, finalizeJob, toPublicRecord } from '../../functions/domain/finalize-job.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { silentLogger } from '../../functions/domain/ports.js';
import { rejectionOf } from '../support/assertions.js';
import {
  FakeAdmissionStore,
  FakeClock,
  FakeEvents,
  FakeJobStore,
  FakeObjectStore,
  FakeOutputFetcher,
  FakeProvider,
} from '../support/fakes.js';
import { aJob, asPublished, OUTPUT_BUCKET } from '../support/jobs.js';
import { concatBytes, ftypBox, mdatBox, minimalMp4, moovBox, trakBox } from '../support/media.js';

const NOW = '2025-05-01T12:04:00.000Z';
const OUTPUT_URL = 'https://cdn.example.com/out/gen-42.mp4?sig=abc';
const OUTPUT = minimalMp4(4096);
const SOURCE_KEY = 'trips/day 1/clip.v2.mp4';

function setup(job: Partial<Job> = {}) {
  const clock = new FakeClock(NOW);
  const jobs = new FakeJobStore(clock);
  const objects = new FakeObjectStore(clock);
  const provider = new FakeProvider();
  const fetcher = new FakeOutputFetcher();
  const events = new FakeEvents();
  fetcher.serve(OUTPUT_URL, OUTPUT);
  const seeded = aJob({
    status: JobStatus.generating,
    providerStatus: 'completed',
    creditsUsed: 12,
    pollCount: 7,
    submissionClaim: { token: '5f0c6c1e-0000-4000-8000-000000000000', claimedAt: '2025-05-01T12:00:00.000Z' },
    lastQueuedAt: '2025-05-01T12:00:30.000Z',
    ...job,
    source: { ...aJob().source, key: SOURCE_KEY, ...job.source },
  });
  jobs.seed(seeded);
  const deps: FinalizeDeps = {
    jobs,
    admission: new FakeAdmissionStore(),
    objects,
    provider,
    fetcher,
    events,
    clock,
    logger: silentLogger,
    settings: { outputBucket: OUTPUT_BUCKET },
  };
  const jobId = seeded.jobId;
  return {
    clock,
    jobs,
    objects,
    provider,
    fetcher,
    events,
    deps,
    jobId,
    videoKey: `trips/day 1/clip.v2/${jobId}.mp4`,
    recordKey: `trips/day 1/clip.v2/${jobId}.json`,
    finalize: (videoUrl?: string) => finalizeJob(deps, jobId, videoUrl),
  };
}

describe('finalizeJob', () => {
  it('copies the output to <key without extension>/<jobId>.mp4 with job-id, generation-id and source-key metadata', async () => {
    const h = setup();

    await h.finalize(OUTPUT_URL);

    expect(h.fetcher.opened).toStrictEqual([OUTPUT_URL]);
    expect(h.objects.keys(OUTPUT_BUCKET).sort()).toStrictEqual([h.recordKey, h.videoKey].sort());
    expect(h.objects.bytesOf(OUTPUT_BUCKET, h.videoKey)).toStrictEqual(OUTPUT);
    const info = h.objects.infoOf(OUTPUT_BUCKET, h.videoKey);
    expect(info.contentType).toBe('video/mp4');
    expect(info.metadata).toStrictEqual({
      'job-id': h.jobId,
      'generation-id': 'gen-42',
      // S3 metadata is ASCII: the key travels percent-encoded.
      'source-key': encodeURIComponent(SOURCE_KEY),
    });
    expect(h.provider.gets).toStrictEqual([]);
  });

  it("tells the object store the download's length, so it can use one streamed PUT", async () => {
    const h = setup();

    await h.finalize(OUTPUT_URL);

    expect(h.objects.log.uploads).toStrictEqual([
      {
        ref: { bucket: OUTPUT_BUCKET, key: h.videoKey },
        contentType: 'video/mp4',
        size: OUTPUT.length,
        contentLength: OUTPUT.length,
      },
    ]);
  });

  it('completes the job with its output, credits and times, and publishes one event', async () => {
    const h = setup();

    const completed = await h.finalize(OUTPUT_URL);

    const info = h.objects.infoOf(OUTPUT_BUCKET, h.videoKey);
    expect(completed).toMatchObject({
      status: JobStatus.completed,
      completedAt: NOW,
      statusChangedAt: NOW,
      creditsUsed: 12,
      output: {
        bucket: OUTPUT_BUCKET,
        key: h.videoKey,
        size: OUTPUT.length,
        eTag: info.eTag,
        contentType: 'video/mp4',
        width: 320,
        height: 240,
        durationSeconds: 5,
      },
    });
    expect(h.jobs.require(h.jobId)).toStrictEqual(completed);
    expect(completed.eventPublishedAt).toBe(completed.completedAt);
    expect(h.events.published).toStrictEqual([asPublished(completed)]);
  });

  it('records the width, height and duration read from an output whose moov comes last', async () => {
    const h = setup();
    const output = concatBytes(
      ftypBox(),
      mdatBox(10_000),
      moovBox(trakBox({ width: 848, height: 480, durationUnits: 5042 })),
    );
    h.fetcher.serve(OUTPUT_URL, output);

    const completed = await h.finalize(OUTPUT_URL);

    expect(completed.output).toMatchObject({
      size: output.length,
      width: 848,
      height: 480,
      durationSeconds: 5.042,
    });
  });

  it('completes an output it cannot measure without width, height or duration', async () => {
    const h = setup();
    const output = concatBytes(ftypBox(), mdatBox(100));
    h.fetcher.serve(OUTPUT_URL, output);

    const completed = await h.finalize(OUTPUT_URL);

    expect(completed.status).toBe(JobStatus.completed);
    expect(completed.output).toStrictEqual({
      bucket: OUTPUT_BUCKET,
      key: h.videoKey,
      size: output.length,
      eTag: h.objects.infoOf(OUTPUT_BUCKET, h.videoKey).eTag,
      contentType: 'video/mp4',
    });
  });

  it('writes <jobId>.json beside the video: the completed record without the submission claim or the polling bookkeeping', async () => {
    const h = setup();

    const completed = await h.finalize(OUTPUT_URL);

    const record = h.objects.jsonOf(OUTPUT_BUCKET, h.recordKey);
    expect(record).toStrictEqual(JSON.parse(JSON.stringify(toPublicRecord(completed))));
    expect(completed.lastQueuedAt).toBe('2025-05-01T12:00:30.000Z');
    expect(record).not.toHaveProperty('submissionClaim');
    expect(record).not.toHaveProperty('lastQueuedAt');
    expect(record).toMatchObject({ jobId: h.jobId, status: JobStatus.completed });
  });

  it('run a second time does no harm: no second download or event, the record file written again', async () => {
    const h = setup();
    const first = await h.finalize(OUTPUT_URL);

    const second = await h.finalize(OUTPUT_URL);

    expect(second).toStrictEqual(first);
    expect(h.fetcher.opened).toHaveLength(1);
    expect(h.events.published).toHaveLength(1);
    expect(h.objects.log.putJson).toStrictEqual([
      { bucket: OUTPUT_BUCKET, key: h.recordKey },
      { bucket: OUTPUT_BUCKET, key: h.recordKey },
    ]);
  });

  it('rewrites a record file lost in a crash after the job was completed', async () => {
    const h = setup({ status: JobStatus.completed, eventPublishedAt: NOW });

    await h.finalize(OUTPUT_URL);

    expect(h.objects.jsonOf(OUTPUT_BUCKET, h.recordKey)).toMatchObject({
      jobId: h.jobId,
      status: JobStatus.completed,
    });
    expect(h.fetcher.opened).toStrictEqual([]);
    expect(h.events.published).toStrictEqual([]);
  });

  it('leaves the event of a COMPLETED job not yet marked to the sweeper: the function ending it may be sending it', async () => {
    const h = setup({ status: JobStatus.completed });

    await h.finalize(OUTPUT_URL);

    expect(h.fetcher.opened).toStrictEqual([]);
    expect(h.events.published).toStrictEqual([]);
    expect(h.jobs.require(h.jobId).eventPublishedAt).toBeUndefined();
  });

  it('finishes a copy a crash interrupted (job left COPYING)', async () => {
    const h = setup({ status: JobStatus.copying });

    const completed = await h.finalize(OUTPUT_URL);

    expect(completed.status).toBe(JobStatus.completed);
    expect(h.events.published).toHaveLength(1);
  });

  it('without a video URL reads the generation again for a fresh URL and its credits', async () => {
    const h = setup({ creditsUsed: undefined });
    const fresh = 'https://cdn.example.com/out/gen-42.mp4?sig=fresh';
    h.fetcher.serve(fresh, OUTPUT);
    h.provider.scriptGet({ id: 'gen-42', status: 'completed', videoUrl: fresh, creditsUsed: 20 });

    const completed = await h.finalize();

    expect(h.provider.gets).toStrictEqual(['gen-42']);
    expect(h.fetcher.opened).toStrictEqual([fresh]);
    expect(completed.creditsUsed).toBe(20);
  });

  it('without a video URL throws ProviderMalformedResponseError when the generation has none either', async () => {
    const h = setup();
    h.provider.scriptGet({ id: 'gen-42', status: 'completed' });

    const error = await rejectionOf(h.finalize());

    expect(error).toBeInstanceOf(ProviderMalformedResponseError);
    expect((error as Error).message).toBe('the completed generation has no output URL');
    expect(h.fetcher.opened).toStrictEqual([]);
  });

  it('throws JobInvariantError (JOB_INVARIANT_BROKEN) for a job without a generation id, touching nothing', async () => {
    const h = setup({ generationId: undefined });
    const before = h.jobs.require(h.jobId);

    const error = await rejectionOf(h.finalize(OUTPUT_URL));

    expect(error).toBeInstanceOf(JobInvariantError);
    expect(error).toMatchObject({
      name: 'JobInvariantError',
      code: 'JOB_INVARIANT_BROKEN',
      message: `job ${h.jobId} has no generation id`,
    });
    expect(h.jobs.require(h.jobId)).toStrictEqual(before);
    expect(h.fetcher.opened).toStrictEqual([]);
    expect(h.provider.gets).toStrictEqual([]);
  });

  it.each([JobStatus.failed, JobStatus.cancelled, JobStatus.timedOut, JobStatus.rejected])(
    'throws StaleTransitionError for a job that ended %s, copying nothing',
    async (status) => {
      const h = setup({ status });

      const error = await rejectionOf(h.finalize(OUTPUT_URL));

      expect(error).toBeInstanceOf(StaleTransitionError);
      expect((error as Error).message).toBe(`job ${h.jobId} already ended as ${status}`);
      expect(h.fetcher.opened).toStrictEqual([]);
      expect(h.objects.keys(OUTPUT_BUCKET)).toStrictEqual([]);
      expect(h.jobs.require(h.jobId).status).toBe(status);
    },
  );

  it('lets an expired output URL through, leaving the job COPYING without an event', async () => {
    const h = setup();
    const expired = new OutputRejectedError('OUTPUT_EXPIRED', 'the output URL answered 403');
    h.fetcher.failNextOpen(expired);

    expect(await rejectionOf(h.finalize(OUTPUT_URL))).toBe(expired);
    expect(h.jobs.require(h.jobId).status).toBe(JobStatus.copying);
    expect(h.events.published).toStrictEqual([]);
  });

  it('lets a download that breaks mid-stream through, completing nothing', async () => {
    const h = setup();
    const broken = new OutputDownloadError('OUTPUT_STALLED', 'the output download stalled');
    h.fetcher.serve(OUTPUT_URL, OUTPUT, { breakWith: broken });

    expect(await rejectionOf(h.finalize(OUTPUT_URL))).toBe(broken);
    expect(h.jobs.require(h.jobId).status).toBe(JobStatus.copying);
    expect(h.objects.keys(OUTPUT_BUCKET)).toStrictEqual([]);
    expect(h.events.published).toStrictEqual([]);
  });

  it('throws JobNotFoundError for an unknown job', async () => {
    const h = setup();

    expect(await rejectionOf(finalizeJob(h.deps, 'nosuchjob', OUTPUT_URL))).toBeInstanceOf(JobNotFoundError);
  });
});
