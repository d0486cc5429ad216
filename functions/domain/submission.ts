/**
 * The submission protocol: how a job that has its request becomes a paid generation with a
 * polling execution, exactly once. Drop intake (submit-job.ts), the sweeper (sweep-jobs.ts) and
 * `vidflow retry` (retry-job.ts) all submit through here; none repeats a step of it.
 *
 *   admit -> claim -> build the input URL -> mark sending -> POST -> record the generation
 *         -> plan the first wait -> start the execution
 *
 * Exactly-once, without transactions:
 * 1. Before the paid POST an invocation takes the *submission claim* with a conditional update
 *    (no claim and no generation id yet). Only the claim holder POSTs.
 * 2. The claim is marked `sendingAt` just before the POST: a claim without that mark surely sent
 *    nothing, so the sweeper may submit it again; one with it is never resent.
 * 3. A POST that surely did not reach the provider releases the claim and is retried by the
 *    caller (Lambda's async retries, the sweeper); a POST whose outcome is unknown is never resent:
 *    the sweeper fails the job with `SUBMISSION_OUTCOME_UNKNOWN`.
 * 4. The polling execution is named after the job and its attempt (`executionNameOf`), so
 *    starting it twice yields the one execution (see `StepFunctionsExecutions.start`).
 *
 * The orchestration follows the shape of Powertools' `IdempotencyHandler`: one class per run,
 * one method per step, each saying why it is there.
 */
import { randomUUID } from 'node:crypto';
import { type AdmissionSettings, admitJob, releaseAdmission } from './admission.js';
import {
  InputRejectedError,
  ProviderOutOfCreditsError,
  ProviderRateLimitedError,
  ProviderUnavailableError,
  RejectionCode,
  StaleTransitionError,
  VidflowError,
} from './errors.js';
import {
  executionNameOf,
  type GenerationRequest,
  isTerminal,
  type Job,
  type JobError,
  JobStatus,
  WaitReason,
} from './job.js';
import type { ModelSettings } from './models/catalog.js';
import {
  type CompletionHistoryStore,
  type EtaFields,
  etaFields,
  forecastCompletion,
  historyGroupOf,
  type PollSettings,
  planFirstWait,
  policySettingsFor,
  pollStateOf,
  readHistorySafely,
} from './poll-policy.js';
import type {
  AdmissionStore,
  Clock,
  Executions,
  JobEvents,
  JobMetrics,
  JobStore,
  Logger,
  ObjectStore,
} from './ports.js';
import type { Generation, ProviderClient } from './provider.js';
import { buildInputUrl, toProviderInput, type VideoUrlMode } from './submission-input.js';
import { publishTerminalEventOnce } from './terminal-event.js';

export { MAX_VIDEO_URL_CHARS, type VideoUrlMode } from './submission-input.js';

/** The submit function's settings: drop intake's and the protocol's (functions/config/config.ts). */
export interface SubmissionSettings {
  readonly inputBucket: string;
  readonly maxInputBytes: number;
  readonly videoUrlMode: VideoUrlMode;
  readonly presignExpiresSeconds: number;
  readonly jobTimeoutSeconds: number;
  /** The polling policy's settings: the first wait and the first ETA are planned with them. */
  readonly poll: PollSettings;
  /** How far back a new `_defaults.json` looks for videos waiting for a prompt. */
  readonly presetLookbackDays: number;
  /** The in-flight cap and the daily credit budget (admission.ts). */
  readonly admission: AdmissionSettings;
  /** The default model and the allowed ones (models/catalog.ts). @default runway/gen4_aleph, all allowed */
  readonly models?: ModelSettings;
}

export interface SubmissionDeps {
  readonly objects: ObjectStore;
  readonly jobs: JobStore;
  readonly admission: AdmissionStore;
  readonly provider: ProviderClient;
  readonly executions: Executions;
  readonly events: JobEvents;
  /** Figures of jobs that end here (rejected, or failed at submission). @default none */
  readonly metrics?: JobMetrics;
  /**
   * What the checks have seen, per model and frame size, that the first wait is planned from.
   * @default none: the configured first wait, no ETA
   */
  readonly history?: CompletionHistoryStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: SubmissionSettings;
}

/** Input of the state machine execution: its first `Wait` reads `waitSeconds`. */
export interface ExecutionInput {
  readonly jobId: string;
  readonly waitSeconds: number;
}

/**
 * Submit a `SUBMITTED` job that has its request and no claim: admit it (or leave it `WAITING`),
 * POST once, record the generation and start polling.
 * @returns the record after the run (`undefined` only when the record vanished meanwhile).
 * @throws ProviderUnavailableError / ProviderRateLimitedError when the POST surely did not reach
 *   the provider (the claim is released, so a retry may POST again); AWS errors, likewise.
 */
