import { describe, expect, it, vi } from 'vitest';
import {
  type CaughtError,
  decodeCaughtError,
  parseCause,
  toStepFunctionsError,
} from '../../functions/adapters/step-functions-error.js';
import { JobInvariantError, JobNotFoundError } from '../../functions/domain/errors.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { silentLogger } from '../../functions/domain/ports.js';
import { type RecordFailureDeps, recordFailure } from '../../functions/domain/record-failure.js';
import { rejectionOf } from '../support/assertions.js';
import { FakeAdmissionStore, FakeClock, FakeEvents, FakeJobStore } from '../support/fakes.js';
import { aJob, asPublished } from '../support/jobs.js';

const NOW = '2025-05-01T12:31:00.000Z';

function setup(job: Partial<Job> = {}) {
  const clock = new FakeClock(NOW);
  const jobs = new FakeJobStore(clock);
  const events = new FakeEvents();
  const seeded = aJob({ status: JobStatus.generating, ...job });
  jobs.seed(seeded);
  const deps: RecordFailureDeps = {
    jobs,
    admission: new FakeAdmissionStore(),
    events,
    clock,
    logger: silentLogger,
  };
  return {
    jobs,
    events,
    deps,
    jobId: seeded.jobId,
    record: (caught: CaughtError) => recordFailure(deps, seeded.jobId, decodeCaughtError(caught)),
  };
}

/** What Lambda puts in a Catch's Cause for an error thrown by a function. */
function lambdaCause(errorType: string, errorMessage: string): string {
  return JSON.stringify({
    errorType,
    errorMessage,
    trace: [`${errorType}: ${errorMessage}`, '    at check'],
  });
}

describe('recordFailure', () => {
  it('records a passed deadline as TIMED_OUT at the generation stage, with one event', async () => {
    const h = setup();

    const ended = await h.record({
      Error: 'DeadlineExceededError',
      Cause: lambdaCause(
        'DeadlineExceededError',
        'DEADLINE_EXCEEDED: the generation did not finish by its deadline 2025-05-01T12:30:00.000Z',
      ),
    });

    expect(ended).toMatchObject({
      status: JobStatus.timedOut,
      completedAt: NOW,
      statusChangedAt: NOW,
      error: {
        code: 'DEADLINE_EXCEEDED',
        message: 'the generation did not finish by its deadline 2025-05-01T12:30:00.000Z',
        stage: 'generation',
        retryable: false,
      },
    });
    expect(h.jobs.require(h.jobId)).toStrictEqual(ended);
    expect(h.events.published).toStrictEqual([asPublished(ended)]);
  });

  it('records a failed generation as FAILED with the code from a plain "CODE: message" cause', async () => {
    const h = setup();

    const ended = await h.record({
      Error: 'GenerationFailedError',
      Cause: 'GENERATION_FAILED: the provider reported the generation failed (MODERATION: flagged)',
    });

    expect(ended.status).toBe(JobStatus.failed);
    expect(ended.error).toStrictEqual({
      code: 'GENERATION_FAILED',
      message: 'the provider reported the generation failed (MODERATION: flagged)',
      stage: 'generation',
      retryable: false,
    });
  });

  it('records a failed generation with the code from a Lambda JSON cause {errorType, errorMessage}', async () => {
    const h = setup();

    const ended = await h.record({
      Error: 'GenerationFailedError',
      Cause: lambdaCause(
        'GenerationFailedError',
        'GENERATION_FAILED: the provider reported the generation failed',
      ),
    });

    expect(ended.status).toBe(JobStatus.failed);
    expect(ended.error).toStrictEqual({
      code: 'GENERATION_FAILED',
      message: 'the provider reported the generation failed',
      stage: 'generation',
      retryable: false,
    });
  });

  it('records a States.Timeout with code TIMEOUT', async () => {
    const h = setup();

    const ended = await h.record({ Error: 'States.Timeout' });

    expect(ended.status).toBe(JobStatus.failed);
    expect(ended.error).toStrictEqual({
      code: 'TIMEOUT',
      message: 'States.Timeout',
      stage: 'check',
      retryable: true,
    });
  });

  it('records a copy failure at the copy stage as retryable', async () => {
    const h = setup({ status: JobStatus.copying });

    const ended = await h.record({
      Error: 'OutputDownloadError',
      Cause: lambdaCause('OutputDownloadError', 'OUTPUT_STALLED: the output download stalled for 30000 ms'),
    });

    expect(ended.error).toStrictEqual({
      code: 'OUTPUT_STALLED',
      message: 'the output download stalled for 30000 ms',
      stage: 'copy',
      retryable: true,
    });
  });

  it('records an unknown submission outcome (from the sweeper) at the submit stage', async () => {
    const h = setup({ status: JobStatus.submitted, generationId: undefined, executionArn: undefined });

    const ended = await h.record({
      Error: 'SubmissionOutcomeUnknownError',
      Cause: 'SUBMISSION_OUTCOME_UNKNOWN: the submission was interrupted before the provider answered',
    });

    expect(ended.status).toBe(JobStatus.failed);
    expect(ended.error).toStrictEqual({
      code: 'SUBMISSION_OUTCOME_UNKNOWN',
      message: 'the submission was interrupted before the provider answered',
      stage: 'submit',
      retryable: false,
    });
  });

  it.each([JobStatus.submitted, JobStatus.generating])(
    "records a broken job invariant of a %s job as JOB_INVARIANT_BROKEN at the check stage, not as the provider's fault",
    async (status) => {
      const h = setup({ status, generationId: undefined });
      const crossing = toStepFunctionsError(new JobInvariantError(`job ${h.jobId} has no generation id`));
      if (!(crossing instanceof Error)) throw new Error('expected an Error to cross the boundary');

      const ended = await h.record({
        Error: crossing.name,
        Cause: lambdaCause(crossing.name, crossing.message),
      });

      expect(ended.status).toBe(JobStatus.failed);
      expect(ended.error).toStrictEqual({
        code: 'JOB_INVARIANT_BROKEN',
        message: `job ${h.jobId} has no generation id`,
        stage: 'check',
        retryable: false,
      });
    },
  );

  it('records an error without a coded cause as PIPELINE_ERROR with the cause as message', async () => {
    const h = setup({ status: JobStatus.submitted });

    const ended = await h.record({ Error: 'TypeError', Cause: 'cannot read properties of undefined' });

    expect(ended.error).toStrictEqual({
      code: 'PIPELINE_ERROR',
      message: 'cannot read properties of undefined',
      stage: 'check',
      retryable: false,
    });
  });

  it('records an empty catch as PIPELINE_ERROR named Unknown', async () => {
    const h = setup({ status: JobStatus.awaitingPrompt });

    const ended = await h.record({});

    expect(ended.error).toStrictEqual({
      code: 'PIPELINE_ERROR',
      message: 'Unknown',
      stage: 'pipeline',
      retryable: false,
    });
  });

  it.each([JobStatus.completed, JobStatus.cancelled, JobStatus.rejected, JobStatus.timedOut])(
    'leaves a job that already ended %s (its event out) untouched and publishes nothing',
    async (status) => {
      const h = setup({ status, eventPublishedAt: NOW });
      const before = h.jobs.require(h.jobId);

      const returned = await h.record({ Error: 'GenerationFailedError', Cause: 'GENERATION_FAILED: late' });

      expect(returned).toStrictEqual(before);
      expect(h.jobs.require(h.jobId)).toStrictEqual(before);
      expect(h.jobs.calls.filter((call) => call.method === 'update')).toStrictEqual([]);
      expect(h.events.published).toStrictEqual([]);
    },
  );

  it.each([JobStatus.completed, JobStatus.failed, JobStatus.cancelled])(
    'publishes nothing for a job that ended %s while its event is not yet marked (the ender may be sending it)',
    async (status) => {
      const h = setup({ status });
      const before = h.jobs.require(h.jobId);

      const returned = await h.record({ Error: 'GenerationFailedError', Cause: 'GENERATION_FAILED: late' });

      expect(h.events.published).toStrictEqual([]);
      expect(returned).toStrictEqual(before);
      expect(h.jobs.require(h.jobId)).toStrictEqual(before);
    },
  );

  it('returns the record as it stands when the job ends another way meanwhile, publishing nothing', async () => {
    const h = setup({ status: JobStatus.completed });
    const stillInFlight = { ...h.jobs.require(h.jobId), status: JobStatus.copying };
    vi.spyOn(h.jobs, 'get').mockResolvedValueOnce(stillInFlight);

    const returned = await h.record({ Error: 'OutputDownloadError', Cause: 'OUTPUT_STALLED: stalled' });

    expect(returned.status).toBe(JobStatus.completed);
    expect(h.jobs.require(h.jobId).status).toBe(JobStatus.completed);
    expect(h.events.published).toStrictEqual([]);
  });

  it('throws JobNotFoundError for an unknown job', async () => {
    const h = setup();

    expect(
      await rejectionOf(recordFailure(h.deps, 'nosuchjob', decodeCaughtError({ Error: 'X' }))),
    ).toBeInstanceOf(JobNotFoundError);
  });
});

