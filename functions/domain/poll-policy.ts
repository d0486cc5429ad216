/**
 * The polling policy: when to check a generation, learned from the generations that finished.
 *
 * Goal: few checks and little detection lag, i.e. minimise the expected
 * `checks + lag / checkCostSeconds`: one check is worth `checkCostSeconds` of lag (default 4 s,
 * so the mean lag stays under a fixed 30 s loop's 15 s; at 10 s the optimum lets the lag grow
 * to about 20 s to save a check in three).
 *
 * - History: per frame size, the last {@link HISTORY_CAPACITY} or so finished generations, each
 *   as the interval the checks bounded it to: completed after `afterSeconds` (the previous check
 *   saw it unfinished) and by `bySeconds` (this check saw it completed), from submission. A new
 *   observation overwrites slot `hash(jobId) % capacity`: one idempotent write, no
 *   read-modify-write race, old observations age out at random (a recency-weighted reservoir).
 * - Estimate: the density of log completion time from those intervals by smoothed EM (see
 *   {@link estimateCompletion}), mixed with a weak wide log-normal (weight {@link PRIOR_WEIGHT})
 *   so the tails never have zero mass. With fewer than {@link MIN_OBSERVATIONS} observations the
 *   estimate is a wide prior centred on {@link PRIOR_MEDIAN_PER_INITIAL_WAIT} initial waits, and
 *   the first wait is the configured initial wait (the fallback schedule).
 * - Plan: the optimal schedule of whole-second checks for that estimate, by dynamic programming
 *   over the time of the last check ({@link planChecks}): the first check comes shortly before
 *   the likely finish, then the intervals tighten where completions are dense and widen in the
 *   tail, never below the floor `minWaitSeconds`, never above `maxWaitSeconds` after the first
 *   check, and never past the deadline.
 *
 * The estimate itself (observations, smoothed EM, the prior) is in completion-estimate.ts.
 * Everything above the "ports" section is pure; plans are memoised by their inputs.
 */
import { doublingBackoff } from './backoff.js';
import {
  type CompletionEstimate,
  type CompletionHistory,
  type CompletionObservation,
  EMPTY_HISTORY,
  estimateCompletion,
  historySlotOf,
  observeCompletion,
} from './completion-estimate.js';
import { type Job, MODEL } from './job.js';
import type { Logger } from './ports.js';

export {
  type CompletionEstimate,
  type CompletionHistory,
  type CompletionObservation,
  EMPTY_HISTORY,
  estimateCompletion,
  HISTORY_CAPACITY,
  historySlotOf,
  MIN_OBSERVATIONS,
  normalCdf,
  observeCompletion,
  PRIOR_LOG_SIGMA,
  PRIOR_MEDIAN_PER_INITIAL_WAIT,
  PRIOR_WEIGHT,
} from './completion-estimate.js';

/** The policy's knobs, in seconds. */
export interface PollPolicySettings {
  /** The floor: two checks are never closer than this. */
  readonly minWaitSeconds: number;
  /** The longest wait between two checks (the first wait, from submission, is not capped). */
  readonly maxWaitSeconds: number;
  /** The first wait while the frame size has too little history. */
  readonly initialWaitSeconds: number;
  /** The lag one check is worth: the exchange rate of the objective. */
  readonly checkCostSeconds: number;
}

/** The lag one check is worth unless configured (see the module comment). */
export const DEFAULT_CHECK_COST_SECONDS = 4;
/** The first wait with too little history unless configured. */
export const DEFAULT_INITIAL_WAIT_SECONDS = 60;
/** The plan stops where the estimate leaves less than this probability; beyond, checks come every `maxWaitSeconds`. */
const TAIL_PROBABILITY = 1e-4;
/** The plan never looks further than this (a deadline may be absent or very far). */
const MAX_PLAN_SECONDS = 6 * 3600;

// ------------------------------------------------------------------ plan

/** A schedule of checks on whole seconds since submission. */
export interface CheckPlan {
  /** Last second the plan covers (the deadline's last useful second, or where the estimate's tail ends). */
  readonly horizonSeconds: number;
  /**
   * `nextCheckAt[s]`: the second of the next check after one at second `s` (index 0 is the
   * submission); -1 when no check fits before the horizon.
   */
  readonly nextCheckAt: Int32Array;
  /** The expected objective from submission: checks + lag / checkCostSeconds. */
  readonly expectedCost: number;
}

export interface PlanConstraints {
  readonly minWaitSeconds: number;
  /** Cap on the waits after the first check; the first wait is free. */
  readonly maxWaitSeconds: number;
  readonly checkCostSeconds: number;
}

