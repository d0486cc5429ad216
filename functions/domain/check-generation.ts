/**
 * The check use case: one look at the provider, recorded on the job, and the next wait, which
 * the polling policy (poll-policy.ts) plans from the history of generations seen so far, with
 * the job's ETA; what this check saw (completed, or still running) goes into that history.
 */
import { doublingBackoff } from './backoff.js';
import {
  DeadlineExceededError,
  GenerationFailedError,
  JobInvariantError,
  JobNotFoundError,
  ProviderMalformedResponseError,
  ProviderOutOfCreditsError,
  ProviderRateLimitedError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  StaleTransitionError,
} from './errors.js';
import { ETA_FIELDS, isTerminal, type Job, JobStatus } from './job.js';
import {
  type CompletionHistoryStore,
  etaFields,
  forecastCompletion,
  historyGroupOf,
  type PollSettings,
  planNextWait,
  policySettingsFor,
  pollStateOf,
  readHistorySafely,
  recordObservationSafely,
} from './poll-policy.js';
import type { Clock, JobStore, Logger } from './ports.js';
import type { Generation, ProviderClient } from './provider.js';

/**
 * Checks in a row that may find the provider unavailable or answering malformed (after the
 * client's own retries) before the job fails with that error. Until then an outage only lengthens the wait: the
 * generation goes on at the provider and is already paid for.
 */
export const MAX_CONSECUTIVE_CHECK_FAILURES = 10;

/** The statuses a check may find and record on: in flight with a generation. */
const CHECKED_STATUSES = [JobStatus.submitted, JobStatus.generating, JobStatus.copying] as const;

export interface CheckDeps {
  readonly jobs: JobStore;
  readonly provider: ProviderClient;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: PollSettings;
  /** What the checks have seen, per model and frame size. @default none: the policy plans on its prior */
  readonly history?: CompletionHistoryStore;
}

export interface CheckResult {
  readonly jobId: string;
  readonly waitSeconds: number;
  readonly finished: boolean;
  readonly videoUrl?: string;
}

/**
 * Check the job's generation once.
 * @returns `finished: true` with the output URL once the provider completed it (without one
 *   for a job already COMPLETED, whose finalize only rewrites what a crash left out); otherwise
 *   the seconds to wait before the next check.
 * @throws DeadlineExceededError once the job's deadline has passed; GenerationFailedError
 *   when the provider reports `error`; StaleTransitionError when the job already ended
 *   (cancelled, say); JobInvariantError when the job has no generation id; the provider client's errors (transient ones are retried by the state
 *   machine).
 */
export async function checkGeneration(deps: CheckDeps, jobId: string): Promise<CheckResult> {
  const job = await deps.jobs.get(jobId);
  if (job === undefined) throw new JobNotFoundError(jobId);
  // An execution re-run from the start (a restart of the local runtime, or the sweeper) after a
  // crash between COMPLETED and the record file: on to finalize, which writes what is missing.
  if (job.status === JobStatus.completed) return { jobId, waitSeconds: 0, finished: true };
  if (isTerminal(job.status)) throw new StaleTransitionError(`job ${jobId} already ended as ${job.status}`);
  if (job.generationId === undefined) throw new JobInvariantError(`job ${jobId} has no generation id`);
  const now = deps.clock.now();
  if (job.deadlineAt !== undefined && now.getTime() >= Date.parse(job.deadlineAt)) {
    throw new DeadlineExceededError(`the generation did not finish by its deadline ${job.deadlineAt}`);
  }

  let generation: Generation;
  try {
    generation = await deps.provider.getGeneration(job.generationId);
  } catch (error) {
    if (!isTransient(error)) throw error;
    return waitOutOutage(deps, job, now, error);
  }
  const finished = generation.status === 'completed' || generation.status === 'error';
  // What the policy knows, read before the record is written so that the check's one write carries the ETA.
  const history =
    finished || job.submittedAt === undefined
      ? undefined
      : await readHistorySafely(deps.history, historyGroupOf(job), deps.logger);
  const policy = policySettingsFor(deps.settings, job);
  // A generation still queued has its whole processing ahead: the policy plans from this check.
  // (`waiting` is the same state in the words other model pages of the API use.)
  const queuedNow = generation.status === 'queued' || generation.reportedStatus === 'waiting';
  const seenQueued = queuedNow ? { lastQueuedAt: now.toISOString() } : {};
  const state = pollStateOf({ ...job, ...seenQueued }, now);
  const eta =
    history === undefined ? {} : etaFields(job.submittedAt, forecastCompletion(history, policy, state));
  // A COPYING job is checked again when its execution re-runs from the start (after a crash of
  // the runtime, or started by the sweeper): it stays COPYING and goes on to the copy again.
  const status =
    job.status !== JobStatus.copying &&
    (generation.status === 'generating' || generation.status === 'completed')
      ? JobStatus.generating
      : job.status;
  const updated = await deps.jobs.update(
    jobId,
    {
      providerStatus: generation.reportedStatus ?? generation.status,
      ...(status === job.status ? {} : { status }),
      ...(generation.creditsUsed === undefined ? {} : { creditsUsed: generation.creditsUsed }),
      ...(job.checkFailures ? { checkFailures: 0 } : {}),
      ...seenQueued,
      ...eta,
    },
    {
      expectStatus: CHECKED_STATUSES,
      incrementPollCount: true,
      ...(finished ? { removeFields: ETA_FIELDS } : {}),
    },
  );
  deps.logger.debug('checked generation', {
    jobId,
    providerStatus: generation.reportedStatus ?? generation.status,
    pollCount: updated.pollCount,
  });

  if (generation.status === 'error') {
    const reason = generation.error
      ? `${generation.error.name}: ${generation.error.message}`
      : 'no reason given';
    throw new GenerationFailedError(`the provider reported the generation failed (${reason})`);
  }
  if (generation.status === 'completed') {
    await recordObservationSafely(deps.history, job, now, true, deps.logger);
    return {
      jobId,
      waitSeconds: 0,
      finished: true,
      ...(generation.videoUrl ? { videoUrl: generation.videoUrl } : {}),
    };
  }
  if (history === undefined) {
    return { jobId, waitSeconds: nextWaitSeconds(deps.settings, updated, now), finished: false };
  }
  // "Still running at this second" teaches the policy too (a slowdown shows before anything finishes).
  await recordObservationSafely(deps.history, job, now, false, deps.logger, queuedNow);
  const waitSeconds = planNextWait(history, policy, pollStateOf(updated, deps.clock.now()));
  return { jobId, waitSeconds, finished: false };
}

