/**
 * The cancel use case (`vidflow cancel`): an in-flight job ends `CANCELLED`, its polling
 * execution is stopped, and the terminal event is published.
 *
 * The record is changed first, conditionally, so the cancellation wins or loses cleanly against
 * the pipeline: once it is `CANCELLED`, check and finalize refuse the job
 * (`StaleTransitionError`) and record-failure leaves a terminal record alone, so a provider
 * result that arrives late (or an execution that could not be stopped) changes nothing.
 */
import { JobNotFoundError, type Stage, StaleTransitionError } from './errors.js';
import { IN_FLIGHT_STATUSES, type Job, JobStatus } from './job.js';
import type { AdmissionStore, Clock, JobEvents, JobStore, Logger } from './ports.js';
import { publishTerminalEventOnce } from './terminal-event.js';

/** Stops a running state machine execution. */
export interface ExecutionStopper {
  /** Stop the execution; stopping an ended one is not an error. */
  stop(executionArn: string, reason: { readonly error: string; readonly cause: string }): Promise<void>;
}

export interface CancelDeps {
  readonly jobs: JobStore;
  readonly admission: AdmissionStore;
  readonly executions: ExecutionStopper;
  readonly events: JobEvents;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * Credits a generation is taken to cost when it was created but its cost is not known yet: it
   * runs on at the provider after a cancel, and `stats` must count it.
   * @default none: only a known cost or the admission's reservation is recorded
   */
  readonly creditsPerJobEstimate?: number;
}

/** The `error.code` of a cancelled job. */
export const CANCELLED_CODE = 'CANCELLED';

/** The job has already ended (or ended while it was being cancelled). */
export class JobNotCancellableError extends Error {
  override readonly name = 'JobNotCancellableError';
  constructor(
    readonly jobId: string,
    readonly status: JobStatus,
    options?: { cause?: unknown },
  ) {
    super(`job ${jobId} already ended as ${status}; only a job in flight can be cancelled`, options);
  }
}

export interface CancelResult {
  readonly job: Job;
  /** The status the job was in when it was cancelled. */
  readonly cancelledFrom: JobStatus;
  /** Whether a polling execution was stopped (false: there was none, or stopping it failed). */
  readonly executionStopped: boolean;
}

/**
 * Cancel an in-flight job.
 * @throws JobNotFoundError for an unknown id; JobNotCancellableError when it already ended.
 */
export async function cancelJob(
  deps: CancelDeps,
  jobId: string,
  options: { readonly reason?: string } = {},
): Promise<CancelResult> {
  const job = await deps.jobs.get(jobId);
  if (job === undefined) throw new JobNotFoundError(jobId);
  if (!IN_FLIGHT_STATUSES.includes(job.status)) throw new JobNotCancellableError(jobId, job.status);

  const message = options.reason ?? `cancelled by request while ${job.status}`;
  let cancelled: Job;
  try {
    cancelled = await deps.jobs.update(
      jobId,
      {
        status: JobStatus.cancelled,
        error: { code: CANCELLED_CODE, message, stage: stageOf(job), retryable: true },
        completedAt: deps.clock.now().toISOString(),
        ...creditsOfCancelled(deps, job),
      },
      { expectStatus: IN_FLIGHT_STATUSES },
    );
  } catch (error) {
    if (!(error instanceof StaleTransitionError)) throw error;
    const now = (await deps.jobs.get(jobId)) ?? job;
    throw new JobNotCancellableError(jobId, now.status, { cause: error });
  }

  let executionStopped = false;
  if (job.executionArn !== undefined) {
    try {
      await deps.executions.stop(job.executionArn, { error: 'JobCancelled', cause: message });
      executionStopped = true;
    } catch (error) {
      // Harmless: the execution's next step finds the job cancelled and ends without changing it.
      deps.logger.warn('could not stop the execution of a cancelled job', {
        jobId,
        executionArn: job.executionArn,
        error,
      });
    }
  }
  deps.logger.info('job cancelled', { jobId, from: job.status });
  const published = await publishTerminalEventOnce(deps, cancelled);
  return { job: published, cancelledFrom: job.status, executionStopped };
}

/**
 * A generation that was created (or whose POST may have reached the provider) runs on and is
 * charged: its cost, as known, reserved or estimated, is recorded on the cancelled attempt.
 */
function creditsOfCancelled(deps: CancelDeps, job: Job): { creditsUsed?: number } {
  if (job.creditsUsed !== undefined) return {};
  const mayBeCharged = job.generationId !== undefined || job.submissionClaim?.sendingAt !== undefined;
  if (!mayBeCharged) return {};
  const credits = job.creditsReserved ?? deps.creditsPerJobEstimate;
  return credits === undefined ? {} : { creditsUsed: credits };
}

function stageOf(job: Job): Stage {
  if (job.status === JobStatus.copying) return 'copy';
  if (job.status === JobStatus.generating || job.generationId !== undefined) return 'generation';
  return 'submit';
}
