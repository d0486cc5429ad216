/**
 * `npm run bench [-- --quick] [-- --json]`: every figure of issue 6 from one run.
 *
 * 1. polling: simulated policies on the reference and bimodal workloads (10,000 jobs each), then
 *    jobs through the local runtime with the time scale on, against the simulation;
 * 2. copy: finalize's streaming copy of a large output into local S3 vs a plain stream copy;
 * 3. overhead: upload -> provider POST and completion seen -> COMPLETED, from the runtime run;
 * 4. bundles: each function bundled like the stack, its size and module init time;
 * 5. scale: not measured: vidflow has no provider concurrency cap yet.
 *
 * `--quick` (under 2 minutes): 50 runtime jobs at time scale 0.1 instead of 100 at 0.2, a 256 MiB
 * copy instead of 1 GiB twice, 3 imports per bundle instead of 7.
 * Not part of `npm test`: nothing here is asserted, only printed.
 */
import { cpus, totalmem } from 'node:os';
import { type BundleFigures, runBundleBenchmark } from './bundles.js';
import { type CopyFigures, runCopyBenchmark } from './copy.js';
import { PRICES_USD } from './cost-model.js';
import {
  AWS_SETTINGS,
  BIMODAL_WORKLOAD,
  compareOnWorkload,
  DEFAULT_DEADLINE_SECONDS,
  OBJECTIVE_LAG_SECONDS_PER_POLL,
  POLICY_NAMES,
  type PollingFigures,
  REFERENCE_WORKLOAD,
  type WorkloadResult,
} from './polling.js';
import { type OverheadFigures, runValidation, type ValidationFigures } from './validation.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const json = args.has('--json');
const progress = (line: string) => {
  if (!json) process.stderr.write(`${line}\n`);
};

const SIM_JOBS = 10_000;
const started = performance.now();

progress('polling: simulating 10,000 jobs per workload...');
const workloads: WorkloadResult[] = [
  compareOnWorkload(REFERENCE_WORKLOAD, SIM_JOBS, 42),
  compareOnWorkload(BIMODAL_WORKLOAD, SIM_JOBS, 43),
];

progress(
  `polling: validating against the local runtime (${quick ? '50 jobs, time scale 0.1' : '100 jobs, time scale 0.2'})...`,
);
const { validation, overhead } = await runValidation(
  quick
    ? { jobs: 50, timeScale: 0.1, uploadIntervalMs: 250, seed: 6 }
    : { jobs: 100, timeScale: 0.2, uploadIntervalMs: 400, seed: 6 },
  progress,
);

const copyBytes = quick ? 256 * 1024 * 1024 : 1024 * 1024 * 1024;
progress(`copy: ${copyBytes / 1024 / 1024} MiB...`);
const copy = await runCopyBenchmark({ bytes: copyBytes, rounds: quick ? 1 : 2 });

progress('bundles: esbuild + fresh imports...');
const bundles = await runBundleBenchmark({ imports: quick ? 3 : 7 });

const result = {
  meta: {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    wallSeconds: 0,
    prices: PRICES_USD,
  },
  polling: {
    settings: { ...AWS_SETTINGS, deadlineSeconds: DEFAULT_DEADLINE_SECONDS },
    objective: `polls + lag / ${OBJECTIVE_LAG_SECONDS_PER_POLL} s`,
    ...Object.fromEntries(
      workloads.map((w) => [
        w.workload.name,
        { description: w.workload.description, jobs: w.jobs, ...roundFigures(w.figures) },
      ]),
    ),
    validation,
  },
  copy,
  overhead,
  bundles,
  scale: {
    measured: false,
    reason:
      'vidflow has no provider concurrency cap (configurable in-flight limit) yet, so "1,000 drops with a cap of 10" has nothing to measure',
    jobs: null,
    terminal: null,
    duplicates: null,
    maxInFlight: null,
    cap: null,
    wallRatio: null,
  },
  targets: {},
};
const reference = workloads[0]?.figures;
const targets = reference === undefined ? {} : evaluateTargets(reference, copy, bundles);
result.targets = targets;
result.meta.wallSeconds = Math.round((performance.now() - started) / 100) / 10;

