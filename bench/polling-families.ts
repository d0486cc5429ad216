/**
 * The polling policy on every workload family, each against the optimum for the policy's own
 * check cost (the optimum under the same weights), plus the ETA's calibration.
 *
 * - Stationary families: a Poisson stream of jobs (about 10 in flight), the policy learning
 *   from an empty history; the first {@link WARM_UP} jobs are its cold phase and left out of
 *   the steady-state figures (the cold start is measured on its own).
 * - Drift families: the same stream, the distribution switching at the middle; the second half
 *   is reported, against the optimum for the second half's durations.
 * - Cold start: 20 drops at once on an empty history, the prior the model catalog's typical
 *   time (as a new deployment starts), scored with a check worth 10 s, against the optimum for
 *   those 20 durations, averaged over {@link COLD_REPEATS} draws.
 */
import { drawExponential, drawLogNormal, type Random } from '../local/emulator/random.js';
import {
  AWS_SETTINGS,
  DEFAULT_DEADLINE_SECONDS,
  drawDurations,
  drawJobs,
  fixedPolicy,
  type JobOutcome,
  optimalPolicy,
  type PollingFigures,
  poissonArrivals,
  queuedThen,
  REFERENCE_WORKLOAD,
  runStream,
  type SimPolicy,
  summarize,
  vidflowPolicy,
  type Workload,
} from './polling.js';

/** A draw from LogNormal(median, sigma). */
export const lognormal = (median: number, sigma: number) => (random: Random) =>
  drawLogNormal(random, median, sigma);
const pick = <T>(random: Random, choices: readonly T[]): T =>
  choices[Math.floor(random() * choices.length)] as T;

/** The stationary families. */
export const STATIONARY: readonly Workload[] = [
  {
    name: 'short',
    description: 'queue ~ Exp(5 s) + LogNormal(45 s, 0.3)',
    draw: (r) => queuedThen(drawExponential(r, 5), drawLogNormal(r, 45, 0.3)),
  },
  REFERENCE_WORKLOAD,
  {
    name: 'heavy-tailed',
    description: 'queue ~ Exp(20 s) + LogNormal(180 s, 0.7)',
    draw: (r) => queuedThen(drawExponential(r, 20), drawLogNormal(r, 180, 0.7)),
  },
  {
    name: 'long',
    description: 'queue ~ Exp(30 s) + LogNormal(1100 s, 0.15) (deadline 1800 s)',
    draw: (r) => queuedThen(drawExponential(r, 30), drawLogNormal(r, 1100, 0.15)),
  },
  {
    name: 'two-peaks',
    description: 'queue ~ Exp(10 s) + 50% LogNormal(90 s, 0.1), 50% LogNormal(400 s, 0.1)',
    draw: (r) => queuedThen(drawExponential(r, 10), pick(r, [lognormal(90, 0.1), lognormal(400, 0.1)])(r)),
  },
  {
    name: 'three-peaks',
    description: 'LogNormal(60 s, 0.08), LogNormal(240 s, 0.08), LogNormal(900 s, 0.08), a third each',
    draw: (r) => pick(r, [lognormal(60, 0.08), lognormal(240, 0.08), lognormal(900, 0.08)])(r),
  },
  {
    name: 'queue-spikes',
    description: 'reference, 15% of jobs queued a further Uniform(300, 600) s',
    draw: (r) => {
      const queue = drawExponential(r, 20);
      const processing = drawLogNormal(r, 210, 0.25);
      return queuedThen(queue + (r() < 0.15 ? 300 + 300 * r() : 0), processing);
    },
  },
];

/** The drift families: the second half of the stream runs at another speed. */
export const DRIFTING: readonly Workload[] = [
  {
    name: 'slowdown',
    description: 'reference, processing median 210 s -> 420 s at the middle',
    draw: (r, i, n) => queuedThen(drawExponential(r, 20), drawLogNormal(r, i < n / 2 ? 210 : 420, 0.25)),
  },
  {
    name: 'speed-up',
    description: 'reference, processing median 210 s -> 105 s at the middle',
    draw: (r, i, n) => queuedThen(drawExponential(r, 20), drawLogNormal(r, i < n / 2 ? 210 : 105, 0.25)),
  },
];

const WARM_UP = 200;
const COLD_REPEATS = 30;
const COLD_DROPS = 20;
const COLD_CHECK_COST = 10;
/** Draws the distribution's optimal schedule is planned on. */
const DISTRIBUTION_DRAWS = 20_000;
/** Mean jobs in flight of the stationary stream. */
const IN_FLIGHT = 10;

