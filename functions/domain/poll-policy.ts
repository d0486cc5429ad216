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
 * Everything above the "ports" section is pure; plans are memoised by their inputs.
 */
import { doublingBackoff } from './backoff.js';
import { type Job, MODEL } from './job.js';
import type { Logger } from './ports.js';

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

/** A generation that finished in `(afterSeconds, bySeconds]`, counted from its submission. */
export interface CompletionObservation {
  readonly afterSeconds: number;
  readonly bySeconds: number;
}

/** What the policy knows about one frame size. */
export interface CompletionHistory {
  readonly observations: readonly CompletionObservation[];
}

export const EMPTY_HISTORY: CompletionHistory = { observations: [] };

/** The lag one check is worth unless configured (see the module comment). */
export const DEFAULT_CHECK_COST_SECONDS = 4;
/** The first wait with too little history unless configured. */
export const DEFAULT_INITIAL_WAIT_SECONDS = 60;
/** Observations kept per frame size. */
export const HISTORY_CAPACITY = 100;
/** Below this many observations the policy follows its prior (the fallback schedule). */
export const MIN_OBSERVATIONS = 5;
/** Weight of the wide prior, in observations. */
export const PRIOR_WEIGHT = 1;
/** Log-scale spread of the prior: 90% of its mass within a factor of 3.2 of its median. */
export const PRIOR_LOG_SIGMA = 0.7;
/**
 * With no history the prior's median is this many initial waits: the provider's example took
 * 3 min 30 s against the default first wait of 60 s. Tying it to the initial wait keeps the
 * local runtime's scaled-down waits consistent with its scaled-down generations.
 */
export const PRIOR_MEDIAN_PER_INITIAL_WAIT = 3.5;
/** The plan stops where the estimate leaves less than this probability; beyond, checks come every `maxWaitSeconds`. */
const TAIL_PROBABILITY = 1e-4;
/** The plan never looks further than this (a deadline may be absent or very far). */
const MAX_PLAN_SECONDS = 6 * 3600;

// ------------------------------------------------------------------ observations

/**
 * The observation a check makes when it first sees the generation completed.
 * @param job the record as the check read it, before recording this check.
 * @param seenAt when the check asked the provider.
 * @returns undefined when the record cannot bound the completion (not submitted, or a
 *   rerun of a check that already saw the completion).
 */
export function observeCompletion(
  job: Pick<Job, 'submittedAt' | 'updatedAt' | 'pollCount' | 'providerStatus'>,
  seenAt: Date,
): CompletionObservation | undefined {
  if (job.submittedAt === undefined || job.providerStatus === 'completed') return undefined;
  const submitted = Date.parse(job.submittedAt);
  const bySeconds = (seenAt.getTime() - submitted) / 1000;
  // The record was last updated by the previous check, which saw the generation unfinished.
  const afterSeconds = job.pollCount > 0 ? (Date.parse(job.updatedAt) - submitted) / 1000 : 0;
  if (!Number.isFinite(bySeconds) || !Number.isFinite(afterSeconds) || bySeconds <= 0) return undefined;
  return {
    afterSeconds: roundTenth(Math.min(Math.max(0, afterSeconds), bySeconds)),
    bySeconds: roundTenth(bySeconds),
  };
}

/** The history slot a job's observation goes to: stable, so recording it twice is harmless. */
export function historySlotOf(jobId: string, capacity: number = HISTORY_CAPACITY): number {
  let hash = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < jobId.length; i += 1) {
    hash ^= jobId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % capacity;
}

// ------------------------------------------------------------------ estimate

/** A completion-time distribution: `cdf(t)` = P(finished by `t` seconds after submission). */
export interface CompletionEstimate {
  /** Whether the estimate rests on history (else on the prior alone). */
  readonly learned: boolean;
  cdf(seconds: number): number;
}

/**
 * Estimate the completion-time distribution from the history: smoothed EM over the observed
 * intervals ({@link smoothedIntervalDensity}) mixed with a wide log-normal around its median;
 * the prior alone below {@link MIN_OBSERVATIONS} observations.
 */
