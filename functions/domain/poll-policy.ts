/**
 * The polling policy: when to check a generation, and when it will likely be done, learned from
 * the generations seen so far (docs/polling.md tells the whole story).
 *
 * Goal: few checks and little detection lag, i.e. minimise the expected
 * `checks + lag / checkCostSeconds`: one check is worth `checkCostSeconds` of lag (default 3.5 s,
 * so the mean lag stays under a fixed 30 s loop's 15 s with room to spare: at 4 s the optimum
 * itself sits within a second of it).
 *
 * - History: per model and frame size, the last {@link HISTORY_CAPACITY} or so generations, each
 *   in slot `hash(jobId) % capacity` (one idempotent write, no read-modify-write race; old ones
 *   are overwritten at random): a finished one as the interval its checks bound it to, one
 *   still running as "unfinished at t" (rewritten at each of its checks).
 * - Estimate (completion-estimate.ts): the completion-time distribution, from those
 *   observations weighted by age, with a prior around the configured typical time of the model
 *   and frame size while there is little data.
 * - Plan (check-plan.ts): the optimal schedule of whole-second checks for that estimate, waits
 *   not capped, never below the floor `minWaitSeconds`, never past the deadline. Beyond the
 *   plan (a job in the estimate's far tail) the tail rule: a check every `maxWaitSeconds`,
 *   shortened to land on the deadline.
 * - ETA: the median and 90th percentile of the same distribution given the time elapsed.
 *
 * The observations and the estimate are in completion-estimate.ts, the plan's dynamic program
 * in check-plan.ts, the ETA's arithmetic in eta.ts; the first wait and the first ETA are
 * decided by the submission protocol (submission.ts), the next ones by the check
 * (check-generation.ts). Plans are memoised on the history's version; everything above the
 * "ports" section is pure.
 */
import { doublingBackoff } from './backoff.js';
import { type CheckPlan, cdfOnGrid, planChecks } from './check-plan.js';
import {
  type CompletionEstimate,
  type CompletionHistory,
  type CompletionObservation,
  EMPTY_HISTORY,
  type EstimateClock,
  estimateCompletion,
  historySlotOf,
  observeCompletion,
} from './completion-estimate.js';
import { type CompletionForecast, etaOf } from './eta.js';
import { type Job, MODEL } from './job.js';
import { findModel } from './models/catalog.js';
import type { Logger } from './ports.js';

export type { CheckPlan, PlanConstraints } from './check-plan.js';
export { cdfOnGrid, planChecks } from './check-plan.js';
export type { CompletionEstimate, CompletionHistory, CompletionObservation } from './completion-estimate.js';
export {
  conditionalQuantile,
  EMPTY_HISTORY,
  estimateCompletion,
  HISTORY_CAPACITY,
  historySlotOf,
  observeCompletion,
} from './completion-estimate.js';
export { type CompletionForecast, type EtaFields, etaFields, etaOf } from './eta.js';

/** The policy's knobs for one job, in seconds ({@link policySettingsFor} derives them from the configuration's). */
export interface PollPolicySettings {
  /** The floor: two checks are never closer than this. */
  readonly minWaitSeconds: number;
  /** The tail rule's wait: between checks beyond the plan (planned waits are not capped). */
  readonly maxWaitSeconds: number;
  /** The lag one check is worth: the exchange rate of the objective. */
  readonly checkCostSeconds: number;
  /** The prior's median completion time: the configured typical time of the job's model and frame size. */
  readonly typicalSeconds: number;
}

/** The lag one check is worth unless configured (see the module comment). */
export const DEFAULT_CHECK_COST_SECONDS = 3.5;
/** The prior's typical time unless configured: `runway/gen4_aleph`'s published example, 3 min 30 s. */
export const DEFAULT_TYPICAL_SECONDS = 210;
/** The first wait of a job the policy cannot plan for (no submission time) unless configured. */
export const DEFAULT_INITIAL_WAIT_SECONDS = 60;

/**
 * The polling configuration (functions/config/config.ts, defaults applied once there): the one
 * poll-settings type of the check and the submission protocol. A job's own knobs come from it
 * by {@link policySettingsFor}.
 */