export interface FamilyResult {
  readonly workload: Workload;
  readonly kind: 'stationary' | 'drift (second half)' | 'cold start (20 drops)';
  /** The prior's typical time the policy was configured with. */
  readonly typicalSeconds: number;
  readonly checkCostSeconds: number;
  readonly figures: Readonly<Record<'fixed-10s' | 'fixed-30s' | 'vidflow' | 'optimal', PollingFigures>>;
  /** vidflow's objective / the optimum's. */
  readonly ratio: number;
  /**
   * The schedule that is optimal for the workload's distribution (planned on 20,000 independent
   * draws), on the same scored jobs, and vidflow's objective over it. The optimum for the scored
   * jobs themselves knows their chance gaps (for 20 cold drops, each of them): no schedule
   * planned without knowing them gets there.
   */
  readonly distributionOptimal?: PollingFigures;
  readonly ratioToDistributionOptimal?: number;
}

/** A stationary or drifting family: `jobs` jobs in one stream, the scored ones from `scoreFrom`. */
export function runStreamFamily(
  workload: Workload,
  jobs: number,
  seed: number,
  drift: boolean,
): FamilyResult {
  const drawn = drawJobs(workload, jobs, seed);
  const durations = drawn.map((times) => times.totalSeconds);
  const queueSeconds = drawn.map((times) => times.queueSeconds);
  const meanDuration = durations.reduce((a, b) => a + b, 0) / durations.length;
  const arrivals = poissonArrivals(jobs, meanDuration / IN_FLIGHT, seed + 1);
  const scoreFrom = drift ? Math.floor(jobs / 2) : WARM_UP;
  const settings = AWS_SETTINGS;
  const scored = durations.slice(scoreFrom);
  const run = (policy: SimPolicy) =>
    summarize(
      runStream(policy, durations, {
        arrivals,
        deadlineSeconds: DEFAULT_DEADLINE_SECONDS,
        queueSeconds,
      }).slice(scoreFrom),
      policy.usesHistory,
      settings.checkCostSeconds,
    );
  const figures = {
    'fixed-10s': run(fixedPolicy('fixed-10s', 10)),
    'fixed-30s': run(fixedPolicy('fixed-30s', 30)),
    vidflow: run(vidflowPolicy(settings, DEFAULT_DEADLINE_SECONDS)),
    optimal: summarize(
      runStream(optimalPolicy(scored, settings, DEFAULT_DEADLINE_SECONDS), scored, {
        arrivals: arrivals.slice(scoreFrom),
        deadlineSeconds: DEFAULT_DEADLINE_SECONDS,
      }),
      false,
      settings.checkCostSeconds,
    ),
  };
  const distributionOptimal = summarize(
    runStream(distributionOptimum(workload, drift, seed), scored, {
      arrivals: arrivals.slice(scoreFrom),
      deadlineSeconds: DEFAULT_DEADLINE_SECONDS,
    }),
    false,
    settings.checkCostSeconds,
  );
  return {
    workload,
    kind: drift ? 'drift (second half)' : 'stationary',
    typicalSeconds: settings.typicalSeconds,
    checkCostSeconds: settings.checkCostSeconds,
    figures,
    ratio: figures.vidflow.objective / figures.optimal.objective,
    distributionOptimal,
    ratioToDistributionOptimal: figures.vidflow.objective / distributionOptimal.objective,
  };
}

/**
 * The schedule optimal for the workload's distribution (the second half's, for a drift),
 * planned on {@link DISTRIBUTION_DRAWS} draws independent of the scored jobs: the best any
 * schedule that does not know the scored jobs' own times can do. The optimum for the scored
 * jobs themselves also fits their sample's chance gaps (by 0.7% to 3.6% at 2,800 jobs).
 */
function distributionOptimum(workload: Workload, drift: boolean, seed: number) {
  const draws = drawDurations(workload, drift ? 2 * DISTRIBUTION_DRAWS : DISTRIBUTION_DRAWS, seed - 1);
  return optimalPolicy(
    drift ? draws.slice(DISTRIBUTION_DRAWS) : draws,
    AWS_SETTINGS,
    DEFAULT_DEADLINE_SECONDS,
  );
}

/**
 * Cold start: 20 drops at once on an empty history, a check worth 10 s, the prior's typical
 * time `typicalSeconds`; {@link COLD_REPEATS} draws, the figures over all of their jobs.
 */
