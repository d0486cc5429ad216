/**
 * The sweeper: finds in-flight jobs that nothing is moving any more and resolves them.
 * Runs at start-up and periodically in the local runtime.
 *
 * - A submission claim older than the grace period without a generation id: the POST's
 *   outcome is unknown (a crash mid-request). Never resent: `FAILED` with
 *   `SUBMISSION_OUTCOME_UNKNOWN`, saying a generation may have been charged.
 * - `SUBMITTED` without a claim or generation id (its submit retries ran out): submitted now,
 *   through the same claim, so still at most one POST. If the provider still refuses it (429,
 *   503, no connection), the job ends `FAILED` with that code: the retries are bounded.
 * - A generation id without an execution, or whose execution is gone: the execution is
 *   started (named after the job, so at most one runs).
 * - An execution that ended without ending the job: the failure is recorded.
 * - A job that ended recently but whose terminal event was never marked sent: it is sent.
 * - An in-flight slot held past the grace period by a job that ended (or waits, or is gone):
 *   given back. Then waiting jobs are let in while the cap and the budget allow (admission.ts):
 *   this is what resumes them on a new budget day, after a raised budget, or after a lost wake-up.
 */
import { admitWaitingJobs, releaseAdmission } from './admission.js';
import {
  ErrorName,
  ProviderRateLimitedError,
  ProviderUnavailableError,
  StaleTransitionError,
  SubmissionOutcomeUnknownError,
} from './errors.js';
import { isTerminal, type Job, JobStatus } from './job.js';
import { failureOf, recordFailure } from './record-failure.js';
import { resumeSubmission, type SubmissionDeps, startPolling } from './submission.js';
import { publishTerminalEventOnce } from './terminal-event.js';

/** How many unsent terminal events one sweep publishes at most (the rest wait for the next). */
const PENDING_EVENTS_PER_SWEEP = 500;

export interface SweepSettings {
  /** How long a job may sit unchanged before the sweeper looks at it. */
  readonly graceSeconds: number;
  /** How far back to look for in-flight jobs (by the time they entered their status). */
  readonly lookbackSeconds: number;
  /**
   * How long a submission claim may be held before its POST counts as interrupted: longer than
   * any POST with its client-side retries can take, so a slow POST is never declared lost while
   * it may still succeed. The sweeper waits for the longer of this and the grace period.
   * @default graceSeconds
   */
  readonly claimTimeoutSeconds?: number;
}

export interface SweepReport {
  readonly examined: number;
  readonly resolved: readonly { readonly jobId: string; readonly action: string }[];
  /** Waiting jobs let in (admission.ts). */
  readonly admitted: number;
}

const SWEPT_STATUSES: readonly JobStatus[] = [JobStatus.submitted, JobStatus.generating, JobStatus.copying];

function isSwept(status: JobStatus): boolean {
  return SWEPT_STATUSES.includes(status);
}

