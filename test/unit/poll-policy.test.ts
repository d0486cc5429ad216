import { describe, expect, it } from 'vitest';
import { parseObservations } from '../../functions/adapters/completion-history-store.js';
import { type CheckDeps, checkGeneration } from '../../functions/domain/check-generation.js';
import { MODEL } from '../../functions/domain/job.js';
import {
  type CompletionHistory,
  type CompletionHistoryStore,
  type CompletionObservation,
  cdfOnGrid,
  EMPTY_HISTORY,
  estimateCompletion,
  historyGroupOf,
  historySlotOf,
  normalCdf,
  observeCompletion,
  type PollPolicySettings,
  planChecks,
  planFirstWait,
  planFor,
  planNextWait,
  pollStateOf,
} from '../../functions/domain/poll-policy.js';
import { silentLogger } from '../../functions/domain/ports.js';
import { FakeClock, FakeJobStore, FakeProvider } from '../support/fakes.js';
import { aJob, T0 } from '../support/jobs.js';

const AWS: PollPolicySettings = {
  minWaitSeconds: 5,
  maxWaitSeconds: 60,
  initialWaitSeconds: 60,
  checkCostSeconds: 4,
};
/** What the local runtime sets at its default time scale 0.05. */
const LOCAL: PollPolicySettings = {
  minWaitSeconds: 1,
  maxWaitSeconds: 2,
  initialWaitSeconds: 3,
  checkCostSeconds: 4,
};
const DEADLINE = 1800;

const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();
const repeat = (count: number, observation: CompletionObservation): CompletionHistory => ({
  observations: Array.from({ length: count }, () => observation),
});
/** Forty generations, each seen finishing between 195 s and 205 s. */
const NARROW = repeat(40, { afterSeconds: 195, bySeconds: 205 });

/** The checks a plan makes from submission, up to `count` of them. */
function checksOf(history: CompletionHistory, settings: PollPolicySettings, count: number): number[] {
  const { plan } = planFor(history, settings, DEADLINE);
  const checks: number[] = [];
  let second = 0;
  while (checks.length < count) {
    second = plan.nextCheckAt[second] ?? -1;
    if (second < 0) break;
    checks.push(second);
  }
  return checks;
}

class MemoryHistoryStore implements CompletionHistoryStore {
  readonly slots = new Map<string, Map<number, CompletionObservation>>();
  failReads = false;

  constructor(initial: Record<string, CompletionHistory> = {}) {
    for (const [frameSize, history] of Object.entries(initial)) {
      this.slots.set(frameSize, new Map(history.observations.map((o, i) => [i, o])));
    }
  }

  async read(frameSize: string): Promise<CompletionHistory> {
    if (this.failReads) throw new Error('DynamoDB is down');
    return { observations: [...(this.slots.get(frameSize)?.values() ?? [])] };
  }

  async record(frameSize: string, slot: number, observation: CompletionObservation): Promise<void> {
    const slots = this.slots.get(frameSize) ?? new Map<number, CompletionObservation>();
    slots.set(slot, observation);
    this.slots.set(frameSize, slots);
  }
}

describe('observeCompletion', () => {
  it('bounds a completion seen at the first check by the submission and that check', () => {
    const job = { submittedAt: T0, updatedAt: iso(0.05), pollCount: 0, providerStatus: 'queued' };

    expect(observeCompletion(job, at(187.34))).toStrictEqual({ afterSeconds: 0, bySeconds: 187.3 });
  });

  it('bounds a later completion by the previous check, the last update of the record', () => {
    const job = { submittedAt: T0, updatedAt: iso(170.26), pollCount: 3, providerStatus: 'generating' };

    expect(observeCompletion(job, at(187.34))).toStrictEqual({ afterSeconds: 170.3, bySeconds: 187.3 });
  });

  it('observes nothing on a rerun that already saw the completion, or without a submission time', () => {
    const seen = { submittedAt: T0, updatedAt: iso(180), pollCount: 4, providerStatus: 'completed' };
    const unsubmitted = { updatedAt: iso(180), pollCount: 0, providerStatus: 'queued' };

    expect(observeCompletion(seen, at(190))).toBeUndefined();
    expect(observeCompletion(unsubmitted, at(190))).toBeUndefined();
  });
});

