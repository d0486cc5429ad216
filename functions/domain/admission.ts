/**
 * Admission: the gate between a job that is ready and the paid POST.
 *
 * - **In-flight cap** (`maxInFlight`): at most that many jobs hold a slot at once. A job takes
 *   its slot right before its POST and gives it back when it ends (any terminal status), so the
 *   cap bounds the generations running at the provider, whatever the rate of drops.
 * - **Daily credit budget** (`dailyCreditBudget`): each admitted job reserves an estimate of its
 *   cost on the UTC day it is admitted; the reservation is settled to the real cost
 *   (`creditsUsed`) when it ends. A day whose reservations would pass the budget admits nothing
 *   more.
 *
 * - **Provider credits**: a POST the provider refuses as out of credits (403) leaves its job in
 *   `WAITING` for `PROVIDER_CREDITS` (submit-job.ts), with or without the limits above; it gives
 *   its slot back and keeps its credit reservation (nothing was spent).
 *
 * A job that cannot be admitted is not dropped: it waits in `WAITING` (`waitingFor` says why),
 * visible to `vidflow list --status WAITING`. Waiting jobs are let in oldest first by
 * {@link admitWaitingJobs}, which runs after every job's end (the state machine's last step) and
 * on every sweep (a schedule in AWS), so a new day or a raised budget resumes them too.
 *
 * Exact without transactions: the counters are single conditional writes keyed by job id (see
 * `AdmissionStore`), and a job moves `WAITING` -> `SUBMITTED` only conditionally, before its
 * submission claim; the claim (submit-job.ts) still guarantees a single POST.
 */
import { StaleTransitionError, SubmissionOutcomeUnknownError } from './errors.js';
import { isCatalogRequest, type Job, JobStatus, WaitReason } from './job.js';
import { estimateRequestCredits } from './models/catalog-request.js';
import type { AdmissionStore, Clock, JobStore, Logger } from './ports.js';

export interface AdmissionSettings {
  /** Jobs in flight at the provider at once; 0 means no cap. */
  readonly maxInFlight: number;
  /** Credits the jobs admitted on one UTC day may reserve; undefined means no budget. */
  readonly dailyCreditBudget?: number;
  /** Credits reserved per job until its real cost is known. */
  readonly creditsPerJobEstimate: number;
}

export const NO_ADMISSION_LIMITS: AdmissionSettings = { maxInFlight: 0, creditsPerJobEstimate: 0 };

export interface AdmissionDeps {
  readonly jobs: JobStore;
  readonly admission: AdmissionStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: { readonly admission: AdmissionSettings };
}

/** Waiting jobs read per page by {@link admitWaitingJobs}. */
const WAITING_PAGE_SIZE = 25;

export function hasAdmissionLimits(settings: AdmissionSettings): boolean {
  return settings.maxInFlight > 0 || settings.dailyCreditBudget !== undefined;
}

/** The UTC day (YYYY-MM-DD) whose budget an instant counts against. */
export function budgetDayOf(at: string | Date): string {
  return (typeof at === 'string' ? at : at.toISOString()).slice(0, 10);
}

/**
 * Let a job with a request and no generation yet (`SUBMITTED` or `WAITING`, unclaimed) through
 * the cap and the budget, or make it wait.
 *
 * @returns the job `SUBMITTED` (admitted: the caller may claim and POST), `WAITING` (held back),
 *   or as another invocation left it (it moved the job first).
 */
export async function admitJob(deps: AdmissionDeps, job: Job): Promise<Job> {
  if (!hasAdmissionLimits(deps.settings.admission)) {
    // Only a job that waited for the provider's credits waits without limits: let it through.
    return job.status === JobStatus.waiting ? markAdmitted(deps, job) : job;
  }
  const refused = await tryToAdmit(deps, job);
  if (refused === undefined) return markAdmitted(deps, job);
  const waiting = await markWaiting(deps, job, refused);
  if (waiting.status !== JobStatus.waiting) return waiting;
  // A job that ended between the refusal and the mark looked for waiting jobs before this one
  // was visible: try once more, so no slot stays free while a job waits.
  if ((await tryToAdmit(deps, waiting)) === undefined) return markAdmitted(deps, waiting);
  return waiting;
}

/**
 * Submit waiting jobs, oldest first, until one stays waiting (the cap or the budget is reached)
 * or none is left. `submit` is the submit use case's resume path (it admits, claims and POSTs).
 *
 * Jobs waiting for the provider's credits are tried the same way, so the first one the provider
 * refuses again stops the round: one POST per round while the account is empty.
 *
 * @returns how many jobs left `WAITING`.
 */