/**
 * The optimal check schedule for a completion-time distribution given on whole seconds:
 * `cdf[t]` = P(finished by t), t = 0..H. Exact dynamic programming over the last check's
 * second `s`: with `S` the survival and lag measured against the linear interpolation of `cdf`,
 *
 *   W(s) = S(s) + min over u in [s + min, s + max] of ( ∫_s^u (F(t) - F(s)) dt / cost + W(u) )
 *
 * where `W(s) = S(s) * (expected remaining objective | unfinished at s)`. A check past the
 * horizon is impossible: W(s) = S(s) (one last check that finds the deadline passed).
 * O(H * max) time.
 */
export function planChecks(cdf: Float64Array, constraints: PlanConstraints): CheckPlan {
  const horizon = cdf.length - 1;
  const minWait = Math.max(1, Math.round(constraints.minWaitSeconds));
  const maxWait = Math.max(minWait, Math.round(constraints.maxWaitSeconds));
  const cost = constraints.checkCostSeconds;
  // area[t] = ∫_0^t F, trapezoids.
  const area = new Float64Array(horizon + 1);
  for (let t = 1; t <= horizon; t += 1)
    area[t] = (area[t - 1] ?? 0) + ((cdf[t - 1] ?? 0) + (cdf[t] ?? 0)) / 2;
  const value = new Float64Array(horizon + 1);
  const next = new Int32Array(horizon + 1);
  for (let s = horizon; s >= 0; s -= 1) {
    const fs = cdf[s] ?? 1;
    const survival = 1 - fs;
    const first = s + minWait;
    const last = s === 0 ? horizon : Math.min(horizon, s + maxWait);
    if (first > last) {
      value[s] = survival;
      next[s] = -1;
      continue;
    }
    const areaS = area[s] ?? 0;
    let best = Number.POSITIVE_INFINITY;
    let bestU = first;
    for (let u = first; u <= last; u += 1) {
      const candidate = ((area[u] ?? 0) - areaS - (u - s) * fs) / cost + (value[u] ?? 0);
      if (candidate < best) {
        best = candidate;
        bestU = u;
      }
    }
    value[s] = survival + best;
    next[s] = bestU;
  }
  return { horizonSeconds: horizon, nextCheckAt: next, expectedCost: value[0] ?? 0 };
}

/**
 * The estimate on whole seconds up to the plan's horizon: the deadline's last useful second
 * (a check at the deadline itself fails the job), or earlier where the tail is negligible.
 */
export function cdfOnGrid(estimate: CompletionEstimate, deadlineSeconds: number): Float64Array {
  const limit = Math.max(
    1,
    Math.min(
      MAX_PLAN_SECONDS,
      Number.isFinite(deadlineSeconds) ? Math.ceil(deadlineSeconds) - 1 : MAX_PLAN_SECONDS,
    ),
  );
  const values: number[] = [0];
  for (let t = 1; t <= limit; t += 1) {
    const f = Math.min(1, Math.max(values[t - 1] ?? 0, estimate.cdf(t)));
    values.push(f);
    if (1 - f <= TAIL_PROBABILITY) break;
  }
  return Float64Array.from(values);
}

const planCache = new Map<string, { readonly plan: CheckPlan; readonly learned: boolean }>();
const PLAN_CACHE_SIZE = 32;

