import { describe, expect, it } from 'vitest';
import { JobStatus, MODEL } from '../../functions/domain/job.js';
import {
  type CompletionHistory,
  type CompletionHistoryStore,
  type CompletionObservation,
  EMPTY_HISTORY,
  forecastCompletion,
  type PollPolicySettings,
  planFirstWait,
} from '../../functions/domain/poll-policy.js';
import type { Logger } from '../../functions/domain/ports.js';
import { startPolling } from '../../functions/domain/submission.js';
import { aJob, T0 } from '../support/jobs.js';
import { createSubmitHarness } from '../support/submit-harness.js';

/** The harness's poll settings for a runway/gen4_aleph job (the catalog's typical time, 210 s). */
const POLICY: PollPolicySettings = {
  minWaitSeconds: 5,
  maxWaitSeconds: 60,
  checkCostSeconds: 4,
  typicalSeconds: 210,
};
const STATE = { elapsedSeconds: 0.3, deadlineSeconds: 1800 };
const at = (seconds: number) => new Date(Date.parse(T0) + Math.round(seconds * 1000)).toISOString();

/** Forty generations, each seen finishing between 195 s and 205 s. */
const NARROW: CompletionHistory = {
  observations: Array.from({ length: 40 }, () => ({ afterSeconds: 195, bySeconds: 205 })),
};

class MemoryHistoryStore implements CompletionHistoryStore {
  failReads = false;
  constructor(private readonly groups: Record<string, CompletionHistory>) {}
  async read(group: string): Promise<CompletionHistory> {
    if (this.failReads) throw new Error('DynamoDB is down');
    return this.groups[group] ?? { observations: [] };
  }
  async record(_group: string, _slot: number, _observation: CompletionObservation): Promise<void> {}
}

class RecordingLogger implements Logger {
  readonly warnings: string[] = [];
  debug() {}
  info() {}
  warn(message: string) {
    this.warnings.push(message);
  }
  error() {}
}

describe('the submission protocol: plan the first wait, then start the execution', () => {
  /** `null`: deps without a history store. */
  function setup(history: CompletionHistoryStore | null = new MemoryHistoryStore({ '1280:720': NARROW })) {
    const h = createSubmitHarness();
    const logger = new RecordingLogger();
    const deps = { ...h.deps, logger, ...(history === null ? {} : { history }) };
    // 0.3 s after the submission, as when the generation was just recorded.
    h.clock.advanceSeconds(0.3);
    return { ...h, deps, logger };
  }

  it("starts the execution with the policy's first wait for the job's frame size, and records its first ETA", async () => {
    const h = setup();
    const job = aJob({ status: JobStatus.submitted, pollCount: 0, executionArn: undefined });
    h.jobs.seed(job);

    await startPolling(h.deps, job);

    const wait = planFirstWait(NARROW, POLICY, STATE);
    expect(wait).toBeGreaterThan(150);
    expect(h.executions.started).toStrictEqual([
      { name: 'abcdefghij234567abcd', input: { jobId: 'abcdefghij234567abcd', waitSeconds: wait } },
    ]);
    const forecast = forecastCompletion(NARROW, POLICY, STATE);
    const recorded = h.jobs.require(job.jobId);
    expect(recorded.expectedCompletionAt).toBe(at(forecast.medianSeconds));
    expect(recorded.expectedCompletionP90At).toBe(at(forecast.p90Seconds));
  });

  it('keeps the ETA of a job a check has seen already (an execution started again)', async () => {
    const h = setup();
    const job = aJob({ pollCount: 2, executionArn: undefined, expectedCompletionAt: at(250) });
    h.jobs.seed(job);

    await startPolling(h.deps, job);

    expect(h.jobs.require(job.jobId).expectedCompletionAt).toBe(at(250));
  });

  it('plans on the prior (the typical time of the model) for a frame size without history', async () => {
    const h = setup();
    const job = aJob({
      executionArn: undefined,
      request: { model: MODEL, prompt: 'make it snow', frameSize: '960:960', duration: 5 },
    });
    h.jobs.seed(job);

    await startPolling(h.deps, job);

    expect(h.executions.started[0]?.input).toStrictEqual({
      jobId: 'abcdefghij234567abcd',
      waitSeconds: planFirstWait(EMPTY_HISTORY, POLICY, STATE),
    });
    expect(h.executions.started[0]?.input).not.toStrictEqual({
      jobId: 'abcdefghij234567abcd',
      waitSeconds: planFirstWait(NARROW, POLICY, STATE),
    });
  });

  it('plans on the prior, with a warning, when the history cannot be read', async () => {
    const store = new MemoryHistoryStore({ '1280:720': NARROW });
    store.failReads = true;
    const h = setup(store);
    const job = aJob({ executionArn: undefined });
    h.jobs.seed(job);

    await startPolling(h.deps, job);

    expect(h.executions.started[0]?.input).toStrictEqual({
      jobId: 'abcdefghij234567abcd',
      waitSeconds: planFirstWait(EMPTY_HISTORY, POLICY, STATE),
    });
    expect(h.logger.warnings).toStrictEqual(['completion history unreadable; polling on the prior']);
  });

  it('starts a job not submitted yet, or without a history store, with the configured first wait', async () => {
    const h = setup();
    const unsubmitted = aJob({ jobId: 'unsubmitted', submittedAt: undefined, executionArn: undefined });
    h.jobs.seed(unsubmitted);
    const deps = {
      ...h.deps,
      settings: { ...h.deps.settings, poll: { ...h.deps.settings.poll, initialWaitSeconds: 7 } },
    };
    const withoutHistory = setup(null);
    const job = aJob({ executionArn: undefined });
    withoutHistory.jobs.seed(job);

    await startPolling(deps, unsubmitted);
    await startPolling(withoutHistory.deps, job);

    expect(h.executions.started.map((s) => s.input)).toStrictEqual([
      { jobId: 'unsubmitted', waitSeconds: 7 },
    ]);
    expect(withoutHistory.executions.started.map((s) => s.input)).toStrictEqual([
      { jobId: 'abcdefghij234567abcd', waitSeconds: 60 },
    ]);
  });

  it('records the execution it started on the job', async () => {
    const h = setup();
    const job = aJob({ executionArn: undefined });
    h.jobs.seed(job);

    const started = await startPolling(h.deps, job);

    expect(started.executionArn).toBeDefined();
    expect(h.jobs.require(job.jobId).executionArn).toBe(started.executionArn);
  });
});
