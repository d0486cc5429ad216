/**
 * The estimate behind the polling policy: the distribution of a generation's completion time,
 * counted from its submission, from what the checks have seen (see docs/polling.md).
 *
 * - Observations are intervals: a generation seen completed finished in `(afterSeconds,
 *   bySeconds]` (the previous check saw it unfinished, this one saw it done); a generation
 *   still running is right-censored at `afterSeconds` ("not done yet at t" is information, so a
 *   burst of drops or a slowdown teaches before anything finishes).
 * - Weights decay with age (half-life {@link HALF_LIFE_OBSERVATIONS} observations, the last
 *   submitted first), and a log-rank score test between the generations submitted last and the
 *   older ones (regime-shift.ts) drops the older ones once they look like another regime (a
 *   provider slowdown or speed-up).
 * - The density of log time lives on a grid of {@link LOG_BIN}-wide bins and is fitted by
 *   smoothed EM for censored data (EMS: each round spreads every observation's weight over its
 *   interval in proportion to the current estimate, then smooths). The smoothing bandwidth is
 *   chosen from the data by leave-one-out likelihood, so separate peaks stay separate.
 * - A prior from configuration (the typical time of the job's model and frame size) carries
 *   the estimate while there is little data and fades as completions arrive; a weak wide
 *   component around the data's median keeps the tails from having zero mass.
 *
 * The observations themselves (what each check records, the history) are in completion-observations.ts.
 * Everything here is pure.
 */

import { afterQueue, type CompletionHistory, type CompletionObservation } from './completion-observations.js';
import {
  addScaled,
  BINS,
  binCentre,
  binOf,
  GRID_LOWER,
  LOG_BIN,
  logNormalOnGrid,
  normalise,
  selfWeight,
  smooth,
} from './log-grid.js';
import { logRankScore, newestRegimeLength } from './regime-shift.js';

export type { CompletionHistory, CompletionObservation } from './completion-observations.js';
export {
  EMPTY_HISTORY,
  HISTORY_CAPACITY,
  historySlotOf,
  observeCompletion,
} from './completion-observations.js';
export { LOG_BIN } from './log-grid.js';

// ------------------------------------------------------------------ estimate

/** A completion-time distribution: `cdf(t)` = P(finished by `t` seconds after submission). */
export interface CompletionEstimate {
  /** Completions' weight behind the estimate (0: the prior alone). */
  readonly evidence: number;
  cdf(seconds: number): number;
}

/** An observation's weight halves with every this many newer observations. */
export const HALF_LIFE_OBSERVATIONS = 150;
/** The prior's weight, in observations, with no completion seen... */
export const PRIOR_WEIGHT = 3;
/** ... fading linearly to nothing by this weight of completions. */
const PRIOR_FADES_BY = 12;
/** Log-scale spread of the configured prior: 90% of its core within a factor of 1.5 of the typical time (0.3 left long jobs 1.27x from the optimum on a cold start; bench/RESULTS.md). */
export const PRIOR_LOG_SIGMA = 0.25;
/** Its heavy tail: this share of the prior is spread with {@link PRIOR_TAIL_LOG_SIGMA}. */
const PRIOR_TAIL_SHARE = 0.15;
const PRIOR_TAIL_LOG_SIGMA = 1.0;
/** Weight (in observations) of the wide component around the data's median. */
const SAFETY_WEIGHT = 0.5;
const SAFETY_LOG_SIGMA = 0.7;
/** Bandwidths (log scale) the leave-one-out likelihood chooses from. */
const BANDWIDTHS = [0.03, 0.045, 0.065, 0.09, 0.13, 0.18, 0.25, 0.35] as const;
/** With fewer point-like observations than this, the bandwidth is {@link DEFAULT_BANDWIDTH}. */
const MIN_POINTS_FOR_BANDWIDTH = 8;
const DEFAULT_BANDWIDTH = 0.1;
/** An interval narrower than this (log scale) counts as a point for choosing the bandwidth. */
const POINT_WIDTH = 0.12;
/** At most this many EMS rounds: 20 left the multi-peak and short families 1% to 2% further from the optimum (bench/RESULTS.md). */
const EMS_ROUNDS = 40;
/** EMS stops early once a round moves less than this share of the probability mass (0.03%). */
const EMS_TOLERANCE = 3e-4;