/** Sweep once. Errors on one job are logged and do not stop the others. */
export async function sweepStuckJobs(deps: SubmissionDeps, settings: SweepSettings): Promise<SweepReport> {
  const now = deps.clock.now();
  const since = new Date(now.getTime() - settings.lookbackSeconds * 1000);
  const staleBefore = now.getTime() - settings.graceSeconds * 1000;
  const claimStaleBefore =
    now.getTime() - Math.max(settings.graceSeconds, settings.claimTimeoutSeconds ?? 0) * 1000;
  const resolved: { jobId: string; action: string }[] = [];
  let examined = 0;
  for (const status of SWEPT_STATUSES) {
    for (const listed of await deps.jobs.listByStatus(status, { since })) {
      if (Date.parse(listed.updatedAt) > staleBefore) continue;
      examined += 1;
      try {
        // The status index is eventually consistent (and a local DynamoDB killed mid-write can
        // leave it apart from the item): act only on the record itself, read strongly.
        const job = await deps.jobs.get(listed.jobId);
        if (job === undefined || !isSwept(job.status) || Date.parse(job.updatedAt) > staleBefore) continue;
        const action = await sweepJob(deps, job, staleBefore, claimStaleBefore);
        if (action !== undefined) resolved.push({ jobId: job.jobId, action });
      } catch (error) {
        deps.logger.warn('sweeper could not resolve a job', { jobId: listed.jobId, error });
      }
    }
  }
  // Ended jobs whose event was not marked sent within the grace period, however long ago they
  // ended (a runtime killed again and again may sweep long after): published now, oldest first.
  for (const jobId of await deps.jobs.listPendingEvents({
    until: new Date(staleBefore),
    limit: PENDING_EVENTS_PER_SWEEP,
  })) {
    examined += 1;
    try {
      const job = await deps.jobs.get(jobId);
      if (job === undefined || !isTerminal(job.status) || job.eventPublishedAt !== undefined) continue;
      await publishTerminalEventOnce(deps, job);
      resolved.push({ jobId: job.jobId, action: 'published-event' });
    } catch (error) {
      deps.logger.warn('sweeper could not publish a terminal event', { jobId, error });
    }
  }
  for (const [jobId, heldSince] of await deps.admission.slotHolders()) {
    if (Date.parse(heldSince) > staleBefore) continue;
    examined += 1;
    try {
      const job = await deps.jobs.get(jobId);
      if (job !== undefined && !isTerminal(job.status) && job.status !== JobStatus.waiting) continue;
      if (job === undefined) await deps.admission.releaseSlot(jobId);
      else await releaseAdmission(deps, job);
      resolved.push({ jobId, action: 'released-slot' });
    } catch (error) {
      deps.logger.warn('sweeper could not release a slot', { jobId, error });
    }
  }
  const admitted = await admitWaitingJobs(deps, (job) => resumeSubmission(deps, job));
  if (resolved.length > 0 || admitted > 0) {
    deps.logger.info('sweeper resolved stuck jobs', { resolved: resolved.length, admitted });
  }
  return { examined, resolved, admitted };
}

/**
 * Submit a job nobody holds the claim of (its submit retries ran out, or its holder died before
 * sending). A provider still refusing ends it: otherwise the sweeper would try every grace period.
 */
async function submitOnce(deps: SubmissionDeps, job: Job, action: string): Promise<string> {
  try {
    await resumeSubmission(deps, job);
  } catch (error) {
    const refused = error instanceof ProviderUnavailableError || error instanceof ProviderRateLimitedError;
    if (!refused) throw error;
    await recordFailure(deps, job.jobId, failureOf(error));
    return 'failed-submission-refused';
  }
  return action;
}

async function sweepJob(
  deps: SubmissionDeps,
  job: Job,
  staleBefore: number,
  claimStaleBefore: number,
): Promise<string | undefined> {
  if (job.generationId === undefined) {
    const claim = job.submissionClaim;
    if (claim === undefined) return submitOnce(deps, job, 'submitted');
    if (claim.sendingAt === undefined) {
      // Its holder died between the claim and the POST: nothing was sent. Submit again.
      if (Date.parse(claim.claimedAt) > staleBefore) return undefined;
      let released: Job;
      try {
        released = await deps.jobs.update(
          job.jobId,
          {},
          { expectClaimToken: claim.token, removeFields: ['submissionClaim'] },
        );
      } catch (error) {
        if (error instanceof StaleTransitionError) return undefined;
        throw error;
      }
      return submitOnce(deps, released, 'resubmitted-unsent-claim');
    }
    if (Date.parse(claim.sendingAt) > claimStaleBefore) return undefined;
    await recordFailure(
      deps,
      job.jobId,
      failureOf(
        new SubmissionOutcomeUnknownError(
          'the submission was interrupted before the provider answered; ' +
            'a generation may have been created and charged, and is not resent',
        ),
      ),
    );
    return 'failed-unknown-submission';
  }
  if (job.executionArn === undefined) {
    await startPolling(deps, job);
    return 'started-execution';
  }
  const status = await deps.executions.status(job.executionArn);
  if (status === 'RUNNING' || status === 'PENDING_REDRIVE') return undefined;
  if (status === undefined) {
    await startPolling(deps, job);
    return 'restarted-execution';
  }
  const timedOut = status === 'TIMED_OUT';
  await recordFailure(deps, job.jobId, {
    name: timedOut ? ErrorName.deadlineExceeded : 'ExecutionEnded',
    code: `EXECUTION_${status}`,
    message: `the execution ended ${status} without ending the job`,
    raisedByStateMachine: false,
  });
  return `recorded-execution-${status.toLowerCase()}`;
}
