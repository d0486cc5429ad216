/**
 * The retry and cancel use cases against the in-memory collaborators: the rules and races the
 * CLI tier (test/cli/retry-cancel.test.ts) cannot set up on demand.
 */
import { describe, expect, it, vi } from 'vitest';
import { cancelJob, JobNotCancellableError } from '../../functions/domain/cancel-job.js';
import { JobNotFoundError, ProviderUnavailableError } from '../../functions/domain/errors.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import type { JobStore } from '../../functions/domain/ports.js';
import { silentLogger } from '../../functions/domain/ports.js';
import { JobNotRetryableError, retryJob } from '../../functions/domain/retry-job.js';
import { rejectionOf } from '../support/assertions.js';
import { executionArnFor } from '../support/fakes.js';
import { aJob, asPublished, INPUT_BUCKET, T0 } from '../support/jobs.js';
import { createSubmitHarness } from '../support/submit-harness.js';

const ENDED_AT = '2025-05-01T12:10:00.000Z';

function setup() {
  const { clock, jobs, objects, provider, executions, events, deps, admission } = createSubmitHarness();
  const info = objects.put(INPUT_BUCKET, 'trips/clip.mp4', 'the clip', { contentType: 'video/mp4' });
  /** A job of the stored clip that ended in `status`. */
  const ended = (status: JobStatus, overrides: Partial<Job> = {}): Job => {
    const base = aJob();
    const job = aJob({
      status,
      source: { ...base.source, eTag: info.eTag },
      trigger: { ...base.trigger, eTag: info.eTag },
      pollCount: 7,
      creditsUsed: 40,
      completedAt: ENDED_AT,
      statusChangedAt: ENDED_AT,
      error: { code: 'GENERATION_FAILED', message: 'it failed', stage: 'generation', retryable: false },
      ...overrides,
    });
    jobs.seed(job);
    clock.advanceSeconds(3600);
    return job;
  };
  return { clock, jobs, objects, provider, executions, events, deps, admission, ended };
}