/**
 * Estimate the completion-time distribution.
 * @param history what the checks have seen (malformed observations are ignored).
 * @param typicalSeconds the prior's median: the configured typical time of the model and frame size.
 * @throws nothing: with no usable observation the result is the prior.
 */
export function estimateCompletion(
  history: CompletionHistory,
  typicalSeconds: number,
  clock: EstimateClock = 'submission',
): CompletionEstimate {
  const all = weighObservations(clock === 'submission' ? history.observations : afterQueue(history));
  let fit = fitOn(all, typicalSeconds);
  // A shift: the generations submitted before it are dropped, the newest ones fitted alone.
  const newest = newestRegimeLength(scoresOf(all, fit.cumulative));
  if (newest < all.length) fit = fitOn(all.slice(0, newest), typicalSeconds);
  const { density, cumulative, evidence } = fit;
  const total = cumulative[BINS] ?? 1;
  return {
    evidence,
    cdf: (t) => {
      if (!(t > 0)) return 0;
      const position = (Math.log(t) - GRID_LOWER) / LOG_BIN;
      if (position <= 0) return 0;
      if (position >= BINS) return 1;
      const j = Math.floor(position);
      return ((cumulative[j] ?? 0) + (position - j) * (density[j] ?? 0)) / total;
    },
  };
}

/**
 * What an estimate counts from: the submission (the completion time), or the last check that
 * saw the generation queued (the time left after that check: the rest of the queue, then the
 * processing), for a generation a check saw `queued`.
 */
export type EstimateClock = 'submission' | 'last-queued';

interface Fit {
  readonly density: Float64Array;
  /** `cumulative[j]`: the density's mass below bin `j`. */
  readonly cumulative: Float64Array;
  /** The completions' weight behind it. */
  readonly evidence: number;
}

/** The density fitted on `data`, with the prior (fading with the evidence) and the wide safety component. */
function fitOn(data: readonly Weighed[], typicalSeconds: number): Fit {
  const evidence = data.filter((o) => o.completed).reduce((sum, o) => sum + o.weight, 0);
  const priorWeight = PRIOR_WEIGHT * Math.max(0, 1 - evidence / PRIOR_FADES_BY);
  const prior = configuredPrior(typicalSeconds);
  const pseudo = new Float64Array(BINS);
  addScaled(pseudo, prior, priorWeight);
  const median = weightedMedianBin(data.filter((o) => o.completed));
  if (median !== undefined) addScaled(pseudo, safetyOnGrid(median), SAFETY_WEIGHT);
  const density = data.length === 0 ? prior : fitDensity(data, pseudo, chooseBandwidth(data));
  const cumulative = new Float64Array(BINS + 1);
  for (let j = 0; j < BINS; j += 1) cumulative[j + 1] = (cumulative[j] ?? 0) + (density[j] ?? 0);
  return { density, cumulative, evidence };
}

/**
 * Each observation's log-rank score under a fitted survival (regime-shift.ts). The checks of a
 * plan bound many observations to the same bins: a score is computed once per bin range.
 */
function scoresOf(data: readonly Weighed[], cumulative: Float64Array): number[] {
  const total = cumulative[BINS] ?? 1;
  const survival = (bin: number) => 1 - (cumulative[bin] ?? total) / total;
  const known = new Map<number, number>();
  return data.map((o) => {
    const key = o.first * (BINS + 1) + (o.completed ? o.last : BINS);
    let score = known.get(key);
    if (score === undefined) {
      score = logRankScore(survival(o.first), o.completed ? survival(o.last + 1) : undefined);
      known.set(key, score);
    }
    return score;
  });
}

/**
 * The `q`-quantile of the completion time given that the generation was unfinished at
 * `elapsedSeconds`: the time `t` with P(T <= t | T > elapsed) = q (an ETA from the same
 * distribution the plan uses).
 * @returns seconds from submission; Infinity when the estimate puts less than `1 - q` beyond.
 */