export async function admitWaitingJobs(
  deps: AdmissionDeps,
  submit: (job: Job) => Promise<Job>,
): Promise<number> {
  let admitted = 0;
  const tried = new Set<string>();
  for (;;) {
    const page = (
      await deps.jobs.listByStatus(JobStatus.waiting, {
        since: new Date(0),
        oldestFirst: true,
        limit: WAITING_PAGE_SIZE + tried.size,
      })
    ).filter((job) => !tried.has(job.jobId));
    if (page.length === 0) return admitted;
    for (const listed of page) {
      tried.add(listed.jobId);
      // The index is eventually consistent: submit the record as it is now, if it still waits.
      const job = await deps.jobs.get(listed.jobId);
      if (job === undefined || job.status !== JobStatus.waiting) continue;
      const after = await submit(job);
      if (after.status === JobStatus.waiting) return admitted;
      admitted += 1;
    }
  }
}

/**
 * Give back what an ended job held: its slot, and its credit reservation settled to the real
 * cost. Idempotent; a no-op for a job that was never admitted under a limit. A job that is
 * `WAITING` only gives its slot back: its reservation is still to be spent.
 */
export async function releaseAdmission(deps: Pick<AdmissionDeps, 'admission'>, job: Job): Promise<void> {
  if (job.admittedAt === undefined) return;
  await deps.admission.releaseSlot(job.jobId);
  if (job.creditsReserved !== undefined && job.status !== JobStatus.waiting) {
    await deps.admission.settleCredits(
      budgetDayOf(job.admittedAt),
      job.jobId,
      job.creditsReserved,
      creditsSpentBy(job, job.creditsReserved),
    );
  }
}

/**
 * What an ended job cost: the provider's figure when it gave one; else the reservation when a
 * generation was (or may have been) created; else nothing (the POST was refused or never sent).
 */
export function creditsSpentBy(job: Job, reserved: number): number {
  if (job.creditsUsed !== undefined) return job.creditsUsed;
  const mayHaveBeenCharged =
    job.generationId !== undefined || job.error?.code === SubmissionOutcomeUnknownError.code;
  return mayHaveBeenCharged ? reserved : 0;
}

/** Take a slot, then reserve credits. Returns why the job must wait, or undefined when admitted. */
async function tryToAdmit(deps: AdmissionDeps, job: Job): Promise<WaitReason | undefined> {
  const settings = deps.settings.admission;
  const now = deps.clock.now();
  if (settings.maxInFlight > 0 && !(await deps.admission.acquireSlot(job.jobId, settings.maxInFlight, now))) {
    return WaitReason.capacity;
  }
  if (settings.dailyCreditBudget !== undefined) {
    const day = budgetDayOf(job.admittedAt ?? now);
    const credits = job.creditsReserved ?? creditsEstimateOf(job, settings);
    if (!(await deps.admission.reserveCredits(day, job.jobId, credits, settings.dailyCreditBudget))) {
      if (settings.maxInFlight > 0) await deps.admission.releaseSlot(job.jobId);
      return WaitReason.budget;
    }
  }
  return undefined;
}

async function markAdmitted(deps: AdmissionDeps, job: Job): Promise<Job> {
  const settings = deps.settings.admission;
  if (job.status === JobStatus.submitted && job.admittedAt !== undefined) return job;
  return moveUnlessStale(deps, job, {
    status: JobStatus.submitted,
    admittedAt: job.admittedAt ?? deps.clock.now().toISOString(),
    ...(settings.dailyCreditBudget === undefined
      ? {}
      : { creditsReserved: job.creditsReserved ?? creditsEstimateOf(job, settings) }),
  });
}

async function markWaiting(deps: AdmissionDeps, job: Job, reason: WaitReason): Promise<Job> {
  if (job.status === JobStatus.waiting && job.waitingFor === reason) return job;
  deps.logger.info('job waits for admission', { jobId: job.jobId, waitingFor: reason });
  return moveUnlessStale(deps, job, { status: JobStatus.waiting, waitingFor: reason });
}

/** Move an unclaimed `SUBMITTED`/`WAITING` job; when another invocation moved it first, its record as it is now. */
async function moveUnlessStale(
  deps: AdmissionDeps,
  job: Job,
  changes: Parameters<JobStore['update']>[1],
): Promise<Job> {
  try {
    return await deps.jobs.update(job.jobId, changes, {
      expectStatus: [JobStatus.submitted, JobStatus.waiting],
      expectUnclaimed: true,
      ...(changes.status === JobStatus.submitted ? { removeFields: ['waitingFor'] } : {}),
    });
  } catch (error) {
    if (error instanceof StaleTransitionError) {
      return (await deps.jobs.get(job.jobId)) ?? job;
    }
    throw error;
  }
}

/** The credits to reserve for a job: its model's estimate (the configured one for `runway/gen4_aleph`). */
function creditsEstimateOf(job: Job, settings: AdmissionSettings): number {
  if (job.request === undefined || !isCatalogRequest(job.request)) return settings.creditsPerJobEstimate;
  return estimateRequestCredits(job.request, settings.creditsPerJobEstimate);
}