export function runColdStart(workload: Workload, seed: number, typicalSeconds: number): FamilyResult {
  const settings = { ...AWS_SETTINGS, checkCostSeconds: COLD_CHECK_COST, typicalSeconds };
  const outcomes: Record<'fixed-10s' | 'fixed-30s' | 'vidflow' | 'optimal' | 'distribution', JobOutcome[]> = {
    'fixed-10s': [],
    'fixed-30s': [],
    vidflow: [],
    optimal: [],
    distribution: [],
  };
  const distribution = optimalPolicy(
    drawDurations(workload, 20_000, seed - 1),
    settings,
    DEFAULT_DEADLINE_SECONDS,
  );
  for (let repeat = 0; repeat < COLD_REPEATS; repeat += 1) {
    const drawn = drawJobs(workload, COLD_DROPS, seed + repeat);
    const durations = drawn.map((times) => times.totalSeconds);
    const options = {
      arrivals: durations.map(() => 0),
      deadlineSeconds: DEFAULT_DEADLINE_SECONDS,
      queueSeconds: drawn.map((times) => times.queueSeconds),
    };
    outcomes['fixed-10s'].push(...runStream(fixedPolicy('fixed-10s', 10), durations, options));
    outcomes['fixed-30s'].push(...runStream(fixedPolicy('fixed-30s', 30), durations, options));
    outcomes.vidflow.push(
      ...runStream(vidflowPolicy(settings, DEFAULT_DEADLINE_SECONDS), durations, options),
    );
    outcomes.optimal.push(
      ...runStream(optimalPolicy(durations, settings, DEFAULT_DEADLINE_SECONDS), durations, options),
    );
    outcomes.distribution.push(...runStream(distribution, durations, options));
  }
  const distributionOptimal = summarize(outcomes.distribution, false, COLD_CHECK_COST);
  const figures = {
    'fixed-10s': summarize(outcomes['fixed-10s'], false, COLD_CHECK_COST),
    'fixed-30s': summarize(outcomes['fixed-30s'], false, COLD_CHECK_COST),
    vidflow: summarize(outcomes.vidflow, true, COLD_CHECK_COST),
    optimal: summarize(outcomes.optimal, false, COLD_CHECK_COST),
  };
  return {
    workload,
    kind: 'cold start (20 drops)',
    typicalSeconds,
    checkCostSeconds: COLD_CHECK_COST,
    figures,
    ratio: figures.vidflow.objective / figures.optimal.objective,
    distributionOptimal,
    ratioToDistributionOptimal: figures.vidflow.objective / distributionOptimal.objective,
  };
}

export interface PollingReport {
  readonly stationary: readonly FamilyResult[];
  readonly drift: readonly FamilyResult[];
  /** Cold starts from the catalog's 210 s whatever the family. */
  readonly coldStart: readonly FamilyResult[];
  /** Cold starts from the typical time configured for the family ({@link configuredTypicalSeconds}). */
  readonly coldStartConfigured: readonly FamilyResult[];
  /** A full re-plan (estimate + plan) over the reference workload's histories: mean CPU time, and wall times. */
  readonly replanMs: {
    readonly cpuMean: number;
    readonly median: number;
    readonly p95: number;
    readonly max: number;
  };
}

/** Every family. `jobs` per stream (stationary and drift). */
export function runPollingFamilies(
  jobs: number,
  seed: number,
  progress: (line: string) => void,
): Omit<PollingReport, 'replanMs'> {
  const stationary = STATIONARY.map((w, i) => {
    progress(`polling: ${w.name}...`);
    return runStreamFamily(w, jobs, seed + 10 * i, false);
  });
  const drift = DRIFTING.map((w, i) => {
    progress(`polling: ${w.name}...`);
    return runStreamFamily(w, jobs, seed + 100 + 10 * i, true);
  });
  progress('polling: cold starts...');
  // Every family twice: with the prior the product starts from unless told otherwise (the model
  // catalog's typical time, runway/gen4_aleph's 210 s, whatever the family), and with the typical
  // time configured for the family's model (its median to 10 s, as a catalog entry or a
  // `typicalTimes` setting would give it).
  const coldStart = STATIONARY.map((w, i) =>
    runColdStart(w, seed + 300 + 50 * i, AWS_SETTINGS.typicalSeconds),
  );
  const coldStartConfigured = STATIONARY.map((w, i) =>
    runColdStart(w, seed + 300 + 50 * i, configuredTypicalSeconds(w, seed + 300 + 50 * i)),
  );
  return { stationary, drift, coldStart, coldStartConfigured };
}

/** The typical time a user or the catalog would configure for a workload's model: its median, to 10 s. */
export function configuredTypicalSeconds(workload: Workload, seed: number): number {
  const draws = drawDurations(workload, 2001, seed - 2).sort((a, b) => a - b);
  return Math.max(10, Math.round((draws[1000] ?? DEFAULT_DEADLINE_SECONDS) / 10) * 10);
}
