import { describe, expect, it } from 'vitest';
import { parseObservations } from '../../functions/adapters/completion-history-store.js';
import { type CheckDeps, checkGeneration } from '../../functions/domain/check-generation.js';
import { MODEL } from '../../functions/domain/job.js';
import {
  type CompletionHistory,
  type CompletionHistoryStore,
  type CompletionObservation,
  cdfOnGrid,
  conditionalQuantile,
  EMPTY_HISTORY,
  estimateCompletion,
  etaOf,
  forecastCompletion,
  historyGroupOf,
  historySlotOf,
  observeCompletion,
  type PollPolicySettings,
  planChecks,
  planFirstWait,
  planFor,
  planNextWait,
  pollStateOf,
  typicalSecondsOf,
} from '../../functions/domain/poll-policy.js';
import { silentLogger } from '../../functions/domain/ports.js';
import { logRankScore, newestRegimeLength } from '../../functions/domain/regime-shift.js';
import { createRandom, drawLogNormal } from '../../local/emulator/random.js';
import { FakeClock, FakeJobStore, FakeProvider } from '../support/fakes.js';
import { aJob, POLL_SETTINGS, T0 } from '../support/jobs.js';

const AWS: PollPolicySettings = {
  minWaitSeconds: 5,
  maxWaitSeconds: 60,
  checkCostSeconds: 4,
  typicalSeconds: 210,
};
const DEADLINE = 1800;

const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();
/**
 * `count` generations seen finishing in narrow intervals around log-normal times, submitted 10 s
 * apart from `atFrom` (each stamped when its completion was seen).
 */
function sampled(
  count: number,
  median: number,
  sigma: number,
  seed: number,
  atFrom = 0,
): CompletionObservation[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const t = drawLogNormal(random, median, sigma);
    const bySeconds = Math.round((t + 2) * 10) / 10;
    return {
      afterSeconds: Math.round((t - 3) * 10) / 10,
      bySeconds,
      atSeconds: Math.round(atFrom + 10 * i + bySeconds),
    };
  });
}
/** Forty generations around 200 s. */
const NARROW: CompletionHistory = { observations: sampled(40, 200, 0.05, 1) };

/** The checks a plan makes from submission, up to `count` of them. */
function checksOf(
  history: CompletionHistory,
  settings: PollPolicySettings,
  count: number,
  deadline = DEADLINE,
): number[] {
  const { plan } = planFor(history, settings, deadline);
  const checks: number[] = [];
  let second = 0;
  while (checks.length < count) {
    second = plan.nextCheckAt[second] ?? -1;
    if (second < 0) break;
    checks.push(second);
  }
  return checks;
}

/** The plan's objective by brute force over every next check (O(H^2)), for comparison. */
function bruteForceCost(cdf: Float64Array, minWait: number, cost: number): number {
  const h = cdf.length - 1;
  const area = new Float64Array(h + 1);
  for (let t = 1; t <= h; t += 1) area[t] = (area[t - 1] ?? 0) + ((cdf[t - 1] ?? 0) + (cdf[t] ?? 0)) / 2;
  const value = new Float64Array(h + 1);
  for (let s = h; s >= 0; s -= 1) {
    const fs = cdf[s] ?? 1;
    let best = Number.POSITIVE_INFINITY;
    for (let u = s + minWait; u <= h; u += 1)
      best = Math.min(best, ((area[u] ?? 0) - (area[s] ?? 0) - (u - s) * fs) / cost + (value[u] ?? 0));
    value[s] = 1 - fs + (Number.isFinite(best) ? best : 0);
  }
  return value[0] ?? 0;
}

class MemoryHistoryStore implements CompletionHistoryStore {
  readonly slots = new Map<string, Map<number, CompletionObservation>>();
  failReads = false;

  constructor(initial: Record<string, CompletionHistory> = {}) {
    for (const [frameSize, history] of Object.entries(initial)) {
      this.slots.set(frameSize, new Map(history.observations.map((o, i) => [i, o])));
    }
  }

  async read(key: string): Promise<CompletionHistory> {
    if (this.failReads) throw new Error('DynamoDB is down');
    return { observations: [...(this.slots.get(key)?.values() ?? [])] };
  }

  async record(frameSize: string, slot: number, observation: CompletionObservation): Promise<void> {
    const slots = this.slots.get(frameSize) ?? new Map<number, CompletionObservation>();
    slots.set(slot, observation);
    this.slots.set(frameSize, slots);
  }
}