export function conditionalQuantile(estimate: CompletionEstimate, elapsedSeconds: number, q: number): number {
  const from = Math.max(0, elapsedSeconds);
  const base = estimate.cdf(from);
  const target = base + q * (1 - base);
  if (1 - base < 1e-12) return from;
  let low = Math.max(from, 0.5);
  let high = Math.max(low * 2, 1);
  while (estimate.cdf(high) < target) {
    high *= 2;
    if (high > 12 * 3600 * 4) return Number.POSITIVE_INFINITY;
  }
  for (let round = 0; round < 40 && high - low > 0.05; round += 1) {
    const middle = (low + high) / 2;
    if (estimate.cdf(middle) < target) low = middle;
    else high = middle;
  }
  return high;
}

// ------------------------------------------------------------------ observations on the grid

interface Weighed {
  readonly first: number;
  readonly last: number;
  readonly completed: boolean;
  readonly weight: number;
}

/**
 * Usable observations as bin ranges, the generation submitted last first, weighted by that
 * rank. By submission, not by when they were seen: the generations submitted after a moment are
 * a cohort, each either finished or still running (censored at its age), which the shift test
 * can compare with the older ones; the newest *seen* are biased (the short ones of the last
 * submissions and the long ones of earlier submissions).
 */
function weighObservations(observations: readonly CompletionObservation[]): Weighed[] {
  const usable = observations
    .map((o, index) => ({ o, index }))
    .filter(({ o }) => isUsable(o))
    .sort((a, b) => submittedAt(b.o) - submittedAt(a.o) || b.index - a.index)
    .map(({ o }) => o);
  return usable.map((o, rank) => {
    const completed = o.bySeconds !== undefined;
    const first = o.afterSeconds > 0 ? binOf(Math.log(o.afterSeconds)) : 0;
    const last = completed ? Math.max(first, binOf(Math.log(o.bySeconds ?? 0))) : BINS - 1;
    return {
      first,
      last,
      completed,
      weight: 0.5 ** (rank / HALF_LIFE_OBSERVATIONS),
    };
  });
}

/** When the observed generation was submitted (epoch seconds); -Infinity without a time stamp (the oldest). */
function submittedAt(o: CompletionObservation): number {
  return o.atSeconds === undefined ? Number.NEGATIVE_INFINITY : o.atSeconds - (o.bySeconds ?? o.afterSeconds);
}

function isUsable(o: CompletionObservation): boolean {
  if (!Number.isFinite(o.afterSeconds) || o.afterSeconds < 0) return false;
  if (o.bySeconds === undefined) return o.afterSeconds > 0;
  return Number.isFinite(o.bySeconds) && o.bySeconds > 0 && o.bySeconds >= o.afterSeconds;
}

// ------------------------------------------------------------------ density

/**
 * Smoothed EM for censored data on the grid, with `pseudo` (the prior's and the safety
 * component's weight) added to every round's imputed counts. Each round walks the grid four
 * times (the imputed counts, three smoothing passes) and once more to normalise, measure how far
 * it moved and take the prefix sums the next round needs.
 */
function fitDensity(data: readonly Weighed[], pseudo: Float64Array, bandwidth: number): Float64Array {
  // Start from the point-like completions and the pseudo-counts.
  const start = Float64Array.from(pseudo);
  for (const o of data) {
    if (!o.completed) continue;
    const share = o.weight / (o.last - o.first + 1);
    for (let j = o.first; j <= o.last; j += 1) start[j] = (start[j] ?? 0) + share;
  }
  let density = normalise(smooth(start, bandwidth));
  const prefix = new Float64Array(BINS + 1);
  for (let j = 0; j < BINS; j += 1) prefix[j + 1] = (prefix[j] ?? 0) + (density[j] ?? 0);
  const factor = new Float64Array(BINS + 1);
  const imputed = new Float64Array(BINS);
  // Each round smooths into the buffer the round before last used: two densities, no garbage.
  let spare: Float64Array = new Float64Array(BINS);
  for (let round = 0; round < EMS_ROUNDS; round += 1) {
    factor.fill(0);
    for (const o of data) {
      const mass = (prefix[o.last + 1] ?? 0) - (prefix[o.first] ?? 0);
      const f = mass > 1e-300 ? o.weight / mass : 0;
      factor[o.first] = (factor[o.first] ?? 0) + f;
      factor[o.last + 1] = (factor[o.last + 1] ?? 0) - f;
    }
    let running = 0;
    let total = 0;
    for (let j = 0; j < BINS; j += 1) {
      running += factor[j] ?? 0;
      const value = (pseudo[j] ?? 0) + running * (density[j] ?? 0);
      imputed[j] = value;
      total += value;
    }
    // Smoothing keeps the total but for what falls off the grid's ends (half a second, 12 hours),
    // where there is no mass; the cdf divides by the total anyway.
    const next = smooth(imputed, bandwidth, spare);
    const scale = total > 0 ? 1 / total : 0;
    let moved = 0;
    for (let j = 0; j < BINS; j += 1) {
      const value = (next[j] ?? 0) * scale;
      next[j] = value;
      moved += Math.abs(value - (density[j] ?? 0));
      prefix[j + 1] = (prefix[j] ?? 0) + value;
    }
    spare = density;
    density = next;
    // Converged: another round would move less than this share of the mass (saves most of the re-plan's CPU).
    if (moved < EMS_TOLERANCE) break;
  }
  return density;
}