describe('parseCause', () => {
  it('keeps a multi-line message after the code', () => {
    expect(parseCause('X', 'OUTPUT_TRUNCATED: line one\nline two')).toStrictEqual({
      code: 'OUTPUT_TRUNCATED',
      message: 'line one\nline two',
    });
  });

  it('turns a States error name into a code', () => {
    expect(parseCause('States.TaskFailed', 'boom')).toStrictEqual({ code: 'TASK_FAILED', message: 'boom' });
  });

  it('reads a JSON cause that is not Lambda-shaped as plain text', () => {
    expect(parseCause('Boom', '{"unexpected":true}')).toStrictEqual({
      code: 'PIPELINE_ERROR',
      message: '{"unexpected":true}',
    });
  });
});

describe('decodeCaughtError', () => {
  it('decodes a function error Lambda wrapped as JSON into its name, code and message', () => {
    expect(
      decodeCaughtError({
        Error: 'OutputRejectedError',
        Cause: lambdaCause('OutputRejectedError', 'OUTPUT_EXPIRED: the output link expired'),
      }),
    ).toStrictEqual({
      name: 'OutputRejectedError',
      code: 'OUTPUT_EXPIRED',
      message: 'the output link expired',
      raisedByStateMachine: false,
    });
  });

  it("marks Step Functions' own errors as raised by the state machine", () => {
    expect(decodeCaughtError({ Error: 'States.Runtime', Cause: 'bad path' })).toStrictEqual({
      name: 'States.Runtime',
      code: 'RUNTIME',
      message: 'bad path',
      raisedByStateMachine: true,
    });
  });

  it('names an empty catch Unknown', () => {
    expect(decodeCaughtError({})).toStrictEqual({
      name: 'Unknown',
      code: 'PIPELINE_ERROR',
      message: 'Unknown',
      raisedByStateMachine: false,
    });
  });
});