export async function submitJob(deps: SubmissionDeps, job: Job): Promise<Job | undefined> {
  const request = job.request;
  if (request === undefined) return job;
  return new SubmissionRun(deps, job.jobId, request).run(job);
}

/**
 * A record already exists (a duplicate delivery, a retry, the sweeper, a waiting job let in):
 * finish whatever an earlier run left undone, never repeating a paid step.
 * @throws as {@link submitJob}.
 */
export async function resumeSubmission(deps: SubmissionDeps, job: Job): Promise<Job> {
  if (isTerminal(job.status) || job.status === JobStatus.awaitingPrompt) return job;
  if (job.generationId === undefined) {
    if (job.submissionClaim !== undefined) return job; // a POST is under way, or its outcome is unknown
    return (await submitJob(deps, job)) ?? job;
  }
  if (job.executionArn === undefined) return startPolling(deps, job);
  return job;
}

/**
 * The last two steps, on their own for a job whose generation is recorded but whose execution
 * is missing or gone (the sweeper): plan the first wait, start the execution, record its ARN
 * (and, for a job not checked yet, its first ETA, in the same write).
 * @throws what the executions adapter and the job store throw.
 */
export async function startPolling(deps: SubmissionDeps, job: Job): Promise<Job> {
  const first = await planFirstCheck(deps, job);
  const input: ExecutionInput = { jobId: job.jobId, waitSeconds: first.waitSeconds };
  const { executionArn } = await deps.executions.start(executionNameOf(job), input);
  return deps.jobs.update(job.jobId, { executionArn, ...first.eta });
}

/**
 * Plan the first check before starting, from the history of the job's model and frame size
 * (docs/polling.md), so a submitted, swept or retried job waits the same way and the
 * execution's input is decided here, not rewritten on the way. The policy places it near the
 * likely finish; the same estimate gives the job's first ETA (median and 90th percentile), kept
 * only for a job no check has seen yet (a later check's ETA knows more). A job without a
 * submission time (the policy measures from it), or deps without a history store, wait the
 * configured first wait, without an ETA.
 */
async function planFirstCheck(
  deps: SubmissionDeps,
  job: Job,
): Promise<{ readonly waitSeconds: number; readonly eta: EtaFields }> {
  const settings = deps.settings.poll;
  if (deps.history === undefined || job.submittedAt === undefined) {
    return { waitSeconds: settings.initialWaitSeconds, eta: {} };
  }
  const history = await readHistorySafely(deps.history, historyGroupOf(job), deps.logger);
  const policy = policySettingsFor(settings, job);
  const state = pollStateOf(job, deps.clock.now());
  const waitSeconds = planFirstWait(history, policy, state);
  if (job.pollCount > 0) return { waitSeconds, eta: {} };
  return { waitSeconds, eta: etaFields(job.submittedAt, forecastCompletion(history, policy, state)) };
}

/**
 * End a job at submission (rejected, or failed) if it is still in one of `from`, and publish
 * its terminal event. A job that moved on meanwhile is returned as it is now.
 * @throws what the job store and the events sink throw (other than a stale transition).
 */
export async function endAtSubmission(
  deps: SubmissionDeps,
  jobId: string,
  status: JobStatus,
  error: JobError,
  from: readonly JobStatus[],
): Promise<Job | undefined> {
  try {
    const job = await deps.jobs.update(
      jobId,
      { status, error, completedAt: deps.clock.now().toISOString() },
      { expectStatus: from },
    );
    deps.logger.info('job ended at submission', { jobId, status, code: error.code });
    return await publishTerminalEventOnce(deps, job);
  } catch (caught) {
    if (caught instanceof StaleTransitionError) return deps.jobs.get(jobId);
    throw caught;
  }
}

/** The record's error for a vidflow error raised at `stage`. */
export function jobErrorOf(error: VidflowError, stage: JobError['stage']): JobError {
  const base = { code: error.code, message: error.message, stage, retryable: error.retryable };
  // A catalog rejection names its model and field; every other error keeps its historical shape.
  if (!(error instanceof InputRejectedError) || error.model === undefined) return base;
  return { ...base, model: error.model, ...(error.field === undefined ? {} : { field: error.field }) };
}

/** One run of the protocol for one job: the claim's token lives as long as the run. */
class SubmissionRun {
  private readonly token = randomUUID();
  private claimedAt = '';

  constructor(
    private readonly deps: SubmissionDeps,
    private readonly jobId: string,
    private readonly request: GenerationRequest,
  ) {}

  async run(ready: Job): Promise<Job | undefined> {
    const admitted = await this.admit(ready);
    if (admitted.status !== JobStatus.submitted) return admitted;
    const claimed = await this.claim();
    if (claimed === undefined) return this.deps.jobs.get(this.jobId);
    let generation: Generation;
    try {
      const videoUrl = await this.buildInputUrl(claimed);
      if (!(await this.markSending())) return this.deps.jobs.get(this.jobId);
      generation = await this.post(videoUrl);
    } catch (error) {
      return this.afterUnsentOrRefused(error);
    }
    const submitted = await this.recordGeneration(generation);
    return startPolling(this.deps, submitted);
  }

