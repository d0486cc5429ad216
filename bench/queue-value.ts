/**
 * What the provider's `queued` vs `generating` state could be worth to the polling policy, at
 * most (a diagnostic, not part of `npm run bench`; docs/polling.md section 6): the expected
 * objective (checks + lag / 4 s) of the optimal schedule for the total time (queue + processing),
 * against the mean over queue times of the optimal schedule *given* the moment the job left the
 * queue, as if that moment were known for free. In practice it is seen only by a check, to within
 * two checks, so the real gain is below this bound.
 * Run: `npx tsx bench/queue-value.ts`.
 */
import { planChecks } from '../functions/domain/check-plan.js';
import { createRandom, drawExponential, drawLogNormal, type Random } from '../local/emulator/random.js';

const HORIZON = 1799;
const SETTINGS = { minWaitSeconds: 5, checkCostSeconds: 4 };
const DRAWS = 20_000;
const QUEUE_DRAWS = 300;

/** The empirical CDF of `samples` on whole seconds up to the horizon. */
function cdfOf(samples: readonly number[]): Float64Array {
  const cdf = new Float64Array(HORIZON + 1);
  for (const t of samples) {
    const second = Math.ceil(t);
    if (second <= HORIZON) cdf[second] = (cdf[second] ?? 0) + 1;
  }
  let running = 0;
  for (let t = 0; t <= HORIZON; t += 1) {
    running += cdf[t] ?? 0;
    cdf[t] = running / samples.length;
  }
  return cdf;
}

const random = createRandom(11);
const families: Record<string, { queue: (r: Random) => number; processing: (r: Random) => number }> = {
  reference: { queue: (r) => drawExponential(r, 20), processing: (r) => drawLogNormal(r, 210, 0.25) },
  short: { queue: (r) => drawExponential(r, 5), processing: (r) => drawLogNormal(r, 45, 0.3) },
  'queue-spikes': {
    queue: (r) => drawExponential(r, 20) + (r() < 0.15 ? 300 + 300 * r() : 0),
    processing: (r) => drawLogNormal(r, 210, 0.25),
  },
};

for (const [name, family] of Object.entries(families)) {
  const processing = Array.from({ length: DRAWS }, () => family.processing(random));
  const total = processing.map((p) => p + family.queue(random));
  const unknown = planChecks(cdfOf(total), SETTINGS).expectedCost;
  let known = 0;
  for (let i = 0; i < QUEUE_DRAWS; i += 1) {
    const queue = family.queue(random);
    known += planChecks(cdfOf(processing.map((p) => p + queue)), SETTINGS).expectedCost;
  }
  known /= QUEUE_DRAWS;
  console.log(
    `${name}: queue exit unknown ${unknown.toFixed(3)}, known for free ${known.toFixed(3)}: at most ${((1 - known / unknown) * 100).toFixed(1)}% saved`,
  );
}