describe('retryJob', () => {
  it('starts attempt 2 under the same id, keeping attempt 1 in attempts', async () => {
    const h = setup();
    const failed = h.ended(JobStatus.failed);

    const retried = await retryJob(h.deps, failed.jobId);

    expect(h.provider.creates).toHaveLength(1);
    expect(h.executions.started.map((execution) => execution.name)).toEqual([`${failed.jobId}-2`]);
    expect(retried).toEqual(h.jobs.require(failed.jobId));
    expect(retried).toMatchObject({
      status: JobStatus.submitted,
      attempt: 2,
      pollCount: 0,
      generationId: 'gen-1',
      executionArn: executionArnFor(`${failed.jobId}-2`),
      createdAt: failed.createdAt,
      attempts: [
        {
          attempt: 1,
          status: JobStatus.failed,
          error: failed.error,
          generationId: failed.generationId,
          creditsUsed: 40,
          pollCount: 7,
          executionArn: failed.executionArn,
          submittedAt: failed.submittedAt,
          completedAt: ENDED_AT,
        },
      ],
    });
    for (const field of ['error', 'completedAt', 'creditsUsed', 'output'] as const) {
      expect(retried[field], field).toBeUndefined();
    }
    expect(h.events.published).toEqual([]);
  });

  it('appends to the attempts of a job retried before', async () => {
    const h = setup();
    const earlier = { attempt: 1, status: JobStatus.cancelled, pollCount: 2 };
    const job = h.ended(JobStatus.timedOut, { attempt: 2, attempts: [earlier] });

    const retried = await retryJob(h.deps, job.jobId);

    expect(retried.attempt).toBe(3);
    expect(retried.attempts?.map((attempt) => [attempt.attempt, attempt.status])).toEqual([
      [1, JobStatus.cancelled],
      [2, JobStatus.timedOut],
    ]);
    expect(h.executions.started.map((execution) => execution.name)).toEqual([`${job.jobId}-3`]);
  });

  it.each([
    [JobStatus.completed, 'completed; nothing to retry'],
    [JobStatus.rejected, 'was rejected (GENERATION_FAILED): fix the input and upload it again'],
    [JobStatus.generating, 'is still in flight (GENERATING); cancel it first or wait for it to end'],
  ])('refuses a %s job', async (status, reason) => {
    const h = setup();
    const job = h.ended(status);
    const error = await rejectionOf(retryJob(h.deps, job.jobId));
    expect(error).toBeInstanceOf(JobNotRetryableError);
    expect((error as Error).message).toBe(`job ${job.jobId} ${reason}`);
    expect(h.jobs.require(job.jobId)).toEqual(job);
    expect(h.provider.creates).toEqual([]);
  });

  it('refuses a job whose source was replaced or deleted since', async () => {
    const h = setup();
    const job = h.ended(JobStatus.failed);
    h.objects.put(INPUT_BUCKET, 'trips/clip.mp4', 'another clip');
    expect(((await rejectionOf(retryJob(h.deps, job.jobId))) as Error).message).toBe(
      `the source s3://${INPUT_BUCKET}/trips/clip.mp4 was replaced since job ${job.jobId} ran; the new upload has a job of its own`,
    );
    const gone = h.ended(JobStatus.failed, {
      jobId: 'gonegonegonegonegone',
      source: { ...job.source, key: 'trips/gone.mp4' },
    });
    expect(((await rejectionOf(retryJob(h.deps, gone.jobId))) as Error).message).toBe(
      `the source s3://${INPUT_BUCKET}/trips/gone.mp4 was deleted since job ${gone.jobId} ran; upload it again`,
    );
    expect(h.provider.creates).toEqual([]);
  });

  it('throws JobNotFoundError for an unknown id', async () => {
    const h = setup();
    expect(await rejectionOf(retryJob(h.deps, 'nosuchjobnosuchjob22'))).toBeInstanceOf(JobNotFoundError);
  });

  it('lets only one of two concurrent retries through, so one generation is paid', async () => {
    const h = setup();
    const job = h.ended(JobStatus.failed);

    const results = await Promise.allSettled([retryJob(h.deps, job.jobId), retryJob(h.deps, job.jobId)]);

    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((result) => result.status === 'rejected');
    expect(refused?.status === 'rejected' && refused.reason).toBeInstanceOf(JobNotRetryableError);
    expect(h.provider.creates).toHaveLength(1);
    expect(h.jobs.require(job.jobId)).toMatchObject({ attempt: 2, attempts: [{ attempt: 1 }] });
  });

  it('ends the new attempt FAILED and retryable when the provider is unavailable', async () => {
    const h = setup();
    const job = h.ended(JobStatus.cancelled);
    h.provider.scriptCreate(new ProviderUnavailableError('503 from the provider', 503));

    const retried = await retryJob(h.deps, job.jobId);

    expect(retried).toMatchObject({
      status: JobStatus.failed,
      attempt: 2,
      error: { code: 'PROVIDER_UNAVAILABLE', stage: 'submit', retryable: true },
    });
    expect(retried.submissionClaim).toBeUndefined();
    expect(h.events.published.map((event) => [event.status, event.attempt])).toEqual([[JobStatus.failed, 2]]);
    expect(h.executions.started).toEqual([]);
  });
});

