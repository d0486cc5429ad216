/**
 * Where the policy's gap to the optimum comes from (a diagnostic, not part of `npm run bench`):
 * per stationary family, the objective over the same scored jobs of
 * - `optimum`: the DP schedule for the scored jobs' own distribution (the bench's reference);
 * - `true-plan`: the DP schedule for the true distribution (20,000 fresh draws): what the
 *   best estimate could achieve (planning error only, no estimation error);
 * - `exact-N`: the policy's plan on a frozen history of N exact completion times (the density
 *   estimate's error from N points, no censoring by checks);
 * - `vidflow`: the policy learning from its own checks (the bench's figure).
 * Run: `npx tsx bench/diagnose-polling.ts [jobs] [seed]`.
 */

import {
  AWS_SETTINGS,
  DEFAULT_DEADLINE_SECONDS,
  drawDurations,
  optimalPolicy,
  poissonArrivals,
  runStream,
  type SimPolicy,
  summarize,
  vidflowPolicy,
} from './polling.js';
import { STATIONARY } from './polling-families.js';

const jobs = Number(process.argv[2] ?? 2000);
const seed = Number(process.argv[3] ?? 7);
const settings = AWS_SETTINGS;
const deadline = DEFAULT_DEADLINE_SECONDS;

function frozen(durations: readonly number[]): SimPolicy {
  const policy = vidflowPolicy(settings, deadline, {
    observations: durations.map((t, i) => ({
      afterSeconds: Math.max(0.1, t - 0.5),
      bySeconds: t,
      atSeconds: 1_800_000_000 + i * 10_000 + Math.round(t),
    })),
  });
  return { name: 'frozen', usesHistory: false, pollerAt: (now) => policy.pollerAt(now) };
}

for (const [i, workload] of STATIONARY.entries()) {
  const durations = drawDurations(workload, jobs, seed + 10 * i);
  const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
  const arrivals = poissonArrivals(jobs, mean / 10, seed + 1);
  const scoreFrom = 200;
  const scored = durations.slice(scoreFrom);
  const options = { arrivals: arrivals.slice(scoreFrom), deadlineSeconds: deadline };
  const objective = (policy: SimPolicy) =>
    summarize(runStream(policy, scored, options), false, settings.checkCostSeconds).objective;
  const optimum = objective(optimalPolicy(scored, settings, deadline));
  const fresh = drawDurations(workload, 20_000, seed + 5000 + i);
  const row: Record<string, string> = { family: workload.name };
  row['true-plan'] = (objective(optimalPolicy(fresh, settings, deadline)) / optimum).toFixed(3);
  for (const n of [100, 300, 1000])
    row[`exact-${n}`] = (objective(frozen(fresh.slice(0, n))) / optimum).toFixed(3);
  const learning = summarize(
    runStream(vidflowPolicy(settings, deadline), durations, { arrivals, deadlineSeconds: deadline }).slice(
      scoreFrom,
    ),
    true,
    settings.checkCostSeconds,
  ).objective;
  row.vidflow = (learning / optimum).toFixed(3);
  console.log(JSON.stringify(row));
}
