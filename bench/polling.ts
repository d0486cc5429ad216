/**
 * Polling simulation: jobs with known completion times, checked by a policy, counted.
 *
 * Jobs arrive over time (a Poisson stream, or all at once for a cold start) and run
 * concurrently; every check is an event on one clock. vidflow's policy is the real code
 * (functions/domain/poll-policy.ts): each check records what it saw in the job's history slot
 * (still running, or completed between two checks), as the check function does, and plans from
 * the history as a warm Lambda would see it (re-read at most once a minute, like the store's
 * cache). The optimum is the same dynamic programme given the true empirical distribution of
 * the jobs being scored, the same floor and check cost, and no cap: the best whole-second
 * schedule for that distribution, a lower bound for any schedule.
 */
import {
  type CompletionHistory,
  type CompletionObservation,
  DEFAULT_CHECK_COST_SECONDS,
  DEFAULT_TYPICAL_SECONDS,
  forecastCompletion,
  historySlotOf,
  type PollPolicySettings,
  planChecks,
  planFirstWait,
  planNextWait,
} from '../functions/domain/poll-policy.js';
import { createRandom, drawExponential, drawLogNormal, type Random } from '../local/emulator/random.js';
import { costUsd, jobUsage } from './cost-model.js';

/** One job's times: its completion time, and how long of it the provider kept it `queued`. */
export interface JobTimes {
  readonly totalSeconds: number;
  readonly queueSeconds: number;
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  /**
   * The times of job `index` of `count` (drift families change with the index); a bare number
   * is a completion time with no queue a check could see.
   */
  draw(random: Random, index: number, count: number): number | JobTimes;
}

/** A job queued for `queueSeconds`, then processed for `processingSeconds`. */
export function queuedThen(queueSeconds: number, processingSeconds: number): JobTimes {
  return { totalSeconds: queueSeconds + processingSeconds, queueSeconds };
}

/** The emulator's own model: exponential queue, mean 20 s, then log-normal processing, median 210 s, sigma 0.25. */
export const REFERENCE_WORKLOAD: Workload = {
  name: 'reference',
  description: 'queue ~ Exp(mean 20 s) + processing ~ LogNormal(median 210 s, sigma 0.25)',
  draw: (random) => queuedThen(drawExponential(random, 20), drawLogNormal(random, 210, 0.25)),
};

/** A workload with every time multiplied by `scale` (the local runtime's time scale). */
export function scaledWorkload(workload: Workload, scale: number): Workload {
  return {
    name: `${workload.name}x${scale}`,
    description: `${workload.description}, times x${scale}`,
    draw: (random, index, count) => {
      const times = timesOf(workload.draw(random, index, count));
      return { totalSeconds: times.totalSeconds * scale, queueSeconds: times.queueSeconds * scale };
    },
  };
}

export function drawJobs(workload: Workload, count: number, seed: number): JobTimes[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, (_, index) => timesOf(workload.draw(random, index, count)));
}

export function drawDurations(workload: Workload, count: number, seed: number): number[] {
  return drawJobs(workload, count, seed).map((times) => times.totalSeconds);
}

function timesOf(drawn: number | JobTimes): JobTimes {
  return typeof drawn === 'number' ? { totalSeconds: drawn, queueSeconds: 0 } : drawn;
}

// ------------------------------------------------------------------ policies

/** How a policy picks waits for one job, with what it knows now. */
export interface JobPoller {
  firstWait(elapsedSeconds: number): number;
  /** `queuedSeconds`: when a check last saw the job queued (undefined: none did). */
  nextWait(elapsedSeconds: number, pollCount: number, queuedSeconds?: number): number;
}

/** A policy over a stream of jobs. */
export interface SimPolicy {
  readonly name: string;
  readonly usesHistory: boolean;
  /** The poller at clock time `now` (what a check would read then). */
  pollerAt(now: number): JobPoller;
  /** What a check at `now` saw about job `index`. */
  observe?(index: number, observation: CompletionObservation, now: number): void;
  /** The ETA at clock time `now` for a job unfinished after `elapsedSeconds`: [median, p90] from submission. */
  forecast?(now: number, elapsedSeconds: number, queuedSeconds?: number): readonly [number, number];
}