if (json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  printTables(workloads, validation, overhead, copy, bundles, targets);
  process.stdout.write(`\nwall time ${result.meta.wallSeconds} s (${result.meta.mode})\n`);
}

// ------------------------------------------------------------------ helpers

function roundFigures(figures: WorkloadResult['figures']): Record<string, Record<string, number>> {
  return Object.fromEntries(
    POLICY_NAMES.map((name) => [
      name,
      Object.fromEntries(
        Object.entries(figures[name]).map(([key, value]) => [
          key,
          key === 'costPerJobUsd' ? sig(value, 4) : round(value, 3),
        ]),
      ),
    ]),
  );
}

function evaluateTargets(
  reference: Readonly<Record<string, PollingFigures>>,
  copyFigures: CopyFigures,
  bundleFigures: Readonly<Record<string, BundleFigures>>,
): Record<
  string,
  { readonly value: number | string; readonly target: string; readonly met: boolean | null }
> {
  const vidflow = reference.vidflow;
  const fixed10 = reference['fixed-10s'];
  const fixed30 = reference['fixed-30s'];
  const optimal = reference.optimal;
  if (vidflow === undefined || fixed10 === undefined || fixed30 === undefined || optimal === undefined)
    return {};
  const maxBundle = Math.max(...Object.values(bundleFigures).map((b) => b.bytes));
  const maxInit = Math.max(...Object.values(bundleFigures).map((b) => b.initMs));
  return {
    pollsVsFixed10: {
      value: round(vidflow.pollsMean / fixed10.pollsMean, 3),
      target: '<= 0.30',
      met: vidflow.pollsMean <= 0.3 * fixed10.pollsMean,
    },
    lagVsFixed30: {
      value: `${round(vidflow.lagMeanSeconds, 2)} s vs ${round(fixed30.lagMeanSeconds, 2)} s`,
      target: 'less',
      met: vidflow.lagMeanSeconds < fixed30.lagMeanSeconds,
    },
    objectiveVsOptimal: {
      value: round(vidflow.objective / optimal.objective, 3),
      target: '<= 1.15',
      met: vidflow.objective <= 1.15 * optimal.objective,
    },
    validationMaxRelativeError: {
      value: round(validation.maxRelativeError, 3),
      target: '<= 0.10',
      met: validation.maxRelativeError <= 0.1,
    },
    copyThroughputRatio: {
      value: round(copyFigures.throughputRatio, 3),
      target: '>= 0.8',
      met: copyFigures.throughputRatio >= 0.8,
    },
    copyPeakRssMiB: {
      value: round(copyFigures.peakRssMiB, 1),
      target: `< 200 (for 1 GiB; this run: ${copyFigures.bytes / 1024 / 1024} MiB)`,
      met: copyFigures.peakRssMiB < 200,
    },
    bundleBytes: { value: maxBundle, target: '< 1,000,000 each', met: maxBundle < 1_000_000 },
    bundleInitMs: { value: round(maxInit, 1), target: '< 200 each (median)', met: maxInit < 200 },
    scale: {
      value: 'not measured',
      target: '1000/1000 terminal, cap respected, wall ratio < 1.15',
      met: null,
    },
  };
}

