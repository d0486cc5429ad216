/**
 * The record-failure use case: the state machine caught an error; say on the job why it
 * ended. A terminal record is never overwritten.
 */
import {
  ErrorName,
  JobNotFoundError,
  type Stage,
  StaleTransitionError,
  TRANSIENT_ERROR_NAMES,
  type VidflowError,
} from './errors.js';
import { IN_FLIGHT_STATUSES, isTerminal, type Job, type JobError, JobStatus } from './job.js';
import type { AdmissionStore, Clock, JobEvents, JobMetrics, JobStore, Logger } from './ports.js';
import { publishTerminalEventOnce } from './terminal-event.js';

export interface RecordFailureDeps {
  readonly jobs: JobStore;
  readonly admission: AdmissionStore;
  readonly events: JobEvents;
  /** Figures of the failed job. @default none */
  readonly metrics?: JobMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * A failure that ends a job: one the state machine caught, decoded by the adapter that encoded
 * it (`functions/adapters/step-functions-error.ts`), or one the sweeper met itself.
 */
export interface PipelineFailure {
  /** The error's name, which the state machine's Retry/Catch matched on ({@link ErrorName}). */
  readonly name: string;
  /** The code for the job record's `error.code`. */
  readonly code: string;
  readonly message: string;
  /**
   * Step Functions itself raised it (a task timeout, a Lambda crash), not a vidflow function:
   * another attempt at the job may well succeed.
   */
  readonly raisedByStateMachine: boolean;
}

/** A vidflow error as a {@link PipelineFailure}, for a use case that records one it met itself. */
export function failureOf(error: VidflowError): PipelineFailure {
  return { name: error.name, code: error.code, message: error.message, raisedByStateMachine: false };
}

/**
 * Record the failure on the job: `TIMED_OUT` for a passed deadline, `FAILED` otherwise.
 * @returns the job as it now stands (unchanged when it had already ended).
 * @throws JobNotFoundError when no job has this id; the job store's errors.
 */
export async function recordFailure(
  deps: RecordFailureDeps,
  jobId: string,
  failure: PipelineFailure,
): Promise<Job> {
  const job = await deps.jobs.get(jobId);
  if (job === undefined) throw new JobNotFoundError(jobId);
  // Ended already (cancelled while a step ran, or a rerun after a crash): nothing to record. Its
  // event is not sent here: whoever ended the job may be sending it right now, and an event a crash
  // lost is the sweeper's (sweep-jobs.ts, the pending-event index).
  if (isTerminal(job.status)) return job;
  const { name, code, message } = failure;
  const status = name === ErrorName.deadlineExceeded ? JobStatus.timedOut : JobStatus.failed;
  const error: JobError = {
    code,
    message,
    stage: stageOf(name, job),
    retryable: TRANSIENT_ERROR_NAMES.some((transient) => transient === name) || failure.raisedByStateMachine,
  };
  try {
    const ended = await deps.jobs.update(
      jobId,
      { status, error, completedAt: deps.clock.now().toISOString() },
      { expectStatus: IN_FLIGHT_STATUSES },
    );
    deps.logger.info('job failed', { jobId, status, code });
    return await publishTerminalEventOnce(deps, ended);
  } catch (updateError) {
    if (updateError instanceof StaleTransitionError) return (await deps.jobs.get(jobId)) ?? job;
    throw updateError;
  }
}

function stageOf(name: string, job: Job): Stage {
  // From the sweeper: the POST itself was lost, as when submit records this code itself.
  if (name === ErrorName.submissionOutcomeUnknown) return 'submit';
  if (name === ErrorName.generationFailed || name === ErrorName.deadlineExceeded) return 'generation';
  if (job.status === JobStatus.copying) return 'copy';
  // Check or finalize met a record without its generation id: where it was met, not a submission.
  if (name === ErrorName.jobInvariant) return 'check';
  // No generation yet: the sweeper ended a submission the provider kept refusing.
  if (job.status === JobStatus.submitted && job.generationId === undefined) return 'submit';
  if (name === ErrorName.outputDownload || name === ErrorName.outputRejected) return 'copy';
  return job.status === JobStatus.submitted || job.status === JobStatus.generating ? 'check' : 'pipeline';
}