describe('observeCompletion', () => {
  it('bounds a completion seen at the first check by the submission and that check, stamped with when', () => {
    expect(observeCompletion(aJob({ pollCount: 0 }), at(201.04))).toStrictEqual({
      afterSeconds: 0,
      bySeconds: 201,
      atSeconds: Math.round(at(201.04).getTime() / 1000),
    });
  });

  it('bounds a later completion by the previous check, the last update of the record', () => {
    expect(observeCompletion(aJob({ pollCount: 2, updatedAt: iso(180) }), at(201))).toMatchObject({
      afterSeconds: 180,
      bySeconds: 201,
    });
  });

  it('records a generation still running as unfinished at the moment of the check (right-censored)', () => {
    const observation = observeCompletion(aJob({ pollCount: 2, updatedAt: iso(180) }), at(240.26), false);
    expect(observation).toStrictEqual({
      afterSeconds: 240.3,
      atSeconds: Math.round(at(240.26).getTime() / 1000),
    });
  });

  it("carries when a check last saw the generation queued: this one, or the record's", () => {
    const job = aJob({ pollCount: 2, updatedAt: iso(180), lastQueuedAt: iso(120) });
    expect(observeCompletion(job, at(240), false, true)).toMatchObject({
      afterSeconds: 240,
      queuedSeconds: 240,
    });
    expect(observeCompletion(job, at(240), false)).toMatchObject({ afterSeconds: 240, queuedSeconds: 120 });
    expect(observeCompletion(job, at(300))).toMatchObject({
      afterSeconds: 180,
      bySeconds: 300,
      queuedSeconds: 120,
    });
    // A queued time of another attempt (before this submission) is not this generation's.
    const retried = aJob({ pollCount: 1, updatedAt: iso(60), lastQueuedAt: iso(-30) });
    expect(observeCompletion(retried, at(90), false)).toStrictEqual({
      afterSeconds: 90,
      atSeconds: Math.round(at(90).getTime() / 1000),
    });
  });

  it('observes nothing on a rerun that already saw the completion, or without a submission time', () => {
    expect(observeCompletion(aJob({ providerStatus: 'completed' }), at(300))).toBeUndefined();
    expect(observeCompletion(aJob({ submittedAt: undefined }), at(300))).toBeUndefined();
  });
});

describe('historySlotOf and historyGroupOf', () => {
  it('gives a job the same slot every time, within the capacity', () => {
    expect(historySlotOf('abcdefghij234567abcd')).toBe(historySlotOf('abcdefghij234567abcd'));
    expect(historySlotOf('abcdefghij234567abcd', 7)).toBeLessThan(7);
  });

  it('keeps one history per model and frame size, the default model under the bare frame size', () => {
    const request = { model: MODEL, prompt: 'p', frameSize: '848:480', duration: 5 } as const;
    expect(historyGroupOf({ request })).toBe('848:480');
    expect(historyGroupOf({})).toBe('1280:720');
    expect(
      historyGroupOf({ request: { ...request, model: 'klingai/video-o1' } as unknown as typeof request }),
    ).toBe('klingai/video-o1@848:480');
  });
});

describe('etaOf', () => {
  // Uniform on (0, 100] s: the quantiles given the time elapsed are known exactly.
  const uniform = { evidence: 1, cdf: (t: number) => Math.min(1, Math.max(0, t / 100)) };

  it('gives the median and 90th percentile of the completion time given the time elapsed', () => {
    const near = (forecast: { medianSeconds: number; p90Seconds: number }) => [
      Math.round(forecast.medianSeconds * 10) / 10,
      Math.round(forecast.p90Seconds * 10) / 10,
    ];
    expect(near(etaOf(uniform, 0))).toStrictEqual([50, 90]);
    expect(near(etaOf(uniform, 50))).toStrictEqual([75, 95]);
    expect(near(etaOf(uniform, Number.NaN))).toStrictEqual([50, 90]);
    expect(near(etaOf(uniform, -5))).toStrictEqual([50, 90]);
  });
});

