/**
 * Shift detection for the completion estimate (completion-estimate.ts, docs/polling.md): a
 * two-sample score test between the generations submitted last and the older ones, so the
 * estimate drops the older regime once the provider's speed has shifted. Pure.
 *
 * The observations are interval-censored by the policy's own checks, and the checks move as the
 * plan does: a test on interval midpoints would take the plan's own moves for a shift. So each
 * observation gets its log-rank score under the survival `S` fitted on all of them (Finkelstein
 * 1986, log-rank scores for interval-censored data): a completion in `(L, R]` scores
 * `(S(L) ln S(L) - S(R) ln S(R)) / (S(L) - S(R))` (`1 + ln S(t)` for an exact time), a generation
 * still running at `L` scores `ln S(L)`. A generation seen through other checks gets the same
 * expected score, and under one regime the scores have mean 0.
 */

/** The newest cohort the test tries has at least this many observations... */
const MIN_NEWEST = 6;
/** ... and leaves at least this many older ones (every size in between is tried). */
const MIN_OLDER = 4;
/** The chi-square (1 df) the largest statistic must pass (p < 0.0005 for one size alone). */
const SHIFT_CHI_SQUARE = 12;

/**
 * The log-rank score of an observation under the fitted survival: `survivalAfter` = S(L),
 * `survivalBy` = S(R) for a completion, undefined for a generation still running at L.
 * Pure; throws nothing (survivals are clamped to (0, 1]).
 */
export function logRankScore(survivalAfter: number, survivalBy: number | undefined): number {
  const sL = clampSurvival(survivalAfter);
  if (survivalBy === undefined) return Math.log(sL);
  const sR = Math.min(sL, clampSurvival(survivalBy));
  if (sL - sR < 1e-9) return Math.log(sL) + 1;
  const xLogX = (x: number) => x * Math.log(x);
  return (xLogX(sL) - xLogX(sR)) / (sL - sR);
}

/**
 * How many of the generations submitted last belong to the current regime: all of them, unless
 * the score test between the newest `k` and the rest (for the `k` that differs most) rejects one
 * distribution for both. Pure; throws nothing.
 * @param scoresNewestFirst each observation's {@link logRankScore}, the last submitted first.
 */
export function newestRegimeLength(scoresNewestFirst: readonly number[]): number {
  const n = scoresNewestFirst.length;
  if (n - MIN_NEWEST < MIN_OLDER) return n;
  const mean = scoresNewestFirst.reduce((a, b) => a + b, 0) / n;
  const spread = scoresNewestFirst.reduce((a, b) => a + (b - mean) ** 2, 0);
  if (!(spread > 0)) return n;
  let best = n;
  let bestStatistic = SHIFT_CHI_SQUARE;
  let sum = 0;
  // Every cohort size: the largest statistic estimates where the shift happened.
  for (let split = 1; split <= n - MIN_OLDER; split += 1) {
    sum += (scoresNewestFirst[split - 1] ?? 0) - mean;
    if (split < MIN_NEWEST) continue;
    // The permutation variance of the newest group's sum of centred scores.
    const statistic = (sum * sum) / (((split * (n - split)) / (n * (n - 1))) * spread);
    if (statistic > bestStatistic) {
      bestStatistic = statistic;
      best = split;
    }
  }
  return best;
}

function clampSurvival(s: number): number {
  return Math.min(1, Math.max(1e-6, s));
}