export interface PollSettings {
  /** The floor: two checks are never closer than this. */
  readonly minWaitSeconds: number;
  /** The tail rule's wait, and the doubling backoff's cap. */
  readonly maxWaitSeconds: number;
  /** The lag one check is worth. */
  readonly checkCostSeconds: number;
  /** The first wait of a job without a submission time (the policy measures from it). */
  readonly initialWaitSeconds: number;
  /** The prior's typical times by model and frame size ({@link typicalSecondsOf}). */
  readonly typicalTimes: TypicalTimes;
}

/** The policy's knobs for a job: the configuration's, with the typical time of its model and frame size. */
export function policySettingsFor(settings: PollSettings, job: Pick<Job, 'request'>): PollPolicySettings {
  return {
    minWaitSeconds: settings.minWaitSeconds,
    maxWaitSeconds: settings.maxWaitSeconds,
    checkCostSeconds: settings.checkCostSeconds,
    typicalSeconds: typicalSecondsOf(settings.typicalTimes, job),
  };
}

// ------------------------------------------------------------------ plan, memoised

/** A plan and the estimate it was made for. */
export interface Planned {
  readonly plan: CheckPlan;
  readonly estimate: CompletionEstimate;
}

const planCache = new Map<string, Planned>();
const PLAN_CACHE_SIZE = 64;
const historyIds = new WeakMap<CompletionHistory, number>();
let nextHistoryId = 0;

/** What identifies a history for the memo: its version, else the object itself. */
function historyIdentity(history: CompletionHistory): string {
  if (history.version !== undefined) return `v:${history.version}`;
  let id = historyIds.get(history);
  if (id === undefined) {
    nextHistoryId += 1;
    id = nextHistoryId;
    historyIds.set(history, id);
  }
  return `o:${id}`;
}

/** The plan for a history, memoised on its version: a warm Lambda or a simulation re-plans only when the history changed. */
export function planFor(
  history: CompletionHistory,
  settings: PollPolicySettings,
  deadlineSeconds: number,
  clock: EstimateClock = 'submission',
): Planned {
  const key = [
    historyIdentity(history),
    clock,
    settings.minWaitSeconds,
    settings.checkCostSeconds,
    settings.typicalSeconds,
    Number.isFinite(deadlineSeconds) ? Math.ceil(deadlineSeconds) : 'none',
  ].join('|');
  const cached = planCache.get(key);
  if (cached !== undefined) return cached;
  const estimate = estimateCompletion(history, settings.typicalSeconds, clock);
  const planned: Planned = {
    plan: planChecks(cdfOnGrid(estimate, deadlineSeconds), {
      minWaitSeconds: settings.minWaitSeconds,
      checkCostSeconds: settings.checkCostSeconds,
    }),
    estimate,
  };
  if (planCache.size >= PLAN_CACHE_SIZE) {
    const oldest = planCache.keys().next();
    if (!oldest.done) planCache.delete(oldest.value);
  }
  planCache.set(key, planned);
  return planned;
}

// ------------------------------------------------------------------ decisions

/** Where a job stands when its next wait is decided. */
export interface PollState {
  /** Seconds since submission; NaN when unknown. */
  readonly elapsedSeconds: number;
  /** Checks made so far. */
  readonly pollCount: number;
  /** Seconds from submission to the deadline; Infinity when there is none. */
  readonly deadlineSeconds: number;
  /** Seconds from submission when a check last saw the generation queued; absent when none did. */
  readonly queuedSeconds?: number;
}

/**
 * The wait before the first check (the state machine's first `Wait`), in whole seconds: the
 * plan's first check. When that moment has passed already (an execution restarted late), the
 * plan's next check from now.
 */
export function planFirstWait(
  history: CompletionHistory,
  settings: PollPolicySettings,
  state: Pick<PollState, 'elapsedSeconds' | 'deadlineSeconds'>,
): number {
  const elapsed = Number.isFinite(state.elapsedSeconds) ? Math.max(0, state.elapsedSeconds) : 0;
  const { plan } = planFor(history, settings, state.deadlineSeconds);
  const target = plan.nextCheckAt[0] ?? -1;
  if (target > elapsed) return Math.max(settings.minWaitSeconds, Math.round(target - elapsed));
  return planNextWait(history, settings, { ...state, elapsedSeconds: elapsed, pollCount: 0 });
}

/**
 * The wait after a check that found the generation unfinished, in whole seconds: the plan's
 * next check for the current second, never below the floor. Past the plan's horizon, the tail
 * rule ({@link tailWait}). With an unknown elapsed time, the floor doubled per check up to
 * `maxWaitSeconds` (the schedule that needs no history).
 */
