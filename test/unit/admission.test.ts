import { describe, expect, it } from 'vitest';
import { decodeCaughtError } from '../../functions/adapters/step-functions-error.js';
import { admitWaitingJobs, NO_ADMISSION_LIMITS } from '../../functions/domain/admission.js';
import { ProviderRejectedRequestError } from '../../functions/domain/errors.js';
import { deriveJobId, type Job, JobStatus, WaitReason } from '../../functions/domain/job.js';
import { recordFailure } from '../../functions/domain/record-failure.js';
import { retryJob } from '../../functions/domain/retry-job.js';
import { resumeSubmission } from '../../functions/domain/submission.js';
import { handleObjectCreated } from '../../functions/domain/submit-job.js';
import { sweepStuckJobs } from '../../functions/domain/sweep-jobs.js';
import { publishTerminalEventOnce } from '../../functions/domain/terminal-event.js';
import { INPUT_BUCKET } from '../support/jobs.js';
import { minimalMp4 } from '../support/media.js';
import { createSubmitHarness } from '../support/submit-harness.js';

const DAY = '2025-05-01';

function setup(admission: { maxInFlight?: number; dailyCreditBudget?: number } = {}) {
  const harness = createSubmitHarness({
    admission: { ...NO_ADMISSION_LIMITS, creditsPerJobEstimate: 40, ...admission },
  });
  const { objects, deps, jobs } = harness;
  const jobIdOf = (key: string) => {
    const info = objects.infoOf(INPUT_BUCKET, key);
    return deriveJobId({ bucket: INPUT_BUCKET, key, eTag: info.eTag, lastModified: info.lastModified });
  };
  return {
    ...harness,
    jobIdOf,
    /** Upload `count` videos with prompts, one second apart, and deliver their notifications one by one. */
    drop: async (...keys: string[]) => {
      for (const key of keys) {
        objects.put(INPUT_BUCKET, key, minimalMp4(), {
          contentType: 'video/mp4',
          metadata: { prompt: 'snow' },
        });
        harness.clock.advanceSeconds(1);
        await handleObjectCreated(deps, { bucket: INPUT_BUCKET, key });
      }
    },
    statusOf: (key: string) => jobs.require(jobIdOf(key)).status,
    /** Let waiting jobs in, as the state machine's last step does. */
    admit: () => admitWaitingJobs(deps, (job: Job) => resumeSubmission(deps, job)),
    /** End a job as the state machine's failure path does. */
    fail: (key: string) =>
      recordFailure(
        deps,
        jobIdOf(key),
        decodeCaughtError({ Error: 'GenerationFailedError', Cause: 'GENERATION_FAILED: no' }),
      ),
    /** End a job COMPLETED with the provider's cost, as finalize does. */
    complete: async (key: string, creditsUsed: number) => {
      const ended = await jobs.update(jobIdOf(key), { status: JobStatus.completed, creditsUsed });
      await publishTerminalEventOnce(deps, ended);
    },
  };
}

