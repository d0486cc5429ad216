/**
 * Section 1 of the bench: the polling families (polling-families.ts), the cost of a re-plan,
 * and their tables and targets.
 */
import { planFor } from '../functions/domain/poll-policy.js';
import {
  AWS_SETTINGS,
  DEFAULT_DEADLINE_SECONDS,
  drawDurations,
  type PollingFigures,
  poissonArrivals,
  quantile,
  REFERENCE_WORKLOAD,
  runStream,
  vidflowPolicy,
} from './polling.js';
import { type FamilyResult, type PollingReport, runPollingFamilies } from './polling-families.js';

/** Every family (`jobs` per stream) and the re-plan cost. */
export function runPollingSection(
  jobs: number,
  progress: (line: string) => void,
  seed = DEFAULT_SEED,
): PollingReport {
  // First, while the heap is small: the simulations' garbage would be collected on its time.
  progress('polling: re-plan cost...');
  const replanMs = measureReplan();
  return { ...runPollingFamilies(jobs, seed, progress), replanMs };
}

/** The seed of the families' draws unless `--seed` says otherwise. */
export const DEFAULT_SEED = 42;

/**
 * A full re-plan (estimate + plan, nothing memoised) on 300 histories as the reference stream
 * leaves them (100 slots, about 10 of them in flight), each a new version.
 */
export function measureReplan(): PollingReport['replanMs'] {
  const durations = drawDurations(REFERENCE_WORKLOAD, 600, 5);
  const learner = vidflowPolicy(AWS_SETTINGS, DEFAULT_DEADLINE_SECONDS);
  runStream(learner, durations, {
    arrivals: poissonArrivals(600, 23, 6),
    deadlineSeconds: DEFAULT_DEADLINE_SECONDS,
  });
  const base = learner.history().observations;
  const replan = (round: number) =>
    planFor(
      {
        observations: base.map((o, i) =>
          i === round % base.length ? { ...o, afterSeconds: o.afterSeconds + 0.1 } : o,
        ),
        version: `replan-${round}`,
      },
      AWS_SETTINGS,
      DEFAULT_DEADLINE_SECONDS,
    );
  for (let round = 0; round < 20; round += 1) replan(-1 - round);
  const times: number[] = [];
  const cpu = process.cpuUsage();
  for (let round = 0; round < 300; round += 1) {
    const started = performance.now();
    replan(round);
    times.push(performance.now() - started);
  }
  const used = process.cpuUsage(cpu);
  return {
    cpuMean: round3((used.user + used.system) / 1000 / 300),
    median: round3(quantile(times, 0.5)),
    p95: round3(quantile(times, 0.95)),
    max: round3(Math.max(...times)),
  };
}

const POLICIES = ['fixed-10s', 'fixed-30s', 'vidflow', 'optimal'] as const;

/** The section's tables, as text lines. */
export function pollingTables(report: PollingReport): string[] {
  const lines: string[] = [];
  const groups: [string, readonly FamilyResult[]][] = [
    [
      `Stationary families (steady state; a check worth ${AWS_SETTINGS.checkCostSeconds} s of lag)`,
      report.stationary,
    ],
    ['Drift (second half of the stream)', report.drift],
    [
      'Cold start: 20 drops at once, empty history, a check worth 10 s, the catalog prior (210 s)',
      report.coldStart,
    ],
    [
      "Cold start: the same, the prior the family's configured typical time (its median to 10 s)",
      report.coldStartConfigured,
    ],
  ];
  for (const [title, results] of groups) {
    lines.push('', title);
    lines.push(
      table(
        [
          'family',
          'prior s',
          'policy',
          'polls',
          'polls p95',
          'lag s',
          'lag p95 s',
          'objective',
          'x optimum',
          'P90 cover',
          'ETA MAE s',
        ],
        results.flatMap((r) =>
          POLICIES.map((name) => {
            const f = r.figures[name];
            return [
              name === 'fixed-10s' ? r.workload.name : '',
              name === 'fixed-10s' ? String(r.typicalSeconds) : '',
              name,
              f.pollsMean.toFixed(2),
              String(f.pollsP95),
              f.lagMeanSeconds.toFixed(1),
              f.lagP95Seconds.toFixed(1),
              f.objective.toFixed(3),
              (f.objective / r.figures.optimal.objective).toFixed(3),
              name === 'vidflow' ? f.etaP90Coverage.toFixed(3) : '',
              name === 'vidflow' ? f.etaMedianAbsErrorSeconds.toFixed(1) : '',
            ];
          }),
        ),
      ),
    );
  }
  lines.push(
    '',
    'Against the schedule optimal for the distribution (planned on 20,000 independent draws, run on the same jobs)',
  );
  lines.push(
    table(
      ['family', 'kind', 'prior s', 'vidflow', 'distribution optimum', 'ratio'],
      [...report.stationary, ...report.drift, ...report.coldStart, ...report.coldStartConfigured].map((r) => [
        r.workload.name,
        r.kind,
        String(r.typicalSeconds),
        r.figures.vidflow.objective.toFixed(3),
        (r.distributionOptimal?.objective ?? Number.NaN).toFixed(3),
        (r.ratioToDistributionOptimal ?? Number.NaN).toFixed(3),
      ]),
    ),
  );
  const c = report.replanMs;
  lines.push(
    '',
    `Re-plan (estimate + plan, reference history): ${c.cpuMean} ms CPU on average; wall median ${c.median} ms, p95 ${c.p95} ms, max ${c.max} ms`,
  );
  return lines;
}