/** The plan for a history, memoised: a warm Lambda or a simulation re-plans only when the history changed. */
export function planFor(
  history: CompletionHistory,
  settings: PollPolicySettings,
  deadlineSeconds: number,
): { readonly plan: CheckPlan; readonly learned: boolean } {
  const key = [
    settings.minWaitSeconds,
    settings.maxWaitSeconds,
    settings.initialWaitSeconds,
    settings.checkCostSeconds,
    Number.isFinite(deadlineSeconds) ? Math.ceil(deadlineSeconds) : 'none',
    ...history.observations.map((o) => `${o.afterSeconds}:${o.bySeconds}`),
  ].join('|');
  const cached = planCache.get(key);
  if (cached !== undefined) return cached;
  const estimate = estimateCompletion(history, settings);
  const planned = {
    plan: planChecks(cdfOnGrid(estimate, deadlineSeconds), {
      minWaitSeconds: settings.minWaitSeconds,
      maxWaitSeconds: settings.maxWaitSeconds,
      checkCostSeconds: settings.checkCostSeconds,
    }),
    learned: estimate.learned,
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
}

/**
 * The wait before the first check (the state machine's first `Wait`), in whole seconds.
 * With history: the plan's first check; without: the configured initial wait. When that
 * moment has passed already (an execution restarted late), the plan's next check from now.
 */
export function planFirstWait(
  history: CompletionHistory,
  settings: PollPolicySettings,
  state: Pick<PollState, 'elapsedSeconds' | 'deadlineSeconds'>,
): number {
  const elapsed = Number.isFinite(state.elapsedSeconds) ? Math.max(0, state.elapsedSeconds) : 0;
  const { plan, learned } = planFor(history, settings, state.deadlineSeconds);
  const target = learned
    ? (plan.nextCheckAt[0] ?? -1)
    : Math.min(settings.initialWaitSeconds, plan.horizonSeconds);
  if (target > elapsed) return Math.max(settings.minWaitSeconds, Math.round(target - elapsed));
  return planNextWait(history, settings, { ...state, elapsedSeconds: elapsed, pollCount: 0 });
}

/**
 * The wait after a check that found the generation unfinished, in whole seconds: the plan's
 * next check for the current second, between the floor and the cap. Past the plan's horizon,
 * the cap, shortened to reach the deadline. With an unknown elapsed time, the floor doubled
 * per check (the old schedule).
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
  const elapsed = Math.max(0, state.elapsedSeconds);
  const { plan } = planFor(history, settings, state.deadlineSeconds);
  const second = Math.floor(elapsed);
  const target = second <= plan.horizonSeconds ? (plan.nextCheckAt[second] ?? -1) : -1;
  if (target < 0) return untilDeadline(settings, elapsed, state.deadlineSeconds);
  return Math.min(max, Math.max(min, Math.round(target - elapsed)));
}

/** The cap, or less to land on the deadline, never below the floor. */
function untilDeadline(settings: PollPolicySettings, elapsed: number, deadlineSeconds: number): number {
  const left = Number.isFinite(deadlineSeconds)
    ? Math.ceil(deadlineSeconds - elapsed)
    : settings.maxWaitSeconds;
  return Math.max(settings.minWaitSeconds, Math.min(settings.maxWaitSeconds, left));
}

/** The poll state of a job record at `now`. */
export function pollStateOf(
  job: Pick<Job, 'submittedAt' | 'deadlineAt' | 'pollCount'>,
  now: Date,
): PollState {
  const submitted = job.submittedAt === undefined ? Number.NaN : Date.parse(job.submittedAt);
  const deadline = job.deadlineAt === undefined ? Number.NaN : Date.parse(job.deadlineAt);
  return {
    elapsedSeconds: (now.getTime() - submitted) / 1000,
    pollCount: job.pollCount,
    deadlineSeconds: Number.isFinite(deadline - submitted)
      ? (deadline - submitted) / 1000
      : Number.POSITIVE_INFINITY,
  };
}

/** The frame size whose history a job uses; the provider's default when the request names none. */
export function frameSizeOf(job: Pick<Job, 'request'>): string {
  return job.request?.frameSize ?? '1280:720';
}

/**
 * The completion history a job learns from and teaches: one per model and frame size, since
 * models differ in speed. `runway/gen4_aleph` keeps its original groups (the frame size alone),
 * so the history it gathered before other models existed is still read; another model's group
 * is `<model>@<frame size>`, or `<model>@-` for a model without one.
 */
export function historyGroupOf(job: Pick<Job, 'request'>): string {
  const model = job.request?.model;
  if (model === undefined || model === MODEL) return frameSizeOf(job);
  return `${model}@${job.request?.frameSize ?? '-'}`;
}

// ------------------------------------------------------------------ ports

/**
 * Where the history lives (DynamoDB in AWS and locally: one item per frame size in the jobs
 * table). Reads may be cached for a while; both calls may fail: the callers below never let
 * that fail a job.
 */
export interface CompletionHistoryStore {
  /** The observations of a frame size, at most {@link HISTORY_CAPACITY}. */
  read(frameSize: string): Promise<CompletionHistory>;
  /** Put `observation` in slot `slot`, replacing what was there. */
  record(frameSize: string, slot: number, observation: CompletionObservation): Promise<void>;
}

/** The history of a frame size, or the empty one when it cannot be read (the fallback schedule). */
export async function readHistorySafely(
  store: CompletionHistoryStore | undefined,
  frameSize: string,
  logger: Logger,
): Promise<CompletionHistory> {
  if (store === undefined) return EMPTY_HISTORY;
  try {
    return await store.read(frameSize);
  } catch (error) {
    logger.warn('completion history unreadable; polling on the fallback schedule', { frameSize, error });
    return EMPTY_HISTORY;
  }
}

/** Record the completion a check just saw; a failure only costs the history one observation. */
export async function recordCompletionSafely(
  store: CompletionHistoryStore | undefined,
  job: Job,
  seenAt: Date,
  logger: Logger,
): Promise<void> {
  const observation = observeCompletion(job, seenAt);
  if (store === undefined || observation === undefined) return;
  try {
    await store.record(historyGroupOf(job), historySlotOf(job.jobId), observation);
  } catch (error) {
    logger.warn('could not record the completion in the history', { jobId: job.jobId, error });
  }
}