describe('the in-flight cap', () => {
  it('POSTs the first `cap` drops and keeps the others WAITING for CAPACITY, nothing dropped', async () => {
    const h = setup({ maxInFlight: 2 });

    await h.drop('a.mp4', 'b.mp4', 'c.mp4', 'd.mp4');

    expect(h.provider.creates).toHaveLength(2);
    expect(['a.mp4', 'b.mp4', 'c.mp4', 'd.mp4'].map(h.statusOf)).toStrictEqual([
      JobStatus.submitted,
      JobStatus.submitted,
      JobStatus.waiting,
      JobStatus.waiting,
    ]);
    expect(h.jobs.require(h.jobIdOf('c.mp4'))).toMatchObject({ waitingFor: WaitReason.capacity });
    expect([...h.admission.holders.keys()]).toStrictEqual([h.jobIdOf('a.mp4'), h.jobIdOf('b.mp4')]);
  });

  it('gives the slot back when a job ends and lets the oldest waiting job in', async () => {
    const h = setup({ maxInFlight: 2 });
    await h.drop('a.mp4', 'b.mp4', 'c.mp4', 'd.mp4');

    await h.fail('a.mp4');
    await expect(h.admit()).resolves.toBe(1);

    expect(h.provider.creates).toHaveLength(3);
    expect(h.statusOf('c.mp4')).toBe(JobStatus.submitted);
    expect(h.jobs.require(h.jobIdOf('c.mp4')).waitingFor).toBeUndefined();
    expect(h.statusOf('d.mp4')).toBe(JobStatus.waiting);
    expect([...h.admission.holders.keys()].sort()).toStrictEqual(
      [h.jobIdOf('b.mp4'), h.jobIdOf('c.mp4')].sort(),
    );
  });

  it('never holds more than the cap with 12 concurrent deliveries, and POSTs each admitted job once', async () => {
    const h = setup({ maxInFlight: 3 });
    const keys = Array.from({ length: 12 }, (_, i) => `clip-${i}.mp4`);
    for (const key of keys) {
      h.objects.put(INPUT_BUCKET, key, minimalMp4(), {
        contentType: 'video/mp4',
        metadata: { prompt: 'snow' },
      });
    }

    await Promise.all(
      keys.flatMap((key) => [
        handleObjectCreated(h.deps, { bucket: INPUT_BUCKET, key }),
        handleObjectCreated(h.deps, { bucket: INPUT_BUCKET, key }),
      ]),
    );

    expect(h.provider.creates).toHaveLength(3);
    expect(h.admission.maxHeld).toBe(3);
    expect(keys.map(h.statusOf).filter((status) => status === JobStatus.waiting)).toHaveLength(9);
  });

  it('lets every waiting job through, in drop order, as jobs end one after another', async () => {
    const h = setup({ maxInFlight: 1 });
    await h.drop('a.mp4', 'b.mp4', 'c.mp4');

    for (const key of ['a.mp4', 'b.mp4', 'c.mp4']) {
      expect(h.statusOf(key)).toBe(JobStatus.submitted);
      await h.fail(key);
      await h.admit();
    }

    expect(h.provider.creates).toHaveLength(3);
    expect(h.admission.maxHeld).toBe(1);
    expect(h.admission.holders.size).toBe(0);
  });

  it('frees the slot of a job the provider refused (nothing paid) at once', async () => {
    const h = setup({ maxInFlight: 1 });
    h.provider.scriptCreate(new ProviderRejectedRequestError('frame_size: invalid', 400));

    await h.drop('a.mp4', 'b.mp4');

    expect(h.statusOf('a.mp4')).toBe(JobStatus.rejected);
    expect(h.statusOf('b.mp4')).toBe(JobStatus.submitted);
    expect([...h.admission.holders.keys()]).toStrictEqual([h.jobIdOf('b.mp4')]);
  });

  it('keeps a duplicate notification of a waiting job waiting, without a POST', async () => {
    const h = setup({ maxInFlight: 1 });
    await h.drop('a.mp4', 'b.mp4');

    await handleObjectCreated(h.deps, { bucket: INPUT_BUCKET, key: 'b.mp4' });

    expect(h.provider.creates).toHaveLength(1);
    expect(h.statusOf('b.mp4')).toBe(JobStatus.waiting);
  });

  it('touches no counter and records no admission without a cap or a budget', async () => {
    const h = setup({ maxInFlight: 0 });

    await h.drop('a.mp4', 'b.mp4', 'c.mp4');

    expect(h.provider.creates).toHaveLength(3);
    expect(h.admission.maxHeld).toBe(0);
    expect(h.jobs.require(h.jobIdOf('a.mp4')).admittedAt).toBeUndefined();
  });
});