export function fixedPolicy(name: string, intervalSeconds: number): SimPolicy {
  const poller: JobPoller = { firstWait: () => intervalSeconds, nextWait: () => intervalSeconds };
  return { name, usesHistory: false, pollerAt: () => poller };
}

/** Seconds a history read is reused (the DynamoDB store's cache in a warm Lambda). */
const HISTORY_CACHE_SECONDS = 5;
/** Epoch seconds of the simulation's clock zero (observations carry epoch times). */
const EPOCH = 1_800_000_000;

/**
 * vidflow's policy over one history: each observation goes to the job's slot; checks see the
 * history as it was at their last read (at most {@link HISTORY_CACHE_SECONDS} old).
 */
export function vidflowPolicy(
  settings: PollPolicySettings,
  deadlineSeconds: number,
  initial: CompletionHistory = { observations: [] },
): SimPolicy & { history(): CompletionHistory } {
  const slots = new Map<number, CompletionObservation>(initial.observations.map((o, i) => [i, o]));
  let version = 0;
  const simulationId = nextSimulationId();
  // The version names this simulation too: plans are memoised on it (a seeded history must not
  // meet the plan of another simulation's version 0).
  let snapshot: CompletionHistory = {
    observations: [...slots.values()],
    version: `sim-${simulationId}-${version}`,
  };
  let readAt = Number.NEGATIVE_INFINITY;
  let changed = false;
  const read = (now: number): CompletionHistory => {
    if (changed && now - readAt >= HISTORY_CACHE_SECONDS) {
      version += 1;
      snapshot = { observations: [...slots.values()], version: `sim-${simulationId}-${version}` };
      readAt = now;
      changed = false;
    }
    return snapshot;
  };
  return {
    name: 'vidflow',
    usesHistory: true,
    pollerAt: (now) => {
      const history = read(now);
      return {
        firstWait: (elapsedSeconds) => planFirstWait(history, settings, { elapsedSeconds, deadlineSeconds }),
        nextWait: (elapsedSeconds, pollCount, queuedSeconds) =>
          planNextWait(history, settings, {
            elapsedSeconds,
            pollCount,
            deadlineSeconds,
            ...(queuedSeconds === undefined ? {} : { queuedSeconds }),
          }),
      };
    },
    observe: (index, observation) => {
      slots.set(historySlotOf(`sim-${index}`), observation);
      changed = true;
    },
    forecast: (now, elapsedSeconds, queuedSeconds) => {
      const f = forecastCompletion(read(now), settings, {
        elapsedSeconds,
        deadlineSeconds,
        ...(queuedSeconds === undefined ? {} : { queuedSeconds }),
      });
      return [f.medianSeconds, f.p90Seconds];
    },
    history: () => ({ observations: [...slots.values()] }),
  };
}

let simulations = 0;
function nextSimulationId(): number {
  simulations += 1;
  return simulations;
}

/** `cdf[t]` = P(T <= t) of `durations` on whole seconds 0..`horizon` (the plan spreads a second's evenly). */
export function empiricalCdf(durations: readonly number[], horizon: number): Float64Array {
  const counts = new Float64Array(horizon + 1);
  for (const t of durations) {
    const second = Math.ceil(t);
    if (second <= horizon) counts[second] = (counts[second] ?? 0) + 1;
  }
  let running = 0;
  return counts.map((count) => {
    running += count;
    return running / durations.length;
  });
}

/** The optimal schedule for the distribution of `durations` (empirical), with the floor and no cap. */
export function optimalPolicy(
  durations: readonly number[],
  settings: Pick<PollPolicySettings, 'minWaitSeconds' | 'checkCostSeconds'>,
  deadlineSeconds: number,
): SimPolicy & { expectedCost: number } {
  const plan = planChecks(empiricalCdf(durations, Math.ceil(deadlineSeconds) - 1), settings);
  const at = (second: number): number => plan.nextCheckAt[Math.min(plan.horizonSeconds, second)] ?? -1;
  const poller: JobPoller = {
    firstWait: () => Math.max(settings.minWaitSeconds, at(0)),
    nextWait: (elapsed) => {
      const next = at(Math.floor(elapsed));
      return next < 0
        ? settings.minWaitSeconds
        : Math.max(settings.minWaitSeconds, next - Math.floor(elapsed));
    },
  };
  return { name: 'optimal', usesHistory: false, pollerAt: () => poller, expectedCost: plan.expectedCost };
}

