/**
 * The completion-time estimate behind the polling policy (poll-policy.ts; docs/polling.md):
 * the observations each check records, and the distribution of completion time estimated from
 * them by smoothed EM over interval-censored data, mixed with a wide log-normal prior.
 * Pure: no I/O, no clock.
 */
import type { Job } from './job.js';
import type { PollPolicySettings } from './poll-policy.js';
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
