/**
 * Polling simulation: jobs with known completion times, checked by a policy, counted.
 *
 * Policies: the provider's fixed 10 s loop, a fixed 30 s loop, vidflow's policy (the real code in
 * functions/domain/poll-policy.ts, learning from an empty history as jobs finish) and the optimal
 * whole-second schedule for the sample's true distribution (the same dynamic programme, given
 * the empirical distribution and no cap: a lower bound for any schedule with the 5 s floor).
 */
import {
  type CompletionHistory,
  type CompletionObservation,
  DEFAULT_CHECK_COST_SECONDS,
  DEFAULT_INITIAL_WAIT_SECONDS,
  historySlotOf,
  observeCompletion,
  type PollPolicySettings,
  planChecks,
  planFirstWait,
  planNextWait,
} from '../functions/domain/poll-policy.js';
import { createRandom, drawExponential, drawLogNormal, type Random } from '../local/emulator/random.js';
import { costUsd, jobUsage } from './cost-model.js';

export interface Workload {
  readonly name: string;
  readonly description: string;
  draw(random: Random): number;
}

/** The emulator's own model (and the reference): exponential queue, mean 20 s, then log-normal processing, median 210 s, sigma 0.25. */
export const REFERENCE_WORKLOAD: Workload = {
  name: 'reference',
  description: 'queue ~ Exp(mean 20 s) + processing ~ LogNormal(median 210 s, sigma 0.25)',
  draw: (random) => drawExponential(random, 20) + drawLogNormal(random, 210, 0.25),
};

/** Two regimes in one history: half the generations quick, half slow (a busy provider, heavier prompts). */
export const BIMODAL_WORKLOAD: Workload = {
  name: 'bimodal',
  description:
    'queue ~ Exp(mean 20 s) + processing ~ 50% LogNormal(median 90 s, sigma 0.2), 50% LogNormal(median 360 s, sigma 0.2)',
  draw: (random) =>
    drawExponential(random, 20) +
    (random() < 0.5 ? drawLogNormal(random, 90, 0.2) : drawLogNormal(random, 360, 0.2)),
};

/** A workload with every time multiplied by `scale` (the local runtime's time scale). */
export function scaledWorkload(workload: Workload, scale: number): Workload {
  return {
    name: `${workload.name}x${scale}`,
    description: `${workload.description}, times x${scale}`,
    draw: (random) => workload.draw(random) * scale,
  };
}

export function drawDurations(workload: Workload, count: number, seed: number): number[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, () => workload.draw(random));
}

/** How a policy picks waits for one job. */
export interface JobPoller {
  firstWait(elapsedSeconds: number): number;
  nextWait(elapsedSeconds: number, pollCount: number): number;
}

/** A policy across jobs: which poller job `index` gets, and what it learns when the job ends. */
export interface SimPolicy {
  readonly name: string;
  readonly usesHistory: boolean;
  pollerFor(index: number): JobPoller;
  /** Called once per finished job, with the bounds the checks saw. */
  learn?(index: number, observation: CompletionObservation): void;
  /** Called between batches of concurrently running jobs. */
  endBatch?(): void;
}

export function fixedPolicy(name: string, intervalSeconds: number): SimPolicy {
  const poller: JobPoller = { firstWait: () => intervalSeconds, nextWait: () => intervalSeconds };
  return { name, usesHistory: false, pollerFor: () => poller };
}

/**
 * vidflow's policy: the jobs of one batch share the history as it stood when the batch began
 * (they run concurrently); each finished job records its observation in its slot, as the check
 * function does.
 */