describe('cancelJob', () => {
  const cancelSetup = (job: Job) => {
    const h = setup();
    h.jobs.seed(job);
    const stop = vi.fn(async () => undefined);
    const warn = vi.fn();
    const deps = {
      jobs: h.jobs as JobStore,
      executions: { stop },
      admission: h.admission,
      events: h.events,
      clock: h.clock,
      logger: { ...silentLogger, warn },
    };
    return { ...h, deps, stop, warn };
  };

  it('cancels a generating job, stops its execution and publishes one event', async () => {
    const job = aJob();
    const h = cancelSetup(job);

    const result = await cancelJob(h.deps, job.jobId, { reason: 'wrong prompt' });

    expect(result).toEqual({
      job: h.jobs.require(job.jobId),
      cancelledFrom: JobStatus.generating,
      executionStopped: true,
    });
    expect(result.job).toMatchObject({
      status: JobStatus.cancelled,
      error: { code: 'CANCELLED', message: 'wrong prompt', stage: 'generation', retryable: true },
      completedAt: T0,
    });
    expect(h.stop).toHaveBeenCalledWith(job.executionArn, { error: 'JobCancelled', cause: 'wrong prompt' });
    expect(h.events.published).toEqual([asPublished(result.job)]);
  });

  it('cancels a job waiting for its prompt, which has no execution to stop', async () => {
    const base = aJob();
    const {
      executionArn: _arn,
      generationId: _gen,
      deadlineAt: _deadline,
      submittedAt: _at,
      ...waiting
    } = base;
    const h = cancelSetup({ ...waiting, status: JobStatus.awaitingPrompt });

    const result = await cancelJob(h.deps, base.jobId);

    expect(result).toMatchObject({ cancelledFrom: JobStatus.awaitingPrompt, executionStopped: false });
    expect(result.job.error).toEqual({
      code: 'CANCELLED',
      message: 'cancelled by request while AWAITING_PROMPT',
      stage: 'submit',
      retryable: true,
    });
    expect(h.stop).not.toHaveBeenCalled();
  });

  it('still cancels when the execution cannot be stopped, and says so', async () => {
    const job = aJob({ status: JobStatus.copying });
    const h = cancelSetup(job);
    h.stop.mockRejectedValueOnce(new Error('throttled'));

    const result = await cancelJob(h.deps, job.jobId);

    expect(result).toMatchObject({ cancelledFrom: JobStatus.copying, executionStopped: false });
    expect(result.job.error?.stage).toBe('copy');
    expect(h.warn).toHaveBeenCalledTimes(1);
    expect(h.events.published).toHaveLength(1);
  });

  it.each([JobStatus.completed, JobStatus.failed, JobStatus.cancelled])(
    'refuses a %s job',
    async (status) => {
      const job = aJob({ status });
      const h = cancelSetup(job);
      const error = await rejectionOf(cancelJob(h.deps, job.jobId));
      expect(error).toBeInstanceOf(JobNotCancellableError);
      expect((error as Error).message).toBe(
        `job ${job.jobId} already ended as ${status}; only a job in flight can be cancelled`,
      );
      expect(h.jobs.require(job.jobId)).toEqual(job);
      expect(h.events.published).toEqual([]);
    },
  );

  it('loses cleanly to a job that ends while it is being cancelled', async () => {
    const job = aJob();
    const h = cancelSetup({ ...job, status: JobStatus.completed });
    // The first read sees the job generating; by the conditional write it has completed.
    let reads = 0;
    const jobs: JobStore = {
      create: (record) => h.jobs.create(record),
      get: async (jobId) => (reads++ === 0 ? job : h.jobs.get(jobId)),
      update: (jobId, changes, options) => h.jobs.update(jobId, changes, options),
      listBySource: (bucket, key) => h.jobs.listBySource(bucket, key),
      listByStatus: (status, range) => h.jobs.listByStatus(status, range),
      listPendingEvents: (range) => h.jobs.listPendingEvents(range),
    };

    const error = await rejectionOf(cancelJob({ ...h.deps, jobs }, job.jobId));

    expect(error).toBeInstanceOf(JobNotCancellableError);
    expect((error as JobNotCancellableError).status).toBe(JobStatus.completed);
    expect(h.jobs.require(job.jobId).status).toBe(JobStatus.completed);
    expect(h.stop).not.toHaveBeenCalled();
    expect(h.events.published).toEqual([]);
  });
});