export function estimateCompletion(
  history: CompletionHistory,
  settings: PollPolicySettings,
): CompletionEstimate {
  const usable = history.observations.filter(
    (o) =>
      Number.isFinite(o.afterSeconds) &&
      Number.isFinite(o.bySeconds) &&
      o.bySeconds > 0 &&
      o.afterSeconds >= 0,
  );
  if (usable.length < MIN_OBSERVATIONS) {
    const logMedian = Math.log(PRIOR_MEDIAN_PER_INITIAL_WAIT * settings.initialWaitSeconds);
    return { learned: false, cdf: (t) => logNormalCdf(t, logMedian, PRIOR_LOG_SIGMA) };
  }
  const density = smoothedIntervalDensity(usable);
  const priorLogMedian = density.quantile(0.5);
  const weight = usable.length / (usable.length + PRIOR_WEIGHT);
  return {
    learned: true,
    cdf: (t) => {
      if (t <= 0) return 0;
      const logT = Math.log(t);
      return weight * density.cdf(logT) + (1 - weight) * normalCdf((logT - priorLogMedian) / PRIOR_LOG_SIGMA);
    },
  };
}

/** Width of the log-time bins the density is estimated on (2% of the time). */
const LOG_BIN = 0.02;
/** Rounds of the smoothed EM. */
const EMS_ROUNDS = 30;

/**
 * The density of log completion time from interval-censored observations, by the EMS
 * algorithm (Silverman et al. 1990: EM for interval data, each round smoothed by a Gaussian
 * kernel): each observation's mass is spread over its interval in proportion to the current
 * estimate, then the result is smoothed. A completion seen at the first check (no lower
 * bound) thus takes the shape of the estimate below that check instead of a guess.
 * The bandwidth is Silverman's rule on the intervals' log-centres.
 */
function smoothedIntervalDensity(observations: readonly CompletionObservation[]): {
  cdf(logT: number): number;
  quantile(q: number): number;
} {
  const logBy = observations.map((o) => Math.log(o.bySeconds));
  const logAfter = observations.map((o) =>
    o.afterSeconds > 0 ? Math.log(o.afterSeconds) : Number.NEGATIVE_INFINITY,
  );
  const bounded = observations
    .map((o, i) => (o.afterSeconds > 0 ? ((logAfter[i] ?? 0) + (logBy[i] ?? 0)) / 2 : Number.NaN))
    .filter((centre) => Number.isFinite(centre))
    .sort((a, b) => a - b);
  const bandwidth = Math.max(
    LOG_BIN,
    silvermanBandwidth(bounded.length >= 2 ? bounded : [...logBy].sort((a, b) => a - b)),
  );
  const reach = 4 * bandwidth;
  const lower = Math.min(...logBy) - Math.log(8) - reach;
  const upper = Math.max(...logBy) + reach;
  const bins = Math.max(1, Math.ceil((upper - lower) / LOG_BIN));

  // overlaps[i]: the bins observation i covers, with the fraction of each bin inside its interval.
  const overlaps = observations.map((_, i) => {
    const from = Math.max(lower, logAfter[i] ?? lower);
    const to = Math.max(from, logBy[i] ?? from);
    const first = Math.min(bins - 1, Math.max(0, Math.floor((from - lower) / LOG_BIN)));
    const last = Math.min(bins - 1, Math.max(first, Math.floor((to - lower) / LOG_BIN)));
    const weights: number[] = [];
    for (let j = first; j <= last; j += 1) {
      const start = lower + j * LOG_BIN;
      const inside = Math.min(to, start + LOG_BIN) - Math.max(from, start);
      weights.push(Math.max(inside / LOG_BIN, 1e-9));
    }
    return { first, weights };
  });

  const halfWidth = Math.ceil(reach / LOG_BIN);
  const kernel = Array.from({ length: 2 * halfWidth + 1 }, (_, k) =>
    Math.exp(-0.5 * (((k - halfWidth) * LOG_BIN) / bandwidth) ** 2),
  );
  // Start from the bounded observations alone (uniform within each interval), so the mass of
  // completions seen at a first check starts where the rest of the estimate puts it.
  const isBounded = observations.map((o) => o.afterSeconds > 0);
  const start = new Float64Array(bins).fill(1e-6 / bins);
  overlaps.forEach(({ first, weights }, i) => {
    if (!isBounded[i] && isBounded.some(Boolean)) return;
    const total = weights.reduce((a, b) => a + b, 0);
    weights.forEach((w, k) => {
      start[first + k] = (start[first + k] ?? 0) + w / total;
    });
  });
  let density: Float64Array = smooth(start, kernel, halfWidth);
  for (let round = 0; round < EMS_ROUNDS; round += 1) {
    const imputed = new Float64Array(bins);
    for (const { first, weights } of overlaps) {
      let total = 0;
      for (let k = 0; k < weights.length; k += 1) total += (weights[k] ?? 0) * (density[first + k] ?? 0);
      for (let k = 0; k < weights.length; k += 1) {
        const share =
          total > 0 ? ((weights[k] ?? 0) * (density[first + k] ?? 0)) / total : 1 / weights.length;
        imputed[first + k] = (imputed[first + k] ?? 0) + share;
      }
    }
    density = smooth(imputed, kernel, halfWidth);
  }

  const cumulative = new Float64Array(bins + 1);
  for (let j = 0; j < bins; j += 1) cumulative[j + 1] = (cumulative[j] ?? 0) + (density[j] ?? 0);
  const total = cumulative[bins] ?? 1;
  return {
    cdf: (logT) => {
      const position = (logT - lower) / LOG_BIN;
      if (position <= 0) return 0;
      if (position >= bins) return 1;
      const j = Math.floor(position);
      return ((cumulative[j] ?? 0) + (position - j) * (density[j] ?? 0)) / total;
    },
    quantile: (q) => {
      let j = 0;
      while (j < bins && (cumulative[j + 1] ?? 0) < q * total) j += 1;
      return lower + (j + 0.5) * LOG_BIN;
    },
  };
}