function printTables(
  results: readonly WorkloadResult[],
  validationFigures: ValidationFigures,
  overheadFigures: OverheadFigures,
  copyFigures: CopyFigures,
  bundleFigures: Readonly<Record<string, BundleFigures>>,
  targetFigures: Record<
    string,
    { readonly value: number | string; readonly target: string; readonly met: boolean | null }
  >,
): void {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  for (const w of results) {
    out(`\nPolling, ${w.workload.name} workload (${w.jobs} jobs: ${w.workload.description})`);
    out(
      table(
        [
          'policy',
          'polls p50',
          'polls p95',
          'polls mean',
          'lag mean s',
          'lag p95 s',
          'transitions',
          'lambdas',
          'USD/job',
          'objective',
        ],
        POLICY_NAMES.map((name) => {
          const f = w.figures[name];
          return [
            name,
            String(f.pollsMedian),
            String(f.pollsP95),
            f.pollsMean.toFixed(2),
            f.lagMeanSeconds.toFixed(1),
            f.lagP95Seconds.toFixed(1),
            f.transitionsPerJob.toFixed(1),
            f.lambdaInvocationsPerJob.toFixed(1),
            f.costPerJobUsd.toFixed(6),
            f.objective.toFixed(3),
          ];
        }),
      ),
    );
  }
  const v = validationFigures;
  out(`\nValidation: ${v.completed}/${v.jobs} jobs through the local runtime at time scale ${v.timeScale}`);
  out(
    table(
      ['', 'polls mean', 'lag mean s'],
      [
        ['measured', v.measured.pollsMean.toFixed(3), v.measured.lagMeanSeconds.toFixed(3)],
        [
          'simulated, same completion times',
          v.simulatedPaired.pollsMean.toFixed(3),
          v.simulatedPaired.lagMeanSeconds.toFixed(3),
        ],
        [
          'simulated, 10,000 fresh draws',
          v.simulatedFresh.pollsMean.toFixed(3),
          v.simulatedFresh.lagMeanSeconds.toFixed(3),
        ],
      ],
    ),
  );
  out(
    `max relative error: ${(v.maxRelativeError * 100).toFixed(1)}% (fresh draws: ${(v.maxRelativeErrorFresh * 100).toFixed(1)}%)`,
  );
  out(`\nOverhead on the local runtime (${overheadFigures.jobs} jobs)`);
  out(
    table(
      ['', 'p50 ms', 'p95 ms'],
      [
        ['upload -> provider POST', String(overheadFigures.submitP50Ms), String(overheadFigures.submitP95Ms)],
        [
          'completion seen -> COMPLETED',
          String(overheadFigures.finalizeP50Ms),
          String(overheadFigures.finalizeP95Ms),
        ],
      ],
    ),
  );
  out(`\nCopy of ${copyFigures.bytes / 1024 / 1024} MiB into local S3`);
  out(
    table(
      ['', 'MiB/s', 'peak RSS MiB'],
      [
        [
          'finalize (fetcher + streamed PutObject)',
          copyFigures.finalizeMiBPerSecond.toFixed(1),
          copyFigures.peakRssMiB.toFixed(1),
        ],
        [
          'plain streamed PutObject',
          copyFigures.plainMiBPerSecond.toFixed(1),
          copyFigures.plainPeakRssMiB.toFixed(1),
        ],
      ],
    ),
  );
  out(`throughput ratio ${copyFigures.throughputRatio.toFixed(3)}`);
  out('\nBundles (as the stack builds them)');
  out(
    table(
      ['function', 'bytes', 'source map bytes', 'init ms (median)', 'init ms (min)'],
      Object.entries(bundleFigures).map(([name, b]) => [
        name,
        String(b.bytes),
        String(b.sourceMapBytes),
        b.initMs.toFixed(1),
        Math.min(...b.initMsRuns).toFixed(1),
      ]),
    ),
  );
  out('\nScale: not measured (no provider concurrency cap exists yet)');
  out('\nTargets');
  out(
    table(
      ['target', 'value', 'goal', 'met'],
      Object.entries(targetFigures).map(([name, t]) => [
        name,
        String(t.value),
        t.target,
        t.met === null ? 'n/a' : t.met ? 'yes' : 'NO',
      ]),
    ),
  );
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function sig(value: number, digits: number): number {
  return Number(value.toPrecision(digits));
}
