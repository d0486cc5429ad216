/**
 * The one doubling backoff of the polling side: the check's wait through a provider outage,
 * the check's schedule for a job without a submission time, and the policy's schedule for an
 * unknown elapsed time (check-generation.ts, poll-policy.ts).
 */

/**
 * `base * 2^exponent` (a negative exponent counts as 0), capped at `max`.
 * Pure; throws nothing.
 */
export function doublingBackoff(base: number, exponent: number, max: number): number {
  return Math.min(max, base * 2 ** Math.max(0, exponent));
}
