/**
 * Randomness of the emulator: a seedable PRNG (so tests are deterministic) and the
 * distributions its processing times are drawn from.
 */
import { randomInt } from 'node:crypto';

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * A PRNG: mulberry32 seeded with `seed` when given (deterministic), else seeded from the OS.
 * Not for secrets.
 */
export function createRandom(seed?: number): Random {
  let state = (seed ?? randomInt(0, 2 ** 32)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An exponentially distributed value with the given mean. */
export function drawExponential(random: Random, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/** A log-normally distributed value: `median * e^(sigma * Z)` with Z standard normal. */
export function drawLogNormal(random: Random, median: number, sigma: number): number {
  // Box-Muller; 1 - u keeps the logarithm finite.
  const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}