/** Convolution with a kernel, renormalised to the mass that stays on the grid. */
function smooth(values: Float64Array, kernel: readonly number[], halfWidth: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let j = 0; j < values.length; j += 1) {
    const value = values[j] ?? 0;
    if (value === 0) continue;
    let kept = 0;
    const from = Math.max(0, j - halfWidth);
    const to = Math.min(values.length - 1, j + halfWidth);
    for (let k = from; k <= to; k += 1) kept += kernel[k - j + halfWidth] ?? 0;
    for (let k = from; k <= to; k += 1)
      out[k] = (out[k] ?? 0) + (value * (kernel[k - j + halfWidth] ?? 0)) / kept;
  }
  return out;
}

/** Silverman's rule of thumb, on sorted values. */
function silvermanBandwidth(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n < 2) return 0;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const iqr = quantileOfSorted(sorted, 0.75) - quantileOfSorted(sorted, 0.25);
  const spread = iqr > 0 ? Math.min(sd, iqr / 1.34) : sd;
  return 0.9 * spread * n ** -0.2;
}

function quantileOfSorted(sorted: readonly number[], q: number): number {
  const position = (sorted.length - 1) * q;
  const below = sorted[Math.floor(position)] ?? 0;
  const above = sorted[Math.ceil(position)] ?? below;
  return below + (above - below) * (position - Math.floor(position));
}

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

// ------------------------------------------------------------------ maths

function logNormalCdf(t: number, logMedian: number, sigma: number): number {
  return t <= 0 ? 0 : normalCdf((Math.log(t) - logMedian) / sigma);
}

/** Coefficients of Numerical Recipes' `erfcc` polynomial, lowest order first. */
const ERFC_COEFFICIENTS = [
  -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
  -0.82215223, 0.17087277,
];

/** Standard normal CDF (erfc after Numerical Recipes' `erfcc`, relative error under 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  let polynomial = 0;
  for (let k = ERFC_COEFFICIENTS.length - 1; k >= 0; k -= 1)
    polynomial = polynomial * t + (ERFC_COEFFICIENTS[k] ?? 0);
  const erfc = t * Math.exp(-z * z + polynomial);
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

function roundTenth(value: number): number {
  return Math.round(value * 10) / 10;
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