type TransientProviderError =
  | ProviderOutOfCreditsError
  | ProviderUnavailableError
  | ProviderRateLimitedError
  | ProviderTimeoutError
  | ProviderMalformedResponseError;

/**
 * Failures of a read that a later read may not meet: an outage, a malformed or truncated answer
 * (which the client already asked again), or the account out of credits (403: the generation was
 * created and paid before; a top-up lets the read through again). Either way the generation is paid
 * for, so it is waited out for a bounded number of checks, within the deadline, before the job fails.
 */
function isTransient(error: unknown): error is TransientProviderError {
  return (
    error instanceof ProviderOutOfCreditsError ||
    error instanceof ProviderMalformedResponseError ||
    error instanceof ProviderUnavailableError ||
    error instanceof ProviderRateLimitedError ||
    error instanceof ProviderTimeoutError
  );
}

/**
 * The provider did not answer this check: count it, and wait longer (doubling from the
 * minimum, at least its `Retry-After`, never past the deadline) unless the outage has lasted
 * {@link MAX_CONSECUTIVE_CHECK_FAILURES} checks, when the error is thrown and recorded.
 */
async function waitOutOutage(
  deps: CheckDeps,
  job: Job,
  now: Date,
  error: TransientProviderError,
): Promise<CheckResult> {
  const failures = (job.checkFailures ?? 0) + 1;
  if (failures >= MAX_CONSECUTIVE_CHECK_FAILURES) throw error;
  await deps.jobs.update(
    job.jobId,
    { checkFailures: failures },
    { expectStatus: CHECKED_STATUSES, incrementPollCount: true },
  );
  deps.logger.warn('the provider did not answer a check; waiting longer', {
    jobId: job.jobId,
    code: error.code,
    checkFailures: failures,
  });
  const { minWaitSeconds, maxWaitSeconds } = deps.settings;
  const backoff = doublingBackoff(minWaitSeconds, failures, maxWaitSeconds);
  const retryAfter = error instanceof ProviderRateLimitedError ? (error.retryAfterSeconds ?? 0) : 0;
  let wait = Math.max(backoff, Math.ceil(retryAfter));
  if (job.deadlineAt !== undefined) {
    wait = Math.min(wait, Math.ceil((Date.parse(job.deadlineAt) - now.getTime()) / 1000));
  }
  return { jobId: job.jobId, waitSeconds: Math.max(minWaitSeconds, wait), finished: false };
}

/**
 * The schedule for a job without a submission time (the policy measures from it): the
 * minimum, doubled per check, capped at the maximum and at the time left before the deadline
 * (never below the minimum).
 */
export function nextWaitSeconds(
  settings: Pick<PollSettings, 'minWaitSeconds' | 'maxWaitSeconds'>,
  job: Job,
  now: Date,
): number {
  let wait = doublingBackoff(settings.minWaitSeconds, job.pollCount - 1, settings.maxWaitSeconds);
  if (job.deadlineAt !== undefined) {
    const leftSeconds = Math.ceil((Date.parse(job.deadlineAt) - now.getTime()) / 1000);
    wait = Math.min(wait, leftSeconds);
  }
  return Math.max(settings.minWaitSeconds, Math.round(wait));
}