/**
 * The bandwidth with the best leave-one-out log-likelihood of the point-like completions
 * (narrow intervals at their centre), each counted with its weight.
 */
function chooseBandwidth(data: readonly Weighed[]): number {
  const points = data.filter(
    (o) => o.completed && (o.last - o.first) * LOG_BIN <= POINT_WIDTH && o.first > 0,
  );
  if (points.length < MIN_POINTS_FOR_BANDWIDTH) return DEFAULT_BANDWIDTH;
  const counts = new Float64Array(BINS);
  let total = 0;
  for (const o of points) {
    const centre = Math.round((o.first + o.last) / 2);
    counts[centre] = (counts[centre] ?? 0) + o.weight;
    total += o.weight;
  }
  let best: number = DEFAULT_BANDWIDTH;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const bandwidth of BANDWIDTHS) {
    const smoothed = smooth(counts, bandwidth);
    const self = selfWeight(bandwidth);
    let score = 0;
    for (const o of points) {
      const centre = Math.round((o.first + o.last) / 2);
      const others = ((smoothed[centre] ?? 0) - o.weight * self) / Math.max(1e-12, total - o.weight);
      score += o.weight * Math.log(Math.max(1e-9, others));
    }
    if (score > bestScore) {
      bestScore = score;
      best = bandwidth;
    }
  }
  return best;
}

// ------------------------------------------------------------------ prior

const priorCache = new Map<number, Float64Array>();

/** The configured prior on the grid: a log-normal core around the typical time with a heavy tail. */
function configuredPrior(typicalSeconds: number): Float64Array {
  const typical = Number.isFinite(typicalSeconds) && typicalSeconds > 0 ? typicalSeconds : 210;
  const cached = priorCache.get(typical);
  if (cached !== undefined) return cached;
  const centre = Math.log(typical);
  const prior = new Float64Array(BINS);
  addScaled(prior, logNormalOnGrid(centre, PRIOR_LOG_SIGMA), 1 - PRIOR_TAIL_SHARE);
  addScaled(prior, logNormalOnGrid(centre, PRIOR_TAIL_LOG_SIGMA), PRIOR_TAIL_SHARE);
  if (priorCache.size > 64) priorCache.clear();
  priorCache.set(typical, prior);
  return prior;
}

const safetyCache = new Map<number, Float64Array>();

/** The wide safety component around bin `median` (cached: a re-plan should not recompute it). */
function safetyOnGrid(median: number): Float64Array {
  const cached = safetyCache.get(median);
  if (cached !== undefined) return cached;
  const safety = logNormalOnGrid(binCentre(median), SAFETY_LOG_SIGMA);
  if (safetyCache.size > 256) safetyCache.clear();
  safetyCache.set(median, safety);
  return safety;
}

function weightedMedianBin(data: readonly Weighed[]): number | undefined {
  if (data.length === 0) return undefined;
  // A completion seen at the first check (no lower bound) counts at its upper bound.
  const centreOf = (o: Weighed) => (o.first > 0 ? Math.round((o.first + o.last) / 2) : o.last);
  const sorted = [...data].sort((a, b) => centreOf(a) - centreOf(b));
  const half = sorted.reduce((sum, o) => sum + o.weight, 0) / 2;
  let running = 0;
  for (const o of sorted) {
    running += o.weight;
    if (running >= half) return centreOf(o);
  }
  return undefined;
}