describe('historySlotOf', () => {
  it('gives a job the same slot every time, within the capacity', () => {
    expect(historySlotOf('abcdefghij234567abcd')).toBe(29);
    expect(historySlotOf('abcdefghij234567abcd')).toBe(29);
    expect(historySlotOf('abcdefghij234567abcd', 7)).toBe(historySlotOf('abcdefghij234567abcd', 7));
  });

  it('spreads jobs over the slots like random picks would (70 of 100 slots for 100 jobs)', () => {
    const slots = Array.from({ length: 100 }, (_, i) => historySlotOf(`job-${i}`));

    expect(new Set(slots).size).toBe(70);
    expect(slots.every((slot) => Number.isInteger(slot) && slot >= 0 && slot < 100)).toBe(true);
  });
});

describe('planChecks', () => {
  const constraints = { minWaitSeconds: 5, maxWaitSeconds: 60, checkCostSeconds: 10 };

  it('checks once, right at a finish that is certain', () => {
    const cdf = Float64Array.from({ length: 201 }, (_, t) => (t >= 100 ? 1 : 0));

    const plan = planChecks(cdf, constraints);

    expect(plan.nextCheckAt[0]).toBe(100);
    // One check; the completion spread over (99, 100] waits 0.5 s on average: 0.05 checks' worth.
    expect(plan.expectedCost).toBeCloseTo(1.05, 12);
  });

  it('covers two possible finishes with the fewest checks the cap allows', () => {
    // Half finish at 50 s, half at 200 s; after 50 s no wait may exceed 60 s.
    const cdf = Float64Array.from({ length: 301 }, (_, t) => (t >= 200 ? 1 : t >= 50 ? 0.5 : 0));

    const plan = planChecks(cdf, constraints);

    expect([0, 50, 80, 140].map((s) => plan.nextCheckAt[s])).toStrictEqual([50, 80, 140, 200]);
    // 1 + 0.5 * 3 checks, plus 0.25 s of lag per finish over 10 s.
    expect(plan.expectedCost).toBeCloseTo(2.55, 12);
  });

  it('jumps straight from one finish to the other when the waits are not capped', () => {
    const cdf = Float64Array.from({ length: 301 }, (_, t) => (t >= 200 ? 1 : t >= 50 ? 0.5 : 0));

    const plan = planChecks(cdf, { ...constraints, maxWaitSeconds: 300 });

    expect([plan.nextCheckAt[0], plan.nextCheckAt[50]]).toStrictEqual([50, 200]);
    expect(plan.expectedCost).toBeCloseTo(1.55, 12);
  });

  it('never plans two checks closer than the floor, nor later ones further apart than the cap', () => {
    const cdf = Float64Array.from({ length: 401 }, (_, t) => Math.min(1, t / 400));

    const plan = planChecks(cdf, constraints);

    for (let s = 1; s < plan.nextCheckAt.length; s += 1) {
      const next = plan.nextCheckAt[s] ?? -1;
      if (next < 0) continue;
      expect(next - s).toBeGreaterThanOrEqual(5);
      expect(next - s).toBeLessThanOrEqual(60);
    }
  });

  it('marks the seconds after which no check fits before the horizon', () => {
    const plan = planChecks(new Float64Array(4), constraints);

    expect(Array.from(plan.nextCheckAt)).toStrictEqual([-1, -1, -1, -1]);
    expect(plan.expectedCost).toBe(1);
  });
});

describe('cdfOnGrid', () => {
  it('ends at the last second before the deadline, where a check can still see the completion', () => {
    const grid = cdfOnGrid({ learned: true, cdf: (t) => t / 1000 }, 30);

    expect(grid.length).toBe(30);
    expect(grid[29]).toBeCloseTo(0.029, 12);
  });

  it('ends early where the estimate leaves less than 1e-4 unfinished', () => {
    const grid = cdfOnGrid({ learned: true, cdf: (t) => (t >= 50 ? 1 : 0) }, DEADLINE);

    expect(grid.length).toBe(51);
  });
});

describe('estimateCompletion', () => {
  it('follows the prior, centred on 3.5 initial waits, with fewer than 5 observations', () => {
    const estimate = estimateCompletion(repeat(4, { afterSeconds: 195, bySeconds: 205 }), AWS);

    expect(estimate.learned).toBe(false);
    expect(estimate.cdf(210)).toBeCloseTo(0.5, 6);
    expect(estimate.cdf(0)).toBe(0);
  });

  it('centres a learned estimate on the observed intervals', () => {
    const estimate = estimateCompletion(NARROW, AWS);

    expect(estimate.learned).toBe(true);
    expect(estimate.cdf(200)).toBeCloseTo(0.5, 1);
    expect(estimate.cdf(150)).toBeLessThan(0.01);
    expect(estimate.cdf(260)).toBeGreaterThan(0.99);
  });

  it('puts completions seen at a first check just below it, in the shape of the rest, not back to zero', () => {
    const bounded = Array.from({ length: 30 }, (_, i) => ({
      afterSeconds: 170 + 2 * i,
      bySeconds: 175 + 2 * i,
    }));
    const atFirstCheck = Array.from({ length: 10 }, () => ({ afterSeconds: 0, bySeconds: 170 }));

    const estimate = estimateCompletion({ observations: [...bounded, ...atFirstCheck] }, AWS);

    // A quarter finished by the first check (10 of 40, plus the prior's and the kernels' share)...
    expect(estimate.cdf(170)).toBeCloseTo(0.26, 2);
    // ...nearly all of it within the 50 s before it.
    expect(estimate.cdf(120)).toBeLessThan(0.03);
  });

  it('ignores malformed observations', () => {
    const estimate = estimateCompletion(
      { observations: [...NARROW.observations, { afterSeconds: Number.NaN, bySeconds: 5 }] },
      AWS,
    );

    expect(estimate.cdf(200)).toBeCloseTo(estimateCompletion(NARROW, AWS).cdf(200), 12);
  });
});