// ------------------------------------------------------------------ the simulation

export interface JobOutcome {
  readonly polls: number;
  /** Seconds from completion to the check that saw it; NaN when the job timed out. */
  readonly lagSeconds: number;
  readonly timedOut: boolean;
  readonly durationSeconds: number;
  /** The ETA given at submission, seconds from submission: [median, p90]; absent for policies without one. */
  readonly firstEta?: readonly [number, number];
  /** Every ETA given while the job ran (submission and each unfinished check). */
  readonly etas?: readonly (readonly [number, number])[];
}

export interface StreamOptions {
  /** Submission time of each job, seconds on the simulation clock. */
  readonly arrivals: readonly number[];
  readonly deadlineSeconds: number;
  /** Time a check adds before the next wait starts (Lambda, state transitions). @default 0 */
  readonly loopSeconds?: number;
  /** Seconds each job stays `queued` (a check before it sees `queued`). @default none */
  readonly queueSeconds?: readonly number[];
}

/** Run a stream of jobs through a policy, every check in clock order. */
export function runStream(
  policy: SimPolicy,
  durations: readonly number[],
  options: StreamOptions,
): JobOutcome[] {
  const { deadlineSeconds } = options;
  const loop = options.loopSeconds ?? 0;
  const queue = new EventQueue();
  const polls = new Int32Array(durations.length);
  const previous = new Float64Array(durations.length);
  // When a check last saw each job queued (0: none did).
  const lastQueued = new Float64Array(durations.length);
  const etas: (readonly [number, number])[][] = durations.map(() => []);
  const outcomes: (JobOutcome | undefined)[] = durations.map(() => undefined);
  const submitted = durations.map((_, i) => options.arrivals[i] ?? 0);
  for (let i = 0; i < durations.length; i += 1) queue.push(submitted[i] ?? 0, i, -1);
  for (let event = queue.pop(); event !== undefined; event = queue.pop()) {
    const { time: now, index, kind } = event;
    const start = submitted[index] ?? 0;
    const duration = durations[index] ?? 0;
    const poller = policy.pollerAt(now);
    if (kind < 0) {
      if (policy.forecast !== undefined) etas[index]?.push(policy.forecast(now, 0));
      queue.push(now + poller.firstWait(0) + loop, index, 0);
      continue;
    }
    const elapsed = now - start;
    polls[index] = (polls[index] ?? 0) + 1;
    const count = polls[index] ?? 0;
    const jobEtas = etas[index] ?? [];
    const base = { polls: count, durationSeconds: duration, etas: jobEtas, ...firstOf(jobEtas) };
    if (elapsed >= deadlineSeconds) {
      outcomes[index] = { ...base, lagSeconds: Number.NaN, timedOut: true };
      continue;
    }
    const atSeconds = EPOCH + Math.round(now);
    if (elapsed < (options.queueSeconds?.[index] ?? 0)) lastQueued[index] = elapsed;
    const seenQueued = lastQueued[index] ?? 0;
    const queued = seenQueued > 0 ? { queuedSeconds: roundTenth(seenQueued) } : {};
    if (elapsed >= duration) {
      const after = count > 1 ? (previous[index] ?? 0) : 0;
      policy.observe?.(
        index,
        { afterSeconds: roundTenth(after), bySeconds: roundTenth(elapsed), atSeconds, ...queued },
        now,
      );
      outcomes[index] = { ...base, lagSeconds: elapsed - duration, timedOut: false };
      continue;
    }
    policy.observe?.(index, { afterSeconds: roundTenth(elapsed), atSeconds, ...queued }, now);
    previous[index] = elapsed;
    const queuedSeconds = seenQueued > 0 ? seenQueued : undefined;
    if (policy.forecast !== undefined) jobEtas.push(policy.forecast(now, elapsed, queuedSeconds));
    queue.push(now + poller.nextWait(elapsed, count, queuedSeconds) + loop, index, count);
  }
  return outcomes.map(
    (o, i) => o ?? { polls: 0, lagSeconds: Number.NaN, timedOut: true, durationSeconds: durations[i] ?? 0 },
  );
}

