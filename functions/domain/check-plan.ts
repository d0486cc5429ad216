/**
 * The plan behind the polling policy: the schedule of checks that minimises the expected
 * `checks + lag / checkCostSeconds` for a completion-time distribution (see docs/polling.md).
 * Pure.
 */
import type { CompletionEstimate } from './completion-estimate.js';

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
  /** The floor: two checks are never closer than this. */
  readonly minWaitSeconds: number;
  readonly checkCostSeconds: number;
}

/** The plan stops where the estimate leaves less than this probability (the tail rule takes over). */
export const TAIL_PROBABILITY = 1e-4;
/** The plan never looks further than this (a deadline may be absent or very far). */
export const MAX_PLAN_SECONDS = 6 * 3600;

/**
 * The optimal check schedule for a completion-time distribution given on whole seconds:
 * `cdf[t]` = P(finished by t), t = 0..H. Exact dynamic programming over the last check's
 * second `s`: with `S` the survival and lag measured against the linear interpolation of `cdf`,
 *
 *   W(s) = S(s) + min over u >= s + min of ( ∫_s^u (F(t) - F(s)) dt / cost + W(u) )
 *
 * where `W(s) = S(s) * (expected remaining objective | unfinished at s)`. A check past the
 * horizon is impossible: W(s) = S(s) (one last check that finds the deadline passed). Waits
 * are not capped. With `A = ∫F` the inner term is `g(u) - u F(s) / cost` plus terms of `s`,
 * `g(u) = A(u) / cost + W(u)`: the minimum over `u` is a query of the lower convex hull of the
 * points `(u, g(u))` with slope `F(s) / cost`, so the whole plan takes O(H log H).
 */
export function planChecks(cdf: Float64Array, constraints: PlanConstraints): CheckPlan {
  const horizon = cdf.length - 1;
  const minWait = Math.max(1, Math.round(constraints.minWaitSeconds));
  const cost = constraints.checkCostSeconds;
  const area = new Float64Array(horizon + 1);
  for (let t = 1; t <= horizon; t += 1)
    area[t] = (area[t - 1] ?? 0) + ((cdf[t - 1] ?? 0) + (cdf[t] ?? 0)) / 2;
  const value = new Float64Array(horizon + 1);
  const next = new Int32Array(horizon + 1);
  // The hull as a stack: index 0 holds the largest u, the top the smallest (points arrive by decreasing u).
  const hullU = new Int32Array(horizon + 1);
  const hullG = new Float64Array(horizon + 1);
  let size = 0;
  for (let s = horizon; s >= 0; s -= 1) {
    const u = s + minWait;
    if (u <= horizon) {
      const g = (area[u] ?? 0) / cost + (value[u] ?? 0);
      // Drop the top while it is not strictly below the segment from the new point to the one under it.
      while (size >= 2) {
        const bU = hullU[size - 1] ?? 0;
        const bG = hullG[size - 1] ?? 0;
        const cU = hullU[size - 2] ?? 0;
        const cG = hullG[size - 2] ?? 0;
        if ((bG - g) * (cU - bU) >= (cG - bG) * (bU - u)) size -= 1;
        else break;
      }
      hullU[size] = u;
      hullG[size] = g;
      size += 1;
    }
    const fs = cdf[s] ?? 1;
    if (size === 0) {
      value[s] = 1 - fs;
      next[s] = -1;
      continue;
    }
    const k = bestOnHull(hullU, hullG, size - 1, fs / cost);
    const bestU = hullU[k] ?? 0;
    const inner = (hullG[k] ?? 0) - (bestU * fs) / cost - ((area[s] ?? 0) - s * fs) / cost;
    value[s] = 1 - fs + inner;
    next[s] = bestU;
  }
  return { horizonSeconds: horizon, nextCheckAt: next, expectedCost: value[0] ?? 0 };
}

/**
 * The hull point minimising `g - slope * u`: walking from the smallest u (the top) to the
 * largest, edge slopes increase, and the walk stops at the first edge not below `slope`.
 */
function bestOnHull(hullU: Int32Array, hullG: Float64Array, top: number, slope: number): number {
  // Edge k joins point k (left) and point k - 1 (right); its slope grows as k falls. The answer
  // is the largest k whose edge is not below `slope`, or 0 (the rightmost point).
  if (
    top === 0 ||
    !((hullG[top - 1] ?? 0) - (hullG[top] ?? 0) < slope * ((hullU[top - 1] ?? 0) - (hullU[top] ?? 0)))
  )
    return top;
  let low = 0;
  let high = top;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    const below =
      (hullG[middle - 1] ?? 0) - (hullG[middle] ?? 0) <
      slope * ((hullU[middle - 1] ?? 0) - (hullU[middle] ?? 0));
    if (below) high = middle;
    else low = middle;
  }
  return low;
}

/**
 * The estimate on whole seconds up to the plan's horizon: the deadline's last useful second
 * (a check at the deadline itself fails the job), or earlier where the tail is negligible.
 */
export function cdfOnGrid(estimate: Pick<CompletionEstimate, 'cdf'>, deadlineSeconds: number): Float64Array {
  const limit = Math.max(
    1,
    Math.min(
      MAX_PLAN_SECONDS,
      Number.isFinite(deadlineSeconds) ? Math.ceil(deadlineSeconds) - 1 : MAX_PLAN_SECONDS,
    ),
  );
  const values = new Float64Array(limit + 1);
  let length = limit + 1;
  for (let t = 1; t <= limit; t += 1) {
    const f = Math.min(1, Math.max(values[t - 1] ?? 0, estimate.cdf(t)));
    values[t] = f;
    if (1 - f <= TAIL_PROBABILITY) {
      length = t + 1;
      break;
    }
  }
  return length === limit + 1 ? values : values.slice(0, length);
}