/** The issue's targets on this report. */
export function pollingTargets(
  report: PollingReport,
): Record<string, { value: string; target: string; met: boolean }> {
  const coverage = report.stationary.map((r) => r.figures.vidflow.etaP90Coverage);
  const reference = report.stationary.find((r) => r.workload.name === 'reference');
  // The closest any fixed loop comes to vidflow, over the stationary families.
  const closestFixed = Math.min(
    ...report.stationary.flatMap((r) => [
      r.figures['fixed-10s'].objective / r.figures.vidflow.objective,
      r.figures['fixed-30s'].objective / r.figures.vidflow.objective,
    ]),
  );
  const figure = (r: FamilyResult | undefined, f: (x: FamilyResult) => PollingFigures) =>
    r === undefined ? Number.NaN : f(r).lagMeanSeconds;
  return {
    stationaryVsOptimum: ratioTarget(report.stationary, scored, 1.05),
    stationaryVsDistributionOptimum: ratioTarget(
      report.stationary,
      distribution,
      1.05,
      ' (the same target against the optimum for the distribution)',
    ),
    driftSecondHalfVsOptimum: ratioTarget(report.drift, scored, 1.1),
    coldStartVsOptimum: ratioTarget(report.coldStart, scored, 1.25, '', true),
    coldStartVsDistributionOptimum: ratioTarget(
      report.coldStart,
      distribution,
      1.25,
      ' (against the optimum for the distribution, not for the 20 drops)',
    ),
    coldStartConfiguredVsDistributionOptimum: ratioTarget(
      report.coldStartConfigured,
      distribution,
      1.25,
      " (the family's typical time configured; against the optimum for the distribution)",
      true,
    ),
    fixedLoopsBehind: {
      value: `the closest fixed loop costs ${closestFixed.toFixed(2)}x vidflow's objective`,
      target: 'far behind (>= 1.1x on every family)',
      met: closestFixed >= 1.1,
    },
    referenceLagBelowFixed30: {
      value: `${figure(reference, (r) => r.figures.vidflow).toFixed(1)} s vs ${figure(reference, (r) => r.figures['fixed-30s']).toFixed(1)} s`,
      target: 'less',
      met: figure(reference, (r) => r.figures.vidflow) < figure(reference, (r) => r.figures['fixed-30s']),
    },
    etaCalibration: {
      value: coverage.map((c) => c.toFixed(3)).join(', '),
      target: '0.90 +- 0.03 each',
      met: coverage.every((c) => Math.abs(c - 0.9) <= 0.03),
    },
    replanMs: {
      value: `${report.replanMs.cpuMean} ms CPU on average (wall median ${report.replanMs.median} ms)`,
      target: '< 1 ms',
      met: report.replanMs.cpuMean < 1,
    },
  };
}

/** vidflow's objective against the scored jobs' optimum, and against the distribution's. */
const scored = (r: FamilyResult) => r.ratio;
const distribution = (r: FamilyResult) => r.ratioToDistributionOptimal ?? Number.NaN;

/**
 * A "within `limit`x on every family" target: each family's ratio (named with its prior's typical
 * time when `withPrior`), met when none is above the limit.
 */
function ratioTarget(
  results: readonly FamilyResult[],
  ratioOf: (r: FamilyResult) => number,
  limit: number,
  note = '',
  withPrior = false,
): { value: string; target: string; met: boolean } {
  return {
    value: results
      .map((r) => `${r.workload.name}${withPrior ? `@${r.typicalSeconds}` : ''} ${ratioOf(r).toFixed(3)}`)
      .join(', '),
    target: `<= ${limit.toFixed(2)} each${note}`,
    met: results.every((r) => ratioOf(r) <= limit),
  };
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i <= 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