export function vidflowPolicy(
  settings: PollPolicySettings,
  deadlineSeconds: number,
  initial: CompletionHistory = { observations: [] },
): SimPolicy & { history(): CompletionHistory } {
  const slots = new Map<number, CompletionObservation>(initial.observations.map((o, i) => [i, o]));
  let snapshot: CompletionHistory = { observations: [...slots.values()] };
  return {
    name: 'vidflow',
    usesHistory: true,
    pollerFor: () => {
      const history = snapshot;
      return {
        firstWait: (elapsedSeconds) => planFirstWait(history, settings, { elapsedSeconds, deadlineSeconds }),
        nextWait: (elapsedSeconds, pollCount) =>
          planNextWait(history, settings, { elapsedSeconds, pollCount, deadlineSeconds }),
      };
    },
    learn: (index, observation) => slots.set(historySlotOf(`sim-${index}`), observation),
    endBatch: () => {
      snapshot = { observations: [...slots.values()] };
    },
    history: () => snapshot,
  };
}

/** The optimal schedule for the distribution of `durations` (empirical), with the floor and no cap. */
export function optimalPolicy(
  durations: readonly number[],
  settings: Pick<PollPolicySettings, 'minWaitSeconds' | 'checkCostSeconds'>,
  deadlineSeconds: number,
): SimPolicy & { expectedCost: number } {
  const horizon = Math.ceil(deadlineSeconds) - 1;
  const counts = new Float64Array(horizon + 1);
  for (const t of durations) {
    const second = Math.ceil(t);
    if (second <= horizon) counts[second] = (counts[second] ?? 0) + 1;
  }
  // cdf[t] = P(T <= t); within a second, the DP treats completions as spread evenly.
  const cdf = new Float64Array(horizon + 1);
  let running = 0;
  for (let t = 0; t <= horizon; t += 1) {
    running += counts[t] ?? 0;
    cdf[t] = running / durations.length;
  }
  const plan = planChecks(cdf, {
    minWaitSeconds: settings.minWaitSeconds,
    maxWaitSeconds: horizon,
    checkCostSeconds: settings.checkCostSeconds,
  });
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
  return { name: 'optimal', usesHistory: false, pollerFor: () => poller, expectedCost: plan.expectedCost };
}

export interface JobOutcome {
  readonly polls: number;
  /** Seconds from completion to the check that saw it; NaN when the job timed out. */
  readonly lagSeconds: number;
  readonly timedOut: boolean;
  readonly observation?: CompletionObservation;
}

/**
 * One job: wait, check, until a check at or after `durationSeconds` sees it completed.
 * @param loopSeconds time a check adds before the next wait starts (Lambda, state transitions).
 */
export function simulateJob(
  poller: JobPoller,
  durationSeconds: number,
  deadlineSeconds: number,
  loopSeconds = 0,
): JobOutcome {
  let elapsed = poller.firstWait(0) + loopSeconds;
  let polls = 0;
  let previous = 0;
  for (;;) {
    if (elapsed >= deadlineSeconds) return { polls: polls + 1, lagSeconds: Number.NaN, timedOut: true };
    polls += 1;
    if (elapsed >= durationSeconds) {
      const submittedAt = new Date(0).toISOString();
      const observation = observeCompletion(
        { submittedAt, updatedAt: new Date(previous * 1000).toISOString(), pollCount: polls - 1 },
        new Date(elapsed * 1000),
      );
      return {
        polls,
        lagSeconds: elapsed - durationSeconds,
        timedOut: false,
        ...(observation === undefined ? {} : { observation }),
      };
    }
    previous = elapsed;
    elapsed += poller.nextWait(elapsed, polls) + loopSeconds;
  }
}

export interface PolicyRun {
  readonly outcomes: readonly JobOutcome[];
}

/** Run every job through the policy, `batchSize` jobs at a time sharing what the policy knew. */
export function runPolicy(
  policy: SimPolicy,
  durations: readonly number[],
  deadlineSeconds: number,
  options: { readonly batchSize?: number; readonly loopSeconds?: number } = {},
): PolicyRun {
  const batchSize = options.batchSize ?? 100;
  const outcomes: JobOutcome[] = [];
  for (let start = 0; start < durations.length; start += batchSize) {
    const batch: { index: number; outcome: JobOutcome }[] = [];
    for (let index = start; index < Math.min(durations.length, start + batchSize); index += 1) {
      const outcome = simulateJob(
        policy.pollerFor(index),
        durations[index] ?? 0,
        deadlineSeconds,
        options.loopSeconds ?? 0,
      );
      batch.push({ index, outcome });
      outcomes.push(outcome);
    }
    for (const { index, outcome } of batch) {
      if (outcome.observation !== undefined) policy.learn?.(index, outcome.observation);
    }
    policy.endBatch?.();
  }
  return { outcomes };
}