  /** Admission first: the in-flight cap and the credit budget decide whether anything is paid now. */
  private admit(ready: Job): Promise<Job> {
    return admitJob(this.deps, ready);
  }

  /**
   * The claim makes this run the only one that may POST: a conditional update that succeeds
   * only while nobody holds it and no generation is recorded. `undefined`: another run has it.
   */
  private async claim(): Promise<Job | undefined> {
    this.claimedAt = this.deps.clock.now().toISOString();
    try {
      return await this.deps.jobs.update(
        this.jobId,
        { submissionClaim: { token: this.token, claimedAt: this.claimedAt } },
        { expectStatus: [JobStatus.submitted], expectUnclaimed: true },
      );
    } catch (error) {
      if (error instanceof StaleTransitionError) return undefined;
      throw error;
    }
  }

  /** The input URL is built before the sending mark: failing here surely sent nothing. */
  private buildInputUrl(claimed: Job): Promise<string> {
    return buildInputUrl(this.deps.objects, this.deps.settings, claimed.source);
  }

  /**
   * The last write before the POST: until it, a crash leaves a claim that surely sent nothing,
   * which the sweeper may submit again. `false`: the sweeper took the claim back from this (too
   * slow) run and submits the job itself.
   */
  private async markSending(): Promise<boolean> {
    try {
      await this.deps.jobs.update(
        this.jobId,
        {
          submissionClaim: {
            token: this.token,
            claimedAt: this.claimedAt,
            sendingAt: this.deps.clock.now().toISOString(),
          },
        },
        { expectClaimToken: this.token },
      );
      return true;
    } catch (error) {
      if (error instanceof StaleTransitionError) return false;
      throw error;
    }
  }

  /** The one paid call. */
  private post(videoUrl: string): Promise<Generation> {
    return this.deps.provider.createGeneration(toProviderInput(this.request, videoUrl));
  }

  /**
   * A failure before or of the POST. Surely unsent (the provider refused with 429/503, or the
   * URL could not be built): the claim is released and the error thrown for a retry. Out of
   * credits: the job waits. Any other provider error: the job ends (rejected or failed).
   */
  private async afterUnsentOrRefused(error: unknown): Promise<Job | undefined> {
    if (error instanceof ProviderOutOfCreditsError) return this.waitForProviderCredits(error);
    if (
      error instanceof VidflowError &&
      !(error instanceof ProviderUnavailableError) &&
      !(error instanceof ProviderRateLimitedError)
    ) {
      const status = error.code === RejectionCode.providerRejected ? JobStatus.rejected : JobStatus.failed;
      return endAtSubmission(this.deps, this.jobId, status, jobErrorOf(error, 'submit'), [
        JobStatus.submitted,
      ]);
    }
    // Not from the provider client (which wraps every transport failure), or a refusal the
    // provider surely did not process: nothing was sent. Release the claim for the retry.
    await this.deps.jobs.update(
      this.jobId,
      {},
      { expectClaimToken: this.token, removeFields: ['submissionClaim'] },
    );
    throw error;
  }

  /**
   * The provider refused the POST as out of credits: nothing was created or charged. The job
   * waits in `WAITING` for `PROVIDER_CREDITS` (claim released, slot given back) instead of
   * failing; the sweeper and every job's end let waiting jobs in again (admission.ts).
   */
  private async waitForProviderCredits(error: ProviderOutOfCreditsError): Promise<Job | undefined> {
    const { deps, jobId } = this;
    deps.logger.warn('provider out of credits: the job waits', { jobId, message: error.message });
    let waiting: Job;
    try {
      waiting = await deps.jobs.update(
        jobId,
        { status: JobStatus.waiting, waitingFor: WaitReason.providerCredits },
        { expectClaimToken: this.token, removeFields: ['submissionClaim'] },
      );
    } catch (caught) {
      if (caught instanceof StaleTransitionError) return deps.jobs.get(jobId);
      throw caught;
    }
    await releaseAdmission(deps, waiting);
    return waiting;
  }

  /** The generation id is what makes the job paid-for: recorded at once, with its deadline. */
  private async recordGeneration(generation: Generation): Promise<Job> {
    const now = this.deps.clock.now();
    const submitted = await this.deps.jobs.update(this.jobId, {
      generationId: generation.id,
      providerStatus: generation.status,
      submittedAt: now.toISOString(),
      deadlineAt: new Date(now.getTime() + this.deps.settings.jobTimeoutSeconds * 1000).toISOString(),
    });
    this.deps.logger.info('generation submitted', {
      jobId: this.jobId,
      generationId: generation.id,
      model: this.request.model,
    });
    return submitted;
  }
}