describe('planFirstWait', () => {
  it('waits the configured initial wait while there is too little history', () => {
    expect(planFirstWait(EMPTY_HISTORY, AWS, { elapsedSeconds: 0, deadlineSeconds: DEADLINE })).toBe(60);
    expect(planFirstWait(EMPTY_HISTORY, LOCAL, { elapsedSeconds: 0, deadlineSeconds: DEADLINE })).toBe(3);
  });

  it('with history, waits until shortly before the likely finish', () => {
    expect(planFirstWait(NARROW, AWS, { elapsedSeconds: 0, deadlineSeconds: DEADLINE })).toBe(201);
    // Counted from submission: time already spent is taken off.
    expect(planFirstWait(NARROW, AWS, { elapsedSeconds: 0.7, deadlineSeconds: DEADLINE })).toBe(200);
  });

  it('continues the plan from now when its first check is already past (an execution restarted late)', () => {
    const state = { elapsedSeconds: 300, deadlineSeconds: DEADLINE };

    expect(planFirstWait(NARROW, AWS, state)).toBe(planNextWait(NARROW, AWS, { ...state, pollCount: 0 }));
    expect(planFirstWait(NARROW, AWS, state)).toBe(36);
  });

  it('never waits less than the floor, even with a deadline nearer than that', () => {
    expect(planFirstWait(NARROW, AWS, { elapsedSeconds: 0, deadlineSeconds: 3 })).toBe(5);
  });

  it('lands the initial wait before a deadline that comes first', () => {
    expect(planFirstWait(EMPTY_HISTORY, AWS, { elapsedSeconds: 0, deadlineSeconds: 40 })).toBe(39);
  });
});

describe('planNextWait', () => {
  const next = (elapsedSeconds: number, history: CompletionHistory = NARROW, settings = AWS) =>
    planNextWait(history, settings, { elapsedSeconds, pollCount: 2, deadlineSeconds: DEADLINE });

  it('checks at tightening intervals around the likely finish, then widens in the tail', () => {
    expect(checksOf(NARROW, AWS, 8)).toStrictEqual([201, 206, 211, 216, 240, 276, 312, 348]);
  });

  it('waits for the planned check from wherever the last check happened to be', () => {
    expect([190, 201, 206.4, 214, 260].map((elapsed) => next(elapsed))).toStrictEqual([11, 5, 5, 13, 36]);
  });

  it('never waits less than the floor', () => {
    expect(next(199.6)).toBe(5);
  });

  it('past the plan, waits the maximum, then only what is left before the deadline, never below the floor', () => {
    expect([1700, 1770, 1797, 1830].map((elapsed) => next(elapsed))).toStrictEqual([60, 30, 5, 5]);
  });

  it('keeps the waits after the first within the cap, even where completions are sparse', () => {
    const wide = {
      observations: Array.from({ length: 50 }, (_, i) => ({
        afterSeconds: 100 + 8 * i,
        bySeconds: 105 + 8 * i,
      })),
    };
    const checks = checksOf(wide, AWS, 30);
    const gaps = checks.slice(1).map((check, i) => check - (checks[i] ?? 0));

    expect(checks[0]).toBe(151);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(60);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5);
  });

  it('keeps a local runtime job (time scale 0.05) within seconds: waits of the local min and max', () => {
    expect([3, 5, 8, 12, 20].map((elapsed) => next(elapsed, EMPTY_HISTORY, LOCAL))).toStrictEqual([
      2, 2, 2, 2, 2,
    ]);
  });

  it('falls back to the floor doubled per check when the elapsed time is unknown', () => {
    const unknown = (pollCount: number) =>
      planNextWait(NARROW, AWS, { elapsedSeconds: Number.NaN, pollCount, deadlineSeconds: DEADLINE });

    expect([1, 2, 3, 4, 5].map(unknown)).toStrictEqual([5, 10, 20, 40, 60]);
  });
});