describe('typicalSecondsOf', () => {
  it('takes the most specific configured time: model and frame size, then model, then the default', () => {
    const times = { defaultSeconds: 210, bySeconds: { [`${MODEL}@848:480`]: 150, [MODEL]: 190 } };
    const request = { model: MODEL, prompt: 'p', frameSize: '848:480', duration: 5 } as const;
    expect(typicalSecondsOf(times, { request })).toBe(150);
    expect(typicalSecondsOf(times, { request: { ...request, frameSize: '960:960' } })).toBe(190);
    expect(typicalSecondsOf({ defaultSeconds: 300 }, { request })).toBe(300);
    expect(typicalSecondsOf(undefined, { request })).toBe(210);
  });

  it("falls back to the model catalog's typical processing time, then 210 s, when none is configured", () => {
    const catalog = (model: string) =>
      typicalSecondsOf(
        { bySeconds: { 'runway/gen4_aleph@848:480': 150 } },
        {
          request: { model, fields: {}, videoField: 'video' },
        },
      );
    expect(catalog('runway/act_two')).toBe(180);
    expect(catalog('krea/krea-wan-14b/video-to-video')).toBe(120);
    expect(catalog('kling/not-in-the-catalog')).toBe(210);
    expect(typicalSecondsOf({}, {})).toBe(210);
    // A configured default applies to every model, the catalog's times included.
    expect(
      typicalSecondsOf(
        { defaultSeconds: 42 },
        { request: { model: 'runway/act_two', fields: {}, videoField: 'video' } },
      ),
    ).toBe(42);
  });

  it("names another model's entries as its history group does: `<model>@-` without a frame size", () => {
    const actTwo = { model: 'runway/act_two', fields: {}, videoField: 'video' };
    const times = { defaultSeconds: 210, bySeconds: { 'runway/act_two@-': 80, 'runway/act_two': 120 } };
    expect(typicalSecondsOf(times, { request: actTwo })).toBe(80);
    expect(typicalSecondsOf(times, { request: { ...actTwo, frameSize: '1280:720' } })).toBe(120);
  });
});

