/**
 * The retry use case (`vidflow retry`): a job that ended `FAILED`, `TIMED_OUT` or `CANCELLED`
 * starts a new attempt under the same job id. The record keeps the ended attempt in
 * `attempts`, counts up `attempt`, and goes back to `SUBMITTED`; then the submission runs
 * exactly as for a new drop (claim, one paid POST, the polling execution, which is named
 * `<jobId>-<attempt>` so it cannot collide with the earlier one).
 *
 * `REJECTED` jobs are not retried: their input is invalid, and a fixed input is a new upload.
 */
import {
  JobNotFoundError,
  ProviderRateLimitedError,
  ProviderUnavailableError,
  StaleTransitionError,
  type VidflowError,
} from './errors.js';
import { type Job, JobStatus, type PreviousAttempt } from './job.js';
import { resumeSubmission, type SubmissionDeps } from './submission.js';
import { publishTerminalEventOnce } from './terminal-event.js';

/** The statuses a job may be retried from. */
export const RETRYABLE_STATUSES: readonly JobStatus[] = [
  JobStatus.failed,
  JobStatus.timedOut,
  JobStatus.cancelled,
];

/** The job cannot be retried: still in flight, completed, rejected, or its source changed. */
export class JobNotRetryableError extends Error {
  override readonly name = 'JobNotRetryableError';
  constructor(
    readonly jobId: string,
    readonly status: JobStatus,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Start a new attempt of an ended job.
 * @returns the record after the new submission: normally `SUBMITTED` with a generation id and
 *   an execution; `FAILED` (a new ended attempt) when the provider refused or was unavailable.
 * @throws JobNotFoundError for an unknown id; JobNotRetryableError when the job is not in a
 *   retryable status (or left it meanwhile), has no request to send, or its source object is
 *   gone or was replaced (a replaced source has a job of its own).
 */
export async function retryJob(deps: SubmissionDeps, jobId: string): Promise<Job> {
  const job = await deps.jobs.get(jobId);
  if (job === undefined) throw new JobNotFoundError(jobId);
  if (!RETRYABLE_STATUSES.includes(job.status)) {
    throw new JobNotRetryableError(jobId, job.status, notRetryableReason(job));
  }
  if (job.request === undefined) {
    throw new JobNotRetryableError(jobId, job.status, `job ${jobId} has no generation request to send again`);
  }
  const source = await deps.objects.head({
    bucket: job.source.bucket,
    key: job.source.key,
    ...(job.source.versionId === undefined ? {} : { versionId: job.source.versionId }),
  });
  if (source === undefined || source.eTag !== job.source.eTag) {
    throw new JobNotRetryableError(
      jobId,
      job.status,
      `the source s3://${job.source.bucket}/${job.source.key} was ${source === undefined ? 'deleted' : 'replaced'} since job ${jobId} ran; ${source === undefined ? 'upload it again' : 'the new upload has a job of its own'}`,
    );
  }

  let reset: Job;
  try {
    reset = await deps.jobs.update(
      jobId,
      {
        status: JobStatus.submitted,
        attempt: job.attempt + 1,
        attempts: [...(job.attempts ?? []), previousAttemptOf(job)],
        pollCount: 0,
      },
      {
        expectStatus: RETRYABLE_STATUSES,
        removeFields: [
          'error',
          'generationId',
          'providerStatus',
          'lastQueuedAt',
          'executionArn',
          'submissionClaim',
          'output',
          'creditsUsed',
          'submittedAt',
          'completedAt',
          'deadlineAt',
          'eventPublishedAt',
          'checkFailures',
          // The new attempt is admitted afresh: a slot of its own, credits on the day it runs.
          'admittedAt',
          'creditsReserved',
          'waitingFor',
        ],
      },
    );
  } catch (error) {
    if (!(error instanceof StaleTransitionError)) throw error;
    const now = (await deps.jobs.get(jobId)) ?? job;
    throw new JobNotRetryableError(jobId, now.status, `job ${jobId} changed meanwhile: it is ${now.status}`, {
      cause: error,
    });
  }
  deps.logger.info('job retried', { jobId, attempt: reset.attempt });

  try {
    return await resumeSubmission(deps, reset);
  } catch (error) {
    // The POST surely did not reach the provider (the claim was released): end this attempt as
    // a retryable failure rather than leave it SUBMITTED with nothing driving it.
    if (error instanceof ProviderUnavailableError || error instanceof ProviderRateLimitedError) {
      return endAttemptUnsent(deps, reset, error);
    }
    throw error;
  }
}

function previousAttemptOf(job: Job): PreviousAttempt {
  return {
    attempt: job.attempt,
    status: job.status,
    pollCount: job.pollCount,
    ...(job.error === undefined ? {} : { error: job.error }),
    ...(job.generationId === undefined ? {} : { generationId: job.generationId }),
    ...(job.creditsUsed === undefined ? {} : { creditsUsed: job.creditsUsed }),
    ...(job.executionArn === undefined ? {} : { executionArn: job.executionArn }),
    ...(job.submittedAt === undefined ? {} : { submittedAt: job.submittedAt }),
    ...(job.completedAt === undefined ? {} : { completedAt: job.completedAt }),
  };
}

function notRetryableReason(job: Job): string {
  switch (job.status) {
    case JobStatus.completed:
      return `job ${job.jobId} completed; nothing to retry`;
    case JobStatus.rejected:
      return `job ${job.jobId} was rejected (${job.error?.code ?? 'invalid input'}): fix the input and upload it again`;
    default:
      return `job ${job.jobId} is still in flight (${job.status}); cancel it first or wait for it to end`;
  }
}

async function endAttemptUnsent(deps: SubmissionDeps, job: Job, error: VidflowError): Promise<Job> {
  try {
    const ended = await deps.jobs.update(
      job.jobId,
      {
        status: JobStatus.failed,
        error: { code: error.code, message: error.message, stage: 'submit', retryable: true },
        completedAt: deps.clock.now().toISOString(),
      },
      { expectStatus: [JobStatus.submitted], expectUnclaimed: true },
    );
    return await publishTerminalEventOnce(deps, ended);
  } catch (caught) {
    if (caught instanceof StaleTransitionError) return (await deps.jobs.get(job.jobId)) ?? job;
    throw caught;
  }
}