describe('pollStateOf', () => {
  it('measures from the submission to now and to the deadline', () => {
    const job = aJob({ pollCount: 3 });

    expect(pollStateOf(job, at(95.5))).toStrictEqual({
      elapsedSeconds: 95.5,
      pollCount: 3,
      deadlineSeconds: 1800,
    });
  });

  it('has no deadline when the record has none, and an unknown elapsed time without a submission', () => {
    const state = pollStateOf(aJob({ deadlineAt: undefined, submittedAt: undefined }), at(10));

    expect(state.deadlineSeconds).toBe(Number.POSITIVE_INFINITY);
    expect(state.elapsedSeconds).toBeNaN();
  });
});

describe('historyGroupOf', () => {
  it('keeps runway/gen4_aleph in its frame-size groups and gives every other model its own', () => {
    const aleph = { model: MODEL, prompt: 'snow', frameSize: '640:480', duration: 5 } as const;
    expect(historyGroupOf({ request: aleph })).toBe('640:480');
    expect(historyGroupOf({ request: undefined })).toBe('1280:720');
    const actTwo = { model: 'runway/act_two', fields: {}, videoField: 'reference' };
    expect(historyGroupOf({ request: actTwo })).toBe('runway/act_two@-');
    expect(historyGroupOf({ request: { ...actTwo, frameSize: '1280:720' } })).toBe('runway/act_two@1280:720');
  });
});

describe('checkGeneration with a history', () => {
  function setup(history: MemoryHistoryStore, elapsedSeconds: number, request = aJob().request) {
    const clock = new FakeClock(iso(elapsedSeconds));
    const jobs = new FakeJobStore(clock);
    const provider = new FakeProvider();
    jobs.seed(aJob({ pollCount: 2, updatedAt: iso(180), providerStatus: 'generating', request }));
    const deps: CheckDeps = {
      jobs,
      provider,
      clock,
      logger: silentLogger,
      history,
      settings: { minWaitSeconds: 5, maxWaitSeconds: 60, initialWaitSeconds: 60, checkCostSeconds: 4 },
    };
    return { provider, check: () => checkGeneration(deps, 'abcdefghij234567abcd') };
  }

  it("plans the next wait from the frame size's history", async () => {
    const h = setup(new MemoryHistoryStore({ '1280:720': NARROW }), 190);
    h.provider.scriptGet({ id: 'gen-42', status: 'generating' });

    await expect(h.check()).resolves.toStrictEqual({
      jobId: 'abcdefghij234567abcd',
      waitSeconds: 11,
      finished: false,
    });
  });

  it("records the completion it sees in the job's slot, bounded by the previous check", async () => {
    const history = new MemoryHistoryStore();
    const h = setup(history, 201.04);
    h.provider.scriptGet({ id: 'gen-42', status: 'completed', videoUrl: 'https://cdn.example/out.mp4' });

    await h.check();

    expect(history.slots.get('1280:720')).toStrictEqual(
      new Map([[historySlotOf('abcdefghij234567abcd'), { afterSeconds: 180, bySeconds: 201 }]]),
    );
  });

  it("records another model's completion in that model's history, not gen4_aleph's", async () => {
    const history = new MemoryHistoryStore();
    const request = {
      model: 'krea/krea-wan-14b/video-to-video',
      fields: { prompt: 'snow' },
      videoField: 'video_url',
    };
    const h = setup(history, 201.04, request);
    h.provider.scriptGet({ id: 'gen-42', status: 'completed', videoUrl: 'https://cdn.example/out.mp4' });

    await h.check();

    expect([...history.slots.keys()]).toStrictEqual(['krea/krea-wan-14b/video-to-video@-']);
  });
});

describe('parseObservations', () => {
  it('keeps well-formed [after, by] pairs of the stored map, in a stable order', () => {
    expect(
      parseObservations({ '3': [190, 200], '1': [0, 150.5], '9': ['x', 1], '4': [1, 2, 3], '7': [5, -1] }),
    ).toStrictEqual([
      { afterSeconds: 0, bySeconds: 150.5 },
      { afterSeconds: 190, bySeconds: 200 },
    ]);
    expect(parseObservations(undefined)).toStrictEqual([]);
  });
});

describe('normalCdf', () => {
  it('matches the standard normal table to 1e-7', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 7);
    expect(normalCdf(-1)).toBeCloseTo(0.1586553, 7);
  });
});