function firstOf(etas: readonly (readonly [number, number])[]): {
  readonly firstEta?: readonly [number, number];
} {
  const first = etas[0];
  return first === undefined ? {} : { firstEta: first };
}

/** Poisson arrivals, `meanGapSeconds` apart on average, from 0. */
export function poissonArrivals(count: number, meanGapSeconds: number, seed: number): number[] {
  const random = createRandom(seed);
  let now = 0;
  return Array.from({ length: count }, () => {
    now += drawExponential(random, meanGapSeconds);
    return now;
  });
}

/** A binary heap of check events by time (ties: submission order). */
class EventQueue {
  private readonly items: { time: number; index: number; kind: number; order: number }[] = [];
  private order = 0;

  push(time: number, index: number, kind: number): void {
    this.order += 1;
    const item = { time, index, kind, order: this.order };
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent];
      if (p === undefined || !before(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): { time: number; index: number; kind: number } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const l = items[left];
      const r = items[right];
      const child = r !== undefined && l !== undefined && before(r, l) ? right : left;
      const c = items[child];
      if (c === undefined || !before(c, last)) break;
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

function before(a: { time: number; order: number }, b: { time: number; order: number }): boolean {
  return a.time < b.time || (a.time === b.time && a.order < b.order);
}

function roundTenth(value: number): number {
  return Math.round(value * 10) / 10;
}

// ------------------------------------------------------------------ figures

export interface PollingFigures {
  readonly jobs: number;
  readonly pollsMean: number;
  readonly pollsP95: number;
  readonly lagMeanSeconds: number;
  readonly lagP95Seconds: number;
  readonly costPerJobUsd: number;
  /** Mean polls + mean lag / checkCostSeconds: what the policy minimises. */
  readonly objective: number;
  readonly timedOut: number;
  /** Share of jobs done by the P90 given at submission (NaN without ETAs). */
  readonly etaP90Coverage: number;
  /** The same over every ETA given (submission and each check). */
  readonly etaP90CoverageAllChecks: number;
  /** Median |completion - median ETA at submission|, seconds. */
  readonly etaMedianAbsErrorSeconds: number;
}

export function summarize(
  outcomes: readonly JobOutcome[],
  usesHistory: boolean,
  checkCostSeconds: number,
): PollingFigures {
  const polls = outcomes.map((o) => o.polls);
  const lags = outcomes.filter((o) => !o.timedOut).map((o) => o.lagSeconds);
  const pollsMean = mean(polls);
  const lagMean = mean(lags);
  const withEta = outcomes.filter((o) => o.firstEta !== undefined);
  const allEtas = outcomes.flatMap((o) => (o.etas ?? []).map((eta) => ({ eta, t: o.durationSeconds })));
  return {
    jobs: outcomes.length,
    pollsMean,
    pollsP95: quantile(polls, 0.95),
    lagMeanSeconds: lagMean,
    lagP95Seconds: quantile(lags, 0.95),
    costPerJobUsd: costUsd(jobUsage(pollsMean, usesHistory)),
    objective: pollsMean + lagMean / checkCostSeconds,
    timedOut: outcomes.length - lags.length,
    etaP90Coverage: mean(withEta.map((o) => (o.durationSeconds <= (o.firstEta?.[1] ?? 0) ? 1 : 0))),
    etaP90CoverageAllChecks: mean(allEtas.map(({ eta, t }) => (t <= eta[1] ? 1 : 0))),
    etaMedianAbsErrorSeconds: quantile(
      withEta.map((o) => Math.abs(o.durationSeconds - (o.firstEta?.[0] ?? 0))),
      0.5,
    ),
  };
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The q-quantile by the nearest-rank method. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** The policy settings vidflow runs with in AWS (the configuration's defaults). */
export const AWS_SETTINGS: PollPolicySettings = {
  minWaitSeconds: 5,
  maxWaitSeconds: 60,
  checkCostSeconds: DEFAULT_CHECK_COST_SECONDS,
  typicalSeconds: DEFAULT_TYPICAL_SECONDS,
};

export const DEFAULT_DEADLINE_SECONDS = 1800;