export interface PollingFigures {
  readonly pollsMean: number;
  readonly pollsMedian: number;
  readonly pollsP95: number;
  readonly lagMeanSeconds: number;
  readonly lagP95Seconds: number;
  readonly transitionsPerJob: number;
  readonly lambdaInvocationsPerJob: number;
  readonly costPerJobUsd: number;
  /** Mean polls + mean lag / checkCostSeconds: what the policy minimises. */
  readonly objective: number;
  readonly timedOut: number;
}

export function summarize(run: PolicyRun, usesHistory: boolean, checkCostSeconds: number): PollingFigures {
  const polls = run.outcomes.map((o) => o.polls);
  const lags = run.outcomes.filter((o) => !o.timedOut).map((o) => o.lagSeconds);
  const pollsMean = mean(polls);
  const lagMean = mean(lags);
  const usage = jobUsage(pollsMean, usesHistory);
  return {
    pollsMean,
    pollsMedian: quantile(polls, 0.5),
    pollsP95: quantile(polls, 0.95),
    lagMeanSeconds: lagMean,
    lagP95Seconds: quantile(lags, 0.95),
    transitionsPerJob: usage.transitions,
    lambdaInvocationsPerJob: usage.lambdaRequests,
    costPerJobUsd: costUsd(usage),
    objective: pollsMean + lagMean / checkCostSeconds,
    timedOut: run.outcomes.length - lags.length,
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
  initialWaitSeconds: DEFAULT_INITIAL_WAIT_SECONDS,
  checkCostSeconds: DEFAULT_CHECK_COST_SECONDS,
};

/** The objective: polls + lag / 10 s. The optimal schedule minimises exactly this. */
export const OBJECTIVE_LAG_SECONDS_PER_POLL = 10;

export const DEFAULT_DEADLINE_SECONDS = 1800;

export const POLICY_NAMES = ['fixed-10s', 'fixed-30s', 'vidflow', 'optimal', 'vidflow-cost10'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface WorkloadResult {
  readonly workload: Workload;
  readonly jobs: number;
  readonly figures: Readonly<Record<PolicyName, PollingFigures>>;
}

/**
 * All policies on `count` jobs of a workload: the four of the issue, plus vidflow configured to
 * weigh a check as 10 s of lag (the objective itself) for comparison.
 */
export function compareOnWorkload(
  workload: Workload,
  count: number,
  seed: number,
  settings: PollPolicySettings = AWS_SETTINGS,
  deadlineSeconds = DEFAULT_DEADLINE_SECONDS,
): WorkloadResult {
  const durations = drawDurations(workload, count, seed);
  const objective = OBJECTIVE_LAG_SECONDS_PER_POLL;
  const figuresOf = (policy: SimPolicy) =>
    summarize(runPolicy(policy, durations, deadlineSeconds), policy.usesHistory, objective);
  return {
    workload,
    jobs: count,
    figures: {
      'fixed-10s': figuresOf(fixedPolicy('fixed-10s', 10)),
      'fixed-30s': figuresOf(fixedPolicy('fixed-30s', 30)),
      vidflow: figuresOf(vidflowPolicy(settings, deadlineSeconds)),
      optimal: figuresOf(
        optimalPolicy(
          durations,
          { minWaitSeconds: settings.minWaitSeconds, checkCostSeconds: objective },
          deadlineSeconds,
        ),
      ),
      'vidflow-cost10': figuresOf(
        vidflowPolicy({ ...settings, checkCostSeconds: objective }, deadlineSeconds),
      ),
    },
  };
}
