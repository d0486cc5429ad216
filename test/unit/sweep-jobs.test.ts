import { describe, expect, it, vi } from 'vitest';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { sweepStuckJobs } from '../../functions/domain/sweep-jobs.js';
import { executionArnFor } from '../support/fakes.js';
import { aJob, INPUT_BUCKET, T0 } from '../support/jobs.js';
import { minimalMp4 } from '../support/media.js';
import { createSubmitHarness } from '../support/submit-harness.js';

const GRACE_SECONDS = 600;
const SETTINGS = { graceSeconds: GRACE_SECONDS, lookbackSeconds: 2 * 86_400 };

function setup(...jobs: Job[]) {
  const harness = createSubmitHarness();
  for (const job of jobs) harness.jobs.seed(job);
  return { ...harness, store: harness.jobs };
}

const claimed = aJob({
  status: JobStatus.submitted,
  generationId: undefined,
  providerStatus: undefined,
  executionArn: undefined,
  submittedAt: undefined,
  submissionClaim: { token: 'token-1', claimedAt: T0, sendingAt: T0 },
});

describe('sweepStuckJobs', () => {
  it('fails a job whose submission claim outlived the grace period, without a second POST', async () => {
    const { deps, clock, store, provider, events } = setup(claimed);
    clock.advanceSeconds(GRACE_SECONDS + 1);

    const report = await sweepStuckJobs(deps, SETTINGS);

    expect(report.resolved).toEqual([{ jobId: claimed.jobId, action: 'failed-unknown-submission' }]);
    const job = store.require(claimed.jobId);
    expect(job.status).toBe(JobStatus.failed);
    expect(job.error).toEqual({
      code: 'SUBMISSION_OUTCOME_UNKNOWN',
      message:
        'the submission was interrupted before the provider answered; a generation may have been created and charged, and is not resent',
      stage: 'submit',
      retryable: false,
    });
    expect(provider.creates).toHaveLength(0);
    expect(events.published.map((published) => published.status)).toEqual([JobStatus.failed]);
  });

  it('submits again, once, a job whose claim holder died before sending its POST', async () => {
    const unsent = { ...claimed, submissionClaim: { token: 'token-1', claimedAt: T0 } };
    const { deps, clock, store, objects, provider, executions } = setup(unsent);
    objects.put(INPUT_BUCKET, unsent.source.key, minimalMp4(), { contentType: 'video/mp4' });
    clock.advanceSeconds(GRACE_SECONDS + 1);

    const report = await sweepStuckJobs(deps, SETTINGS);
    await sweepStuckJobs(deps, SETTINGS);

    expect(report.resolved).toEqual([{ jobId: unsent.jobId, action: 'resubmitted-unsent-claim' }]);
    expect(provider.creates).toHaveLength(1);
    expect(executions.started.map((execution) => execution.name)).toEqual([unsent.jobId]);
    expect(store.require(unsent.jobId)).toMatchObject({ status: JobStatus.submitted, generationId: 'gen-1' });
  });

  it('acts on the record read strongly, not on what the status index says', async () => {
    const { deps, clock, store, executions } = setup(claimed);
    clock.advanceSeconds(GRACE_SECONDS + 1);
    // The index is ahead of the record: it shows a generation id the record does not have.
    const ahead = { ...store.require(claimed.jobId), generationId: 'gen-ghost', submissionClaim: undefined };
    vi.spyOn(store, 'listByStatus').mockImplementation(async (status) =>
      status === JobStatus.submitted ? [ahead] : [],
    );

    const report = await sweepStuckJobs(deps, SETTINGS);

    expect(report.resolved).toEqual([{ jobId: claimed.jobId, action: 'failed-unknown-submission' }]);
    expect(executions.started).toEqual([]);
  });

  it('waits for the claim timeout, when longer than the grace period, before declaring a POST lost', async () => {
    const { deps, clock, store } = setup(claimed);
    clock.advanceSeconds(GRACE_SECONDS + 1);

    const early = await sweepStuckJobs(deps, { ...SETTINGS, claimTimeoutSeconds: GRACE_SECONDS + 60 });
    expect(early.resolved).toEqual([]);
    expect(store.require(claimed.jobId).status).toBe(JobStatus.submitted);

    clock.advanceSeconds(60);
    const late = await sweepStuckJobs(deps, { ...SETTINGS, claimTimeoutSeconds: GRACE_SECONDS + 60 });
    expect(late.resolved).toEqual([{ jobId: claimed.jobId, action: 'failed-unknown-submission' }]);
  });

  it('leaves a job alone while it is within the grace period', async () => {
    const { deps, clock, store } = setup(claimed);
    clock.advanceSeconds(GRACE_SECONDS - 1);

    const report = await sweepStuckJobs(deps, SETTINGS);

    expect(report).toEqual({ examined: 0, resolved: [], admitted: 0 });
    expect(store.require(claimed.jobId).status).toBe(JobStatus.submitted);
  });

  it('submits, once, a job whose submit retries ran out before it was claimed', async () => {
    const unclaimed = { ...claimed, submissionClaim: undefined };
    const { deps, clock, store, objects, provider, executions } = setup(unclaimed);
    objects.put(INPUT_BUCKET, unclaimed.source.key, minimalMp4());
    clock.advanceSeconds(GRACE_SECONDS + 1);

    const report = await sweepStuckJobs(deps, SETTINGS);

    expect(report.resolved).toEqual([{ jobId: unclaimed.jobId, action: 'submitted' }]);
    expect(provider.creates).toHaveLength(1);
    expect(executions.started.map((started) => started.name)).toEqual([unclaimed.jobId]);
    expect(store.require(unclaimed.jobId).generationId).toBe('gen-1');
  });

  it('starts the execution of a generation that has none', async () => {
    const job = aJob({ executionArn: undefined });
    const { deps, clock, store, executions } = setup(job);
    clock.advanceSeconds(GRACE_SECONDS + 1);

    await sweepStuckJobs(deps, SETTINGS);

    expect(executions.started).toEqual([{ name: job.jobId, input: { jobId: job.jobId, waitSeconds: 60 } }]);
    expect(store.require(job.jobId).executionArn).toBe(executionArnFor(job.jobId));
  });

  it('records the failure of a job whose execution ended without ending it', async () => {
    const job = aJob();
    const { deps, clock, store, executions } = setup(job);
    executions.statuses.set(job.executionArn ?? '', 'FAILED');
    clock.advanceSeconds(GRACE_SECONDS + 1);

    const report = await sweepStuckJobs(deps, SETTINGS);

    expect(report.resolved).toEqual([{ jobId: job.jobId, action: 'recorded-execution-failed' }]);
    expect(store.require(job.jobId).status).toBe(JobStatus.failed);
    expect(store.require(job.jobId).error?.code).toBe('EXECUTION_FAILED');
  });

  it('ends as TIMED_OUT a job whose execution timed out', async () => {
    const job = aJob();
    const { deps, clock, store, executions } = setup(job);
    executions.statuses.set(job.executionArn ?? '', 'TIMED_OUT');
    clock.advanceSeconds(GRACE_SECONDS + 1);

    await sweepStuckJobs(deps, SETTINGS);

    expect(store.require(job.jobId).status).toBe(JobStatus.timedOut);
  });

  it('does nothing to a job whose execution is still running', async () => {
    const job = aJob();
    const { deps, clock, store, executions } = setup(job);
    executions.statuses.set(job.executionArn ?? '', 'RUNNING');
    clock.advanceSeconds(GRACE_SECONDS + 1);

    const report = await sweepStuckJobs(deps, SETTINGS);

    expect(report).toEqual({ examined: 1, resolved: [], admitted: 0 });
    expect(store.require(job.jobId).status).toBe(JobStatus.generating);
  });
});

