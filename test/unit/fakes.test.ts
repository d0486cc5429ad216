/**
 * The fakes stand in for DynamoDB and S3 in the use-case tests, so their semantics are
 * tested too: a fake that is laxer than the real store would hide races.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StaleTransitionError } from '../../functions/domain/errors.js';
import { JobStatus } from '../../functions/domain/job.js';
import { rejectionOf } from '../support/assertions.js';
import { FakeClock, FakeExecutions, FakeJobStore, FakeObjectStore } from '../support/fakes.js';
import { aJob, T0 } from '../support/jobs.js';

describe('FakeJobStore', () => {
  function setup() {
    const clock = new FakeClock(T0);
    return { clock, jobs: new FakeJobStore(clock) };
  }

  it('creates a record once per id', async () => {
    const { jobs } = setup();

    expect(await jobs.create(aJob())).toBe(true);
    expect(await jobs.create(aJob({ status: JobStatus.failed }))).toBe(false);
    expect(jobs.all().map((job) => job.status)).toStrictEqual([JobStatus.generating]);
  });

  it('stamps updatedAt on every update and statusChangedAt only when a status is set', async () => {
    const { clock, jobs } = setup();
    jobs.seed(aJob());
    clock.advanceSeconds(10);

    const noStatus = await jobs.update(aJob().jobId, { providerStatus: 'queued' });
    clock.advanceSeconds(10);
    const withStatus = await jobs.update(aJob().jobId, { status: JobStatus.copying });

    expect([noStatus.updatedAt, noStatus.statusChangedAt]).toStrictEqual(['2025-05-01T12:00:10.000Z', T0]);
    expect([withStatus.updatedAt, withStatus.statusChangedAt]).toStrictEqual([
      '2025-05-01T12:00:20.000Z',
      '2025-05-01T12:00:20.000Z',
    ]);
  });

  it('refuses an update of a missing record or one outside the expected statuses', async () => {
    const { jobs } = setup();
    jobs.seed(aJob({ status: JobStatus.completed }));

    expect(await rejectionOf(jobs.update('missing', { providerStatus: 'x' }))).toBeInstanceOf(
      StaleTransitionError,
    );
    expect(
      await rejectionOf(
        jobs.update(aJob().jobId, { status: JobStatus.failed }, { expectStatus: [JobStatus.generating] }),
      ),
    ).toBeInstanceOf(StaleTransitionError);
    expect(jobs.require(aJob().jobId).status).toBe(JobStatus.completed);
  });

  it('grants the submission claim once, and only while no generation id is recorded', async () => {
    const { jobs } = setup();
    jobs.seed(aJob({ jobId: 'fresh', generationId: undefined }));
    jobs.seed(aJob({ jobId: 'paid' }));
    const claim = (jobId: string, token: string) =>
      jobs.update(jobId, { submissionClaim: { token, claimedAt: T0 } }, { expectUnclaimed: true });

    const results = await Promise.allSettled([claim('fresh', 'a'), claim('fresh', 'b'), claim('paid', 'c')]);

    expect(results.map((result) => result.status)).toStrictEqual(['fulfilled', 'rejected', 'rejected']);
    expect(jobs.require('fresh').submissionClaim?.token).toBe('a');
  });

  it('releases a claim only for its token, removing the field', async () => {
    const { jobs } = setup();
    jobs.seed(aJob({ submissionClaim: { token: 'mine', claimedAt: T0 } }));
    const release = (token: string) =>
      jobs.update(aJob().jobId, {}, { expectClaimToken: token, removeFields: ['submissionClaim'] });

    expect(await rejectionOf(release('other'))).toBeInstanceOf(StaleTransitionError);
    const released = await release('mine');

    expect(released).not.toHaveProperty('submissionClaim');
  });

  it('increments the poll count atomically', async () => {
    const { jobs } = setup();
    jobs.seed(aJob({ pollCount: 2 }));

    await Promise.all([1, 2, 3].map(() => jobs.update(aJob().jobId, {}, { incrementPollCount: true })));

    expect(jobs.require(aJob().jobId).pollCount).toBe(5);
  });

  it('lists a status newest first within [since, until], and a source newest first', async () => {
    const { jobs } = setup();
    jobs.seed(aJob({ jobId: 'a', status: JobStatus.submitted, statusChangedAt: '2025-05-01T10:00:00.000Z' }));
    jobs.seed(aJob({ jobId: 'b', status: JobStatus.submitted, statusChangedAt: '2025-05-01T11:00:00.000Z' }));
    jobs.seed(aJob({ jobId: 'c', status: JobStatus.submitted, statusChangedAt: '2025-05-01T13:00:00.000Z' }));
    jobs.seed(aJob({ jobId: 'd', status: JobStatus.failed, statusChangedAt: '2025-05-01T11:30:00.000Z' }));
    jobs.seed(aJob({ jobId: 'e', createdAt: '2025-04-01T00:00:00.000Z' }));

    const submitted = await jobs.listByStatus(JobStatus.submitted, {
      since: new Date('2025-05-01T10:00:00.000Z'),
    });
    const bySource = await jobs.listBySource('vidflow-input', 'trips/clip.mp4');

    expect(submitted.map((job) => job.jobId)).toStrictEqual(['b', 'a']); // c is after "now"
    expect(bySource.map((job) => job.jobId)).toStrictEqual(['d', 'c', 'b', 'a', 'e']);
  });
});

describe('FakeObjectStore', () => {
  const setup = () => new FakeObjectStore(new FakeClock(T0));

  it('reads at most maxBytes + 1 bytes as text, with the whole size', async () => {
    const objects = setup();
    objects.put('b', 'doc.json', 'abcdefghij');

    await expect(objects.readText({ bucket: 'b', key: 'doc.json' }, 4)).resolves.toStrictEqual({
      text: 'abcde',
      size: 10,
    });
    await expect(objects.readText({ bucket: 'b', key: 'missing' }, 4)).resolves.toBeUndefined();
  });

  it('serves inclusive ranges, fewer bytes at the end', async () => {
    const objects = setup();
    objects.put('b', 'v', new Uint8Array([0, 1, 2, 3, 4]));

    await expect(objects.readRange({ bucket: 'b', key: 'v' }, 1, 2)).resolves.toStrictEqual(
      new Uint8Array([1, 2]),
    );
    await expect(objects.readRange({ bucket: 'b', key: 'v' }, 3, 63)).resolves.toStrictEqual(
      new Uint8Array([3, 4]),
    );
  });

  it('consumes an upload stream and counts its bytes', async () => {
    const objects = setup();

    const result = await objects.upload(
      { bucket: 'out', key: 'v.mp4' },
      Readable.from([Buffer.from('abc'), Buffer.from('defg')]),
      { contentType: 'video/mp4', metadata: { 'job-id': 'j' } },
    );

    expect(result.size).toBe(7);
    expect(new TextDecoder().decode(objects.bytesOf('out', 'v.mp4'))).toBe('abcdefg');
    expect(objects.infoOf('out', 'v.mp4')).toMatchObject({
      contentType: 'video/mp4',
      metadata: { 'job-id': 'j' },
    });
  });

  it('does not find another version of a key', async () => {
    const objects = setup();
    objects.put('b', 'v', 'x', { versionId: 'v2' });

    await expect(objects.head({ bucket: 'b', key: 'v', versionId: 'v1' })).resolves.toBeUndefined();
    await expect(objects.head({ bucket: 'b', key: 'v', versionId: 'v2' })).resolves.toMatchObject({
      size: 1,
    });
  });
});

describe('FakeExecutions', () => {
  it('starts a name once; starting it again is a no-op with the same ARN', async () => {
    const executions = new FakeExecutions();

    const first = await executions.start('job1', { jobId: 'job1', waitSeconds: 60 });
    const second = await executions.start('job1', { jobId: 'job1', waitSeconds: 60 });

    expect(second).toStrictEqual(first);
    expect(executions.started).toHaveLength(1);
    await expect(executions.status(first.executionArn)).resolves.toBe('RUNNING');
  });
});
