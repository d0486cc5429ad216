/**
 * The grid the completion estimate lives on (completion-estimate.ts, docs/polling.md): bins of
 * log time {@link LOG_BIN} wide from half a second to 12 hours, and the Gaussian smoothing of
 * the smoothed EM (three box filters). Pure.
 */

/** Width of the log-time bins (2% of the time). */
export const LOG_BIN = 0.02;
/** The grid starts at half a second... */
export const GRID_LOWER = Math.log(0.5);
/** ... and ends at 12 hours, beyond any deadline the policy plans for. */
export const BINS = Math.ceil((Math.log(12 * 3600) - GRID_LOWER) / LOG_BIN);

/** What {@link smooth} leaves of a unit mass in its own bin: the centre of three convolved boxes of width w, (3w² + 1) / 4w³. */
export function selfWeight(bandwidth: number): number {
  const width = boxWidth(bandwidth);
  return (3 * width * width + 1) / (4 * width ** 3);
}

function boxWidth(bandwidth: number): number {
  const sigmaBins = bandwidth / LOG_BIN;
  return Math.max(1, Math.round(Math.sqrt(4 * sigmaBins * sigmaBins + 1)));
}

/**
 * Gaussian smoothing (standard deviation `bandwidth` in log time) by three box filters, into
 * `out` (a new array unless given; it must not be `values`).
 */
export function smooth(
  values: Float64Array,
  bandwidth: number,
  out: Float64Array = new Float64Array(values.length),
): Float64Array {
  const width = boxWidth(bandwidth);
  const half = Math.floor(width / 2);
  const first = out;
  const second = scratchOf(values.length);
  boxFilter(values, first, half, false);
  boxFilter(first, second, half, width % 2 === 0);
  boxFilter(second, first, half, false);
  return first;
}

let scratch = new Float64Array(0);

/** A buffer of `length` for the middle pass of {@link smooth} (reused: it never escapes). */
function scratchOf(length: number): Float64Array {
  if (scratch.length !== length) scratch = new Float64Array(length);
  return scratch;
}

/**
 * A moving average over `2 * half + 1` bins into `out` (shifted by one when `shift`, so that
 * even widths stay centred over the passes), by a running sum.
 */
function boxFilter(values: Float64Array, out: Float64Array, half: number, shift: boolean): void {
  const n = values.length;
  const width = 2 * half + 1;
  const offset = shift ? 1 : 0;
  // The window of bin j is [j - half + offset, j + half + offset], clipped to the grid.
  let sum = 0;
  for (let k = 0; k <= Math.min(n - 1, half + offset); k += 1) sum += values[k] ?? 0;
  for (let j = 0; j < n; j += 1) {
    out[j] = sum / width;
    const entering = j + half + offset + 1;
    const leaving = j - half + offset;
    if (entering < n) sum += values[entering] ?? 0;
    if (leaving >= 0) sum -= values[leaving] ?? 0;
  }
}

export function normalise(values: Float64Array): Float64Array {
  let total = 0;
  for (const v of values) total += v;
  if (total > 0) for (let j = 0; j < values.length; j += 1) values[j] = (values[j] ?? 0) / total;
  return values;
}

/** A log-normal density on the grid, normalised. */
export function logNormalOnGrid(logCentre: number, sigma: number): Float64Array {
  const out = new Float64Array(BINS);
  for (let j = 0; j < BINS; j += 1) out[j] = Math.exp(-0.5 * ((binCentre(j) - logCentre) / sigma) ** 2);
  return normalise(out);
}

/** `target += scale * source`, bin by bin (nothing for a scale of 0 or less). */
export function addScaled(target: Float64Array, source: Float64Array, scale: number): void {
  if (scale <= 0) return;
  for (let j = 0; j < target.length; j += 1) target[j] = (target[j] ?? 0) + scale * (source[j] ?? 0);
}

/** The bin of a log time, clamped to the grid. */
export function binOf(logT: number): number {
  return Math.min(BINS - 1, Math.max(0, Math.floor((logT - GRID_LOWER) / LOG_BIN)));
}

/** The log time at the centre of bin `j`. */
export function binCentre(j: number): number {
  return GRID_LOWER + (j + 0.5) * LOG_BIN;
}