export function planNextWait(
  history: CompletionHistory,
  settings: PollPolicySettings,
  state: PollState,
): number {
  const { minWaitSeconds: min, maxWaitSeconds: max } = settings;
  if (!Number.isFinite(state.elapsedSeconds)) {
    return Math.max(min, doublingBackoff(min, state.pollCount - 1, max));
  }
  const view = clockOf(history, settings, state);
  const elapsed = Math.max(0, state.elapsedSeconds - view.from);
  const { plan } = view.planned;
  const second = Math.floor(elapsed);
  const target = second <= plan.horizonSeconds ? (plan.nextCheckAt[second] ?? -1) : -1;
  if (target < 0) return tailWait(settings, elapsed, state.deadlineSeconds - view.from);
  return Math.max(min, Math.round(target - elapsed));
}

/** Completions' weight the after-queue estimate needs before a queued generation is planned on it. */
export const QUEUED_MIN_EVIDENCE = 10;

/**
 * The plan a job's next check follows, and the moment (seconds from submission) its clock
 * starts: for a generation a check saw `queued`, the time left after that check (once
 * {@link QUEUED_MIN_EVIDENCE} completions of generations seen queued teach it: a job queued at
 * 200 s has its whole processing ahead, which the completion time of all jobs does not say);
 * otherwise the completion time from submission.
 */
function clockOf(
  history: CompletionHistory,
  settings: PollPolicySettings,
  state: Pick<PollState, 'elapsedSeconds' | 'deadlineSeconds' | 'queuedSeconds'>,
): { readonly planned: Planned; readonly from: number } {
  const queued = state.queuedSeconds;
  if (queued !== undefined && Number.isFinite(queued) && queued > 0 && queued <= state.elapsedSeconds) {
    const planned = planFor(history, settings, state.deadlineSeconds - queued, 'last-queued');
    if (planned.estimate.evidence >= QUEUED_MIN_EVIDENCE) return { planned, from: queued };
  }
  return { planned: planFor(history, settings, state.deadlineSeconds), from: 0 };
}

/**
 * The tail rule, beyond the plan (the estimate gives the job less than 1 in 10,000, or no
 * check fits before the deadline): `maxWaitSeconds`, or less to land on the deadline, never
 * below the floor.
 */
export function tailWait(settings: PollPolicySettings, elapsed: number, deadlineSeconds: number): number {
  const left = Number.isFinite(deadlineSeconds)
    ? Math.ceil(deadlineSeconds - elapsed)
    : settings.maxWaitSeconds;
  return Math.max(settings.minWaitSeconds, Math.min(settings.maxWaitSeconds, left));
}

/**
 * The ETA of a job unfinished after `elapsedSeconds`: quantiles of the plan's own estimate
 * conditioned on the time elapsed (so it moves later as the job outlives its expected time).
 */
export function forecastCompletion(
  history: CompletionHistory,
  settings: PollPolicySettings,
  state: Pick<PollState, 'elapsedSeconds' | 'deadlineSeconds' | 'queuedSeconds'>,
): CompletionForecast {
  const view = clockOf(history, settings, state);
  const eta = etaOf(view.planned.estimate, state.elapsedSeconds - view.from);
  return view.from === 0
    ? eta
    : { medianSeconds: eta.medianSeconds + view.from, p90Seconds: eta.p90Seconds + view.from };
}

/** The poll state of a job record at `now`. */
export function pollStateOf(
  job: Pick<Job, 'submittedAt' | 'deadlineAt' | 'pollCount' | 'lastQueuedAt'>,
  now: Date,
): PollState {
  const submitted = job.submittedAt === undefined ? Number.NaN : Date.parse(job.submittedAt);
  const deadline = job.deadlineAt === undefined ? Number.NaN : Date.parse(job.deadlineAt);
  const queued =
    job.lastQueuedAt === undefined ? Number.NaN : (Date.parse(job.lastQueuedAt) - submitted) / 1000;
  return {
    ...(Number.isFinite(queued) ? { queuedSeconds: queued } : {}),
    elapsedSeconds: (now.getTime() - submitted) / 1000,
    pollCount: job.pollCount,
    deadlineSeconds: Number.isFinite(deadline - submitted)
      ? (deadline - submitted) / 1000
      : Number.POSITIVE_INFINITY,
  };
}