describe('the sweeper', () => {
  it('gives back a slot an ended job still holds after the grace period, and lets a waiting job in', async () => {
    const h = setup({ maxInFlight: 1 });
    await h.drop('a.mp4', 'b.mp4');
    // A crash between ending the job and giving its slot back.
    await h.jobs.update(h.jobIdOf('a.mp4'), {
      status: JobStatus.failed,
      eventPublishedAt: '2025-05-01T12:00:03.000Z',
    });
    h.clock.advanceSeconds(700);

    const report = await sweepStuckJobs(h.deps, { graceSeconds: 600, lookbackSeconds: 86_400 });

    expect(report.resolved).toContainEqual({ jobId: h.jobIdOf('a.mp4'), action: 'released-slot' });
    expect(report.admitted).toBe(1);
    expect(h.statusOf('b.mp4')).toBe(JobStatus.submitted);
  });
});

describe('the daily credit budget', () => {
  it('reserves the estimate per admitted job and keeps the drop that would pass the budget WAITING for BUDGET', async () => {
    const h = setup({ dailyCreditBudget: 100 });

    await h.drop('a.mp4', 'b.mp4', 'c.mp4');

    expect(h.provider.creates).toHaveLength(2);
    expect(h.jobs.require(h.jobIdOf('c.mp4'))).toMatchObject({
      status: JobStatus.waiting,
      waitingFor: WaitReason.budget,
    });
    expect(h.jobs.require(h.jobIdOf('a.mp4'))).toMatchObject({ creditsReserved: 40 });
    await expect(h.admission.creditsSpent(DAY)).resolves.toBe(80);
  });

  it('settles a reservation to the real cost, which makes room for a waiting drop', async () => {
    const h = setup({ dailyCreditBudget: 100 });
    await h.drop('a.mp4', 'b.mp4', 'c.mp4');

    await h.complete('a.mp4', 10);
    await h.admit();

    await expect(h.admission.creditsSpent(DAY)).resolves.toBe(90);
    expect(h.statusOf('c.mp4')).toBe(JobStatus.submitted);
  });

  it('charges nothing for a job that failed before any generation existed', async () => {
    const h = setup({ dailyCreditBudget: 100 });
    h.provider.scriptCreate(new ProviderRejectedRequestError('prompt: invalid', 400));

    await h.drop('a.mp4');

    await expect(h.admission.creditsSpent(DAY)).resolves.toBe(0);
  });

  it('resumes waiting drops on the next UTC day', async () => {
    const h = setup({ dailyCreditBudget: 40 });
    await h.drop('a.mp4', 'b.mp4');
    expect(h.statusOf('b.mp4')).toBe(JobStatus.waiting);

    h.clock.set('2025-05-02T00:00:01.000Z');
    await h.admit();

    expect(h.jobs.require(h.jobIdOf('b.mp4'))).toMatchObject({
      status: JobStatus.submitted,
      admittedAt: '2025-05-02T00:00:01.000Z',
    });
    await expect(h.admission.creditsSpent('2025-05-02')).resolves.toBe(40);
  });

  it('admits a retried job afresh: its new attempt reserves on the day it runs', async () => {
    const h = setup({ maxInFlight: 1, dailyCreditBudget: 40 });
    await h.drop('a.mp4');
    await h.fail('a.mp4');
    // A generation existed and reported no cost: the day keeps its reservation.
    await expect(h.admission.creditsSpent(DAY)).resolves.toBe(40);

    h.clock.set('2025-05-02T09:00:00.000Z');
    const retried = await retryJob(h.deps, h.jobIdOf('a.mp4'));

    expect(retried).toMatchObject({
      status: JobStatus.submitted,
      attempt: 2,
      admittedAt: '2025-05-02T09:00:00.000Z',
    });
    expect(h.provider.creates).toHaveLength(2);
    await expect(h.admission.creditsSpent('2025-05-02')).resolves.toBe(40);
    expect([...h.admission.holders.keys()]).toStrictEqual([h.jobIdOf('a.mp4')]);
  });

  it('applies the cap and the budget together: a budget refusal gives the slot back', async () => {
    const h = setup({ maxInFlight: 5, dailyCreditBudget: 40 });

    await h.drop('a.mp4', 'b.mp4');

    expect(h.jobs.require(h.jobIdOf('b.mp4'))).toMatchObject({ waitingFor: WaitReason.budget });
    expect([...h.admission.holders.keys()]).toStrictEqual([h.jobIdOf('a.mp4')]);
  });
});
