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

/** What Step Functions puts in a Catch's ResultPath: the error name and its cause. */
export interface CaughtError {
  readonly Error?: string;
  readonly Cause?: string;
}

/**
 * Record the failure on the job: `TIMED_OUT` for a passed deadline, `FAILED` otherwise.
 * @returns the job as it now stands (unchanged when it had already ended).
 */
export async function recordFailure(
  deps: RecordFailureDeps,
  jobId: string,
  caught: CaughtError,
): Promise<Job> {
  const job = await deps.jobs.get(jobId);
  if (job === undefined) throw new JobNotFoundError(jobId);
  if (isTerminal(job.status)) return job;
  const name = caught.Error ?? 'Unknown';
  const { code, message } = parseCause(name, caught.Cause);
  const status = name === ErrorName.deadlineExceeded ? JobStatus.timedOut : JobStatus.failed;
  const error: JobError = {
    code,
    message,
    stage: stageOf(name, job),
    retryable: TRANSIENT_ERROR_NAMES.some((transient) => transient === name) || name.startsWith('States.'),
  };
  try {
    const ended = await deps.jobs.update(
      jobId,
      { status, error, completedAt: deps.clock.now().toISOString() },
      { expectStatus: IN_FLIGHT_STATUSES },
    );
    deps.logger.info('job failed', { jobId, status, code });
    return await publishTerminalEventOnce(deps, ended);
  } catch (failure) {
    if (failure instanceof StaleTransitionError) return (await deps.jobs.get(jobId)) ?? job;
    throw failure;
  }
}

/**
 * Functions throw `<CODE>: <message>` across the state machine boundary (see
 * `functions/adapters/step-functions-error.ts`); Lambda wraps it as JSON
 * `{ errorType, errorMessage }`. States' own errors (`States.Timeout`) carry free text.
 */
export function parseCause(name: string, cause: string | undefined): { code: string; message: string } {
  let text = cause ?? '';
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && 'errorMessage' in parsed) {
      const { errorMessage } = parsed as { errorMessage: unknown };
      if (typeof errorMessage === 'string') text = errorMessage;
    }
  } catch {
    // plain text cause
  }
  const coded = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(text);
  if (coded?.[1] !== undefined && coded[2] !== undefined) return { code: coded[1], message: coded[2] };
  const fallbackCode = name.startsWith('States.')
    ? name
        .slice('States.'.length)
        .replace(/([a-z])([A-Z])/g, '$1_$2')
        .toUpperCase()
    : 'PIPELINE_ERROR';
  return { code: fallbackCode, message: text.length > 0 ? text.slice(0, 1000) : name };
}

function stageOf(name: string, job: Job): Stage {
  // From the sweeper: the POST itself was lost, as when submit records this code itself.
  if (name === ErrorName.submissionOutcomeUnknown) return 'submit';
  if (name === ErrorName.generationFailed || name === ErrorName.deadlineExceeded) return 'generation';
  if (job.status === JobStatus.copying) return 'copy';
  // No generation yet: the sweeper ended a submission the provider kept refusing.
  if (job.status === JobStatus.submitted && job.generationId === undefined) return 'submit';
  if (name === ErrorName.outputDownload || name === ErrorName.outputRejected) return 'copy';
  return job.status === JobStatus.submitted || job.status === JobStatus.generating ? 'check' : 'pipeline';
}