describe('planChecks', () => {
  const cdfOf = (f: (t: number) => number, horizon: number) =>
    Float64Array.from({ length: horizon + 1 }, (_, t) => f(t));

  it('checks once, right at a finish that is certain', () => {
    const { nextCheckAt, expectedCost } = planChecks(
      cdfOf((t) => (t >= 100 ? 1 : 0), 600),
      { minWaitSeconds: 5, checkCostSeconds: 4 },
    );
    expect(nextCheckAt[0]).toBe(100);
    // One check, and half a second of lag: the step is linear between seconds 99 and 100.
    expect(expectedCost).toBeCloseTo(1 + 0.5 / 4, 9);
  });

  it('jumps straight from one likely finish to the next, however far (no cap on planned waits)', () => {
    const cdf = cdfOf((t) => (t >= 500 ? 1 : t >= 100 ? 0.5 : 0), 900);
    const plan = planChecks(cdf, { minWaitSeconds: 5, checkCostSeconds: 4 });
    expect(plan.nextCheckAt[0]).toBe(100);
    expect(plan.nextCheckAt[100]).toBe(500);
  });

  it('finds the same optimum as a brute-force search over every next check', () => {
    const random = createRandom(3);
    for (let round = 0; round < 5; round += 1) {
      const median = 50 + 300 * random();
      const cdf = cdfOnGrid(
        estimateCompletion({ observations: sampled(30, median, 0.1 + random() * 0.6, round) }, 210),
        700,
      );
      const plan = planChecks(cdf, { minWaitSeconds: 5, checkCostSeconds: 4 });
      expect(plan.expectedCost).toBeCloseTo(bruteForceCost(cdf, 5, 4), 9);
    }
  });

  it('never plans two checks closer than the floor', () => {
    const checks = checksOf(NARROW, AWS, 30);
    const gaps = checks.slice(1).map((c, i) => c - (checks[i] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5);
  });

  it('marks the seconds after which no check fits before the horizon', () => {
    const { nextCheckAt } = planChecks(
      cdfOf((t) => t / 100, 100),
      { minWaitSeconds: 5, checkCostSeconds: 4 },
    );
    expect(nextCheckAt[95]).toBe(100);
    expect(nextCheckAt[96]).toBe(-1);
  });
});

describe('cdfOnGrid', () => {
  it('ends at the last second before the deadline, where a check can still see the completion', () => {
    expect(cdfOnGrid({ cdf: (t) => t / 10_000 }, 1800).length - 1).toBe(1799);
  });

  it('ends early where the estimate leaves less than 1e-4 unfinished', () => {
    expect(cdfOnGrid({ cdf: (t) => (t >= 300 ? 1 : 0) }, 1800).length - 1).toBe(300);
  });
});

describe('estimateCompletion', () => {
  it('with no history, is the configured prior: median at the typical time of the model and frame size', () => {
    const estimate = estimateCompletion(EMPTY_HISTORY, 210);
    expect(estimate.evidence).toBe(0);
    expect(estimate.cdf(210)).toBeCloseTo(0.5, 2);
    expect(estimateCompletion(EMPTY_HISTORY, 40).cdf(40)).toBeCloseTo(0.5, 2);
  });

  it('spreads the prior with a log-scale sigma of 0.25 (15% of it with sigma 1): a quarter of the log-time above the typical time holds 0.85 Φ(1) + 0.15 Φ(0.25)', () => {
    const estimate = estimateCompletion(EMPTY_HISTORY, 210);
    const within = 0.85 * 0.8413 + 0.15 * 0.5987; // Φ(1), Φ(0.25)
    expect(estimate.cdf(210 * Math.exp(0.25))).toBeCloseTo(within, 2);
    expect(estimate.cdf(210 * Math.exp(-0.25))).toBeCloseTo(1 - within, 2);
  });

  it('centres a learned estimate on the observed intervals, whatever the prior says', () => {
    const estimate = estimateCompletion(NARROW, 60);
    expect(estimate.cdf(175)).toBeLessThan(0.05);
    expect(estimate.cdf(200)).toBeGreaterThan(0.3);
    expect(estimate.cdf(200)).toBeLessThan(0.7);
    expect(estimate.cdf(240)).toBeGreaterThan(0.95);
  });

  it('learns from generations still running: all unfinished at 400 s moves the median past 400 s', () => {
    const running = Array.from({ length: 20 }, (_, i) => ({ afterSeconds: 400, atSeconds: 1000 + i }));
    expect(estimateCompletion({ observations: running }, 210).cdf(400)).toBeLessThan(0.2);
    expect(estimateCompletion(EMPTY_HISTORY, 210).cdf(400)).toBeGreaterThan(0.9);
  });

  it('keeps well-separated peaks separate: little mass between them', () => {
    const history = { observations: [...sampled(50, 60, 0.05, 4), ...sampled(50, 600, 0.05, 5)] };
    const estimate = estimateCompletion(history, 210);
    expect(estimate.cdf(70)).toBeGreaterThan(0.45);
    expect(estimate.cdf(500) - estimate.cdf(75)).toBeLessThan(0.03);
    // Two checks for the first peak, then one wait of over 400 s straight to the second.
    const checks = checksOf(history, AWS, 3);
    expect(checks[1]).toBeLessThan(100);
    expect((checks[2] ?? 0) - (checks[1] ?? 0)).toBeGreaterThan(400);
  });

  it('drops the older regime once the newest observations differ (a provider slowdown)', () => {
    const old = sampled(80, 200, 0.1, 6, 0);
    const recent = sampled(20, 400, 0.1, 7, 10_000);
    const estimate = estimateCompletion({ observations: [...old, ...recent] }, 210);
    expect(estimate.cdf(300)).toBeLessThan(0.05);
  });

  it('keeps the whole history when old and new observations agree', () => {
    const observations = [...sampled(80, 200, 0.1, 8, 0), ...sampled(20, 200, 0.1, 9, 10_000)];
    const all = estimateCompletion({ observations }, 210);
    const newest = estimateCompletion({ observations: observations.slice(60) }, 210);
    expect(Math.abs(all.cdf(200) - 0.5)).toBeLessThan(Math.abs(newest.cdf(200) - 0.5) + 0.05);
    expect(all.evidence).toBeGreaterThan(60);
  });

  it('ignores malformed observations', () => {
    const bad: CompletionObservation[] = [
      { afterSeconds: Number.NaN, bySeconds: 10 },
      { afterSeconds: 50, bySeconds: 40 },
      { afterSeconds: -1 },
      { afterSeconds: 0 },
    ];
    expect(estimateCompletion({ observations: bad }, 210).evidence).toBe(0);
  });
});

describe('the shift test (regime-shift.ts)', () => {
  it('scores a completion by the log-rank score of its interval, a running generation by ln S', () => {
    // Exact time: 1 + ln S(t); an interval: the mean of 1 + ln S over it; censored: ln S(L).
    expect(logRankScore(0.5, 0.5)).toBeCloseTo(1 + Math.log(0.5), 9);
    expect(logRankScore(1, 0.5)).toBeCloseTo((0 - 0.5 * Math.log(0.5)) / 0.5, 9);
    expect(logRankScore(0.25, undefined)).toBeCloseTo(Math.log(0.25), 9);
    // A survival of 0 is clamped (no infinite score).
    expect(Number.isFinite(logRankScore(0, 0))).toBe(true);
  });

  it('keeps every observation when the newest score like the older ones', () => {
    const random = createRandom(12);
    const scores = Array.from({ length: 100 }, () => 1 + Math.log(random()));
    expect(newestRegimeLength(scores)).toBe(100);
  });

  it('keeps only the newest cohort when its scores differ (a speed-up: all early, score near 1)', () => {
    // The older regime's scores: 1 + ln U for U evenly spread, in a scrambled order that starts
    // with the lowest (a long generation submitted just before the speed-up).
    const older = Array.from({ length: 80 }, (_, i) => 1 + Math.log((((i * 29) % 80) + 0.5) / 80));
    const newest = Array.from({ length: 16 }, () => 0.95);
    expect(newestRegimeLength([...newest, ...older])).toBe(16);
  });
});

describe('conditionalQuantile and forecastCompletion (the ETA)', () => {
  it('gives the median and P90 of the completion time given the time elapsed, later as the job outlives them', () => {
    const estimate = estimateCompletion(NARROW, 210);
    const median = conditionalQuantile(estimate, 0, 0.5);
    expect(estimate.cdf(median)).toBeCloseTo(0.5, 2);
    const later = conditionalQuantile(estimate, 205, 0.5);
    expect(later).toBeGreaterThan(205);
    const f = estimate.cdf(205);
    expect((estimate.cdf(later) - f) / (1 - f)).toBeCloseTo(0.5, 2);
  });

  it('puts the P90 after the median', () => {
    const forecast = forecastCompletion(NARROW, AWS, { elapsedSeconds: 0, deadlineSeconds: DEADLINE });
    expect(forecast.p90Seconds).toBeGreaterThan(forecast.medianSeconds);
    expect(forecast.medianSeconds).toBeGreaterThan(190);
    expect(forecast.medianSeconds).toBeLessThan(210);
  });
});

describe('planFor', () => {
  it('reuses the plan of a history version, and plans afresh for a new version', () => {
    const first = planFor({ ...NARROW, version: 't/1280:720/7' }, AWS, DEADLINE);
    expect(planFor({ observations: [], version: 't/1280:720/7' }, AWS, DEADLINE)).toBe(first);
    expect(planFor({ ...NARROW, version: 't/1280:720/8' }, AWS, DEADLINE)).not.toBe(first);
  });

  it('without a version, reuses the plan of the same history object only', () => {
    const history = { observations: [...NARROW.observations] };
    const first = planFor(history, AWS, DEADLINE);
    expect(planFor(history, AWS, DEADLINE)).toBe(first);
    expect(planFor({ observations: [...NARROW.observations] }, AWS, DEADLINE)).not.toBe(first);
  });
});

describe('planFirstWait', () => {
  it('with no history, plans on the prior: the first check before the typical time', () => {
    const wait = planFirstWait(EMPTY_HISTORY, AWS, { elapsedSeconds: 0, deadlineSeconds: DEADLINE });
    expect(wait).toBe(checksOf(EMPTY_HISTORY, AWS, 1)[0]);
    expect(wait).toBeGreaterThan(100);
    expect(wait).toBeLessThan(210);
  });

  it('with history, waits until shortly before the likely finish', () => {
    const wait = planFirstWait(NARROW, AWS, { elapsedSeconds: 0, deadlineSeconds: DEADLINE });
    expect(wait).toBe(checksOf(NARROW, AWS, 1)[0]);
    expect(wait).toBeGreaterThan(180);
    expect(wait).toBeLessThan(205);
  });

  it('continues the plan from now when its first check is already past (an execution restarted late)', () => {
    const state = { elapsedSeconds: 300, deadlineSeconds: DEADLINE };
    expect(planFirstWait(NARROW, AWS, state)).toBe(planNextWait(NARROW, AWS, { ...state, pollCount: 0 }));
  });

  it('never waits less than the floor, even with a deadline nearer than that', () => {
    expect(planFirstWait(NARROW, AWS, { elapsedSeconds: 0, deadlineSeconds: 3 })).toBe(5);
  });
});

describe('planNextWait', () => {
  it('waits for the planned check from wherever the last check happened to be', () => {
    const checks = checksOf(NARROW, AWS, 3);
    const second = checks[1] ?? 0;
    const state = (elapsedSeconds: number) => ({ elapsedSeconds, pollCount: 1, deadlineSeconds: DEADLINE });
    expect(planNextWait(NARROW, AWS, state(checks[0] ?? 0))).toBe(second - (checks[0] ?? 0));
    expect(planNextWait(NARROW, AWS, state((checks[0] ?? 0) + 0.4))).toBe(second - (checks[0] ?? 0));
  });

  it('beyond the plan (the far tail), waits the tail wait, then only what is left before the deadline', () => {
    const { plan } = planFor(NARROW, AWS, DEADLINE);
    const beyond = plan.horizonSeconds + 10;
    expect(
      planNextWait(NARROW, AWS, { elapsedSeconds: beyond, pollCount: 9, deadlineSeconds: DEADLINE }),
    ).toBe(60);
    expect(planNextWait(NARROW, AWS, { elapsedSeconds: 1780, pollCount: 9, deadlineSeconds: DEADLINE })).toBe(
      20,
    );
    expect(planNextWait(NARROW, AWS, { elapsedSeconds: 1798, pollCount: 9, deadlineSeconds: DEADLINE })).toBe(
      5,
    );
  });

  it('falls back to the floor doubled per check, up to the tail wait, when the elapsed time is unknown', () => {
    const waits = [1, 2, 3, 4, 5, 6].map((pollCount) =>
      planNextWait(NARROW, AWS, { elapsedSeconds: Number.NaN, pollCount, deadlineSeconds: DEADLINE }),
    );
    expect(waits).toStrictEqual([5, 10, 20, 40, 60, 60]);
  });
});

describe('a generation seen queued', () => {
  const random = createRandom(17);
  // Forty generations: half of them seen queued until 300 s (a queue spike), each processed in
  // LogNormal(200 s, 0.05) after its queue; submitted 10 s apart.
  const history: CompletionHistory = {
    observations: Array.from({ length: 40 }, (_, i) => {
      const queued = i % 2 === 0 ? 300 : 0;
      const done = Math.round(queued + drawLogNormal(random, 200, 0.05));
      return {
        afterSeconds: done - 4,
        bySeconds: done,
        atSeconds: 1_800_000_000 + 10 * i + done,
        ...(queued > 0 ? { queuedSeconds: queued } : {}),
      };
    }),
  };

  it('estimates the time left after the last queued check from the generations seen queued alone', () => {
    const afterQueue = estimateCompletion(history, 210, 'last-queued');
    const fromSubmission = estimateCompletion(history, 210);
    expect(afterQueue.evidence).toBeCloseTo(19.1, 0);
    expect(conditionalQuantile(afterQueue, 0, 0.5)).toBeGreaterThan(185);
    expect(conditionalQuantile(afterQueue, 0, 0.5)).toBeLessThan(215);
    // From the submission, half of them finish around 200 s and half around 500 s.
    expect(fromSubmission.cdf(300)).toBeCloseTo(0.5, 1);
  });

  it('plans and forecasts from the last queued check once enough of them finished, else from the submission', () => {
    const queued = { elapsedSeconds: 320, pollCount: 3, deadlineSeconds: DEADLINE, queuedSeconds: 320 };
    const wait = planNextWait(history, AWS, queued);
    expect(wait).toBeGreaterThan(170);
    expect(wait).toBe(planFor(history, AWS, DEADLINE - 320, 'last-queued').plan.nextCheckAt[0]);
    const eta = forecastCompletion(history, AWS, queued);
    expect(eta.medianSeconds).toBeGreaterThan(320 + 185);
    expect(eta.medianSeconds).toBeLessThan(320 + 215);
    // Nine generations seen queued are too few: the plan from the submission.
    const few: CompletionHistory = {
      observations: history.observations.filter((o, i) => o.queuedSeconds === undefined || i < 18),
    };
    expect(planNextWait(few, AWS, queued)).toBe(
      planNextWait(few, AWS, { elapsedSeconds: 320, pollCount: 3, deadlineSeconds: DEADLINE }),
    );
  });
});

describe('pollStateOf', () => {
  it('carries when a check last saw the generation queued, in seconds from the submission', () => {
    expect(pollStateOf(aJob({ lastQueuedAt: iso(45) }), at(90)).queuedSeconds).toBe(45);
  });

  it('measures from the submission to now and to the deadline', () => {
    expect(pollStateOf(aJob({ pollCount: 3 }), at(90))).toStrictEqual({
      elapsedSeconds: 90,
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
      settings: POLL_SETTINGS,
    };
    return { jobs, provider, check: () => checkGeneration(deps, 'abcdefghij234567abcd') };
  }

  it('plans the next wait from the history and refreshes the ETA, given the time elapsed', async () => {
    const store = new MemoryHistoryStore({ '1280:720': NARROW });
    const h = setup(store, 190);
    h.provider.scriptGet({ id: 'gen-42', status: 'generating' });

    const result = await h.check();

    const read = { observations: NARROW.observations };
    const state = { elapsedSeconds: 190, pollCount: 3, deadlineSeconds: DEADLINE };
    expect(result).toStrictEqual({
      jobId: 'abcdefghij234567abcd',
      waitSeconds: planNextWait(read, AWS, state),
      finished: false,
    });
    const forecast = forecastCompletion(read, AWS, state);
    const job = h.jobs.require('abcdefghij234567abcd');
    expect(job.expectedCompletionAt).toBe(iso(Math.round(forecast.medianSeconds * 1000) / 1000));
    expect(Date.parse(job.expectedCompletionP90At ?? '')).toBeGreaterThan(
      Date.parse(job.expectedCompletionAt ?? ''),
    );
  });

  it("records a generation still running as unfinished at this check, in the job's slot", async () => {
    const store = new MemoryHistoryStore();
    const h = setup(store, 190.04);
    h.provider.scriptGet({ id: 'gen-42', status: 'generating' });

    await h.check();

    expect(store.slots.get('1280:720')).toStrictEqual(
      new Map([
        [
          historySlotOf('abcdefghij234567abcd'),
          { afterSeconds: 190, atSeconds: Math.round(at(190.04).getTime() / 1000) },
        ],
      ]),
    );
  });

  it("records the completion it sees in the job's slot, bounded by the previous check, and drops the ETA", async () => {
    const store = new MemoryHistoryStore();
    const h = setup(store, 201.04);
    h.jobs.seed(
      aJob({
        pollCount: 2,
        updatedAt: iso(180),
        providerStatus: 'generating',
        expectedCompletionAt: iso(200),
        expectedCompletionP90At: iso(230),
      }),
    );
    h.provider.scriptGet({ id: 'gen-42', status: 'completed', videoUrl: 'https://cdn.example/out.mp4' });

    await h.check();

    expect(store.slots.get('1280:720')).toStrictEqual(
      new Map([
        [
          historySlotOf('abcdefghij234567abcd'),
          { afterSeconds: 180, bySeconds: 201, atSeconds: Math.round(at(201.04).getTime() / 1000) },
        ],
      ]),
    );
    const job = h.jobs.require('abcdefghij234567abcd');
    expect(job.expectedCompletionAt).toBeUndefined();
    expect(job.expectedCompletionP90At).toBeUndefined();
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
  it('keeps well-formed entries of the stored map (0 as "by": still running), oldest first', () => {
    expect(
      parseObservations({
        '3': [190, 200, 1_800_000_050],
        '1': [0, 150.5],
        '2': [240, 0, 1_800_000_060],
        '5': [230, 260, 1_800_000_070, 200],
        '6': [300, 0, 1_800_000_080, 0],
        '10': [40, 0, 1_800_000_090, 45],
        '9': ['x', 1],
        '4': [1, 2, 3, 4, 5],
        '11': [1, 2, 3, -4],
        '7': [5, -1],
        '8': [50, 40, 1],
      }),
    ).toStrictEqual([
      { afterSeconds: 0, bySeconds: 150.5 },
      { afterSeconds: 190, bySeconds: 200, atSeconds: 1_800_000_050 },
      { afterSeconds: 240, atSeconds: 1_800_000_060 },
      { afterSeconds: 230, bySeconds: 260, atSeconds: 1_800_000_070, queuedSeconds: 200 },
      { afterSeconds: 300, atSeconds: 1_800_000_080 },
      // Seen queued after it was last seen running: not a queue time it can have.
      { afterSeconds: 40, atSeconds: 1_800_000_090 },
    ]);
    expect(parseObservations(undefined)).toStrictEqual([]);
  });
});