/** The frame size a job's generation has; the provider's default when the request names none. */
export function frameSizeOf(job: Pick<Job, 'request'>): string {
  return job.request?.frameSize ?? '1280:720';
}

/** The model a job's generation uses. */
export function modelOf(job: Pick<Job, 'request'>): string {
  return job.request?.model ?? MODEL;
}

/**
 * A job's model and frame size as `<model>@<frame size>`: `runway/gen4_aleph` falls back to the
 * provider's default frame size, another model without one is `<model>@-`.
 */
export function modelAndFrameSizeOf(job: Pick<Job, 'request'>): string {
  const model = modelOf(job);
  return `${model}@${model === MODEL ? frameSizeOf(job) : (job.request?.frameSize ?? '-')}`;
}

/**
 * The completion history a job learns from and teaches: one per model and frame size, since
 * models differ in speed. `runway/gen4_aleph` keeps its original groups (the frame size alone),
 * so the history it gathered before other models existed is still read; another model's group
 * is {@link modelAndFrameSizeOf}: `<model>@<frame size>`, or `<model>@-` for a model without one.
 * The same key names the model's typical time in configuration ({@link typicalSecondsOf}).
 */
export function historyGroupOf(job: Pick<Job, 'request'>): string {
  return modelOf(job) === MODEL ? frameSizeOf(job) : modelAndFrameSizeOf(job);
}

/**
 * Typical completion times from configuration: a default for every model, and overrides by
 * model (`runway/gen4_aleph`) or by model and frame size (`runway/gen4_aleph@848:480`).
 */
export interface TypicalTimes {
  /** For every model without an override. @default the model catalog's typical time, else 210 s */
  readonly defaultSeconds?: number;
  readonly bySeconds?: Readonly<Record<string, number>>;
}

/**
 * The typical time of a job's model and frame size, the prior's median: the most specific
 * configured entry, else the configured default, else the model catalog's typical processing
 * time for the model (models/catalog.ts), else {@link DEFAULT_TYPICAL_SECONDS}.
 */
export function typicalSecondsOf(times: TypicalTimes | undefined, job: Pick<Job, 'request'>): number {
  const model = modelOf(job);
  return (
    times?.bySeconds?.[modelAndFrameSizeOf(job)] ??
    times?.bySeconds?.[model] ??
    times?.defaultSeconds ??
    findModel(model)?.typicalProcessingSeconds ??
    DEFAULT_TYPICAL_SECONDS
  );
}

// ------------------------------------------------------------------ ports

/**
 * Where the history lives (DynamoDB in AWS and locally: one item per history key in the jobs
 * table). Reads may be cached for a while; both calls may fail: the callers below never let
 * that fail a job.
 */
export interface CompletionHistoryStore {
  /** The observations under a history key ({@link historyGroupOf}), at most {@link HISTORY_CAPACITY}. */
  read(key: string): Promise<CompletionHistory>;
  /** Put `observation` in slot `slot`, replacing what was there. */
  record(key: string, slot: number, observation: CompletionObservation): Promise<void>;
}

/** The history of a key, or the empty one when it cannot be read (the policy then plans on its prior). */
export async function readHistorySafely(
  store: CompletionHistoryStore | undefined,
  key: string,
  logger: Logger,
): Promise<CompletionHistory> {
  if (store === undefined) return EMPTY_HISTORY;
  try {
    return await store.read(key);
  } catch (error) {
    logger.warn('completion history unreadable; polling on the prior', { key, error });
    return EMPTY_HISTORY;
  }
}

/**
 * Record what a check just saw (a completion, or the generation still running at `seenAt`,
 * `queuedNow` when the provider still had it queued); a failure only costs the history one
 * observation.
 */
export async function recordObservationSafely(
  store: CompletionHistoryStore | undefined,
  job: Job,
  seenAt: Date,
  completed: boolean,
  logger: Logger,
  queuedNow = false,
): Promise<void> {
  const observation = observeCompletion(job, seenAt, completed, queuedNow);
  if (store === undefined || observation === undefined) return;
  try {
    await store.record(historyGroupOf(job), historySlotOf(job.jobId), observation);
  } catch (error) {
    logger.warn('could not record the observation in the history', { jobId: job.jobId, error });
  }
}