describe('sweepStuckJobs and terminal events', () => {
  it('publishes the event of a job that ended without its event being marked sent', async () => {
    const ended = aJob({ status: JobStatus.completed, completedAt: T0 });
    const { deps, clock, store, events } = setup(ended);
    clock.advanceSeconds(GRACE_SECONDS + 1);

    const report = await sweepStuckJobs(deps, SETTINGS);

    expect(report.resolved).toEqual([{ jobId: ended.jobId, action: 'published-event' }]);
    expect(events.published.map((job) => [job.jobId, job.status])).toEqual([
      [ended.jobId, JobStatus.completed],
    ]);
    expect(store.require(ended.jobId).eventPublishedAt).toBe(clock.now().toISOString());
  });

  it('publishes the unsent event of a job that ended long before, past the lookback and any number of grace periods', async () => {
    const ended = aJob({ status: JobStatus.failed, completedAt: T0 });
    const { deps, clock, store, events } = setup(ended);
    clock.advanceSeconds(SETTINGS.lookbackSeconds + 1000 * GRACE_SECONDS);

    const report = await sweepStuckJobs(deps, SETTINGS);

    expect(report.resolved).toEqual([{ jobId: ended.jobId, action: 'published-event' }]);
    expect(events.published.map((job) => [job.jobId, job.status])).toEqual([[ended.jobId, JobStatus.failed]]);
    expect(store.require(ended.jobId).eventPublishedAt).toBe(clock.now().toISOString());
  });

  it('does not publish again an event already marked sent', async () => {
    const ended = aJob({ status: JobStatus.failed, completedAt: T0, eventPublishedAt: T0 });
    const { deps, clock, events } = setup(ended);
    clock.advanceSeconds(GRACE_SECONDS + 1);

    await sweepStuckJobs(deps, SETTINGS);

    expect(events.published).toEqual([]);
  });

  it('leaves a just-ended job to the function that ended it', async () => {
    const ended = aJob({ status: JobStatus.completed, completedAt: T0 });
    const { deps, clock, events } = setup(ended);
    clock.advanceSeconds(GRACE_SECONDS - 1);

    await sweepStuckJobs(deps, SETTINGS);

    expect(events.published).toEqual([]);
  });
});
