import { describe, expect, it } from 'vitest';
import {
  type CheckDeps,
  checkGeneration,
  MAX_CONSECUTIVE_CHECK_FAILURES,
  nextWaitSeconds,
} from '../../functions/domain/check-generation.js';
import {
  DeadlineExceededError,
  GenerationFailedError,
  JobInvariantError,
  JobNotFoundError,
  ProviderMalformedResponseError,
  ProviderOutOfCreditsError,
  ProviderRateLimitedError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  StaleTransitionError,
} from '../../functions/domain/errors.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import {
  type CompletionHistory,
  EMPTY_HISTORY,
  historySlotOf,
  type PollSettings,
  planNextWait,
  policySettingsFor,
  pollStateOf,
} from '../../functions/domain/poll-policy.js';
import { silentLogger } from '../../functions/domain/ports.js';
import { rejectionOf } from '../support/assertions.js';
import { FakeClock, FakeCompletionHistory, FakeJobStore, FakeProvider } from '../support/fakes.js';
import { aJob, POLL_SETTINGS, T0 } from '../support/jobs.js';

const SETTINGS: PollSettings = POLL_SETTINGS;
const NOW = '2025-05-01T12:01:00.000Z';

function setup(job: Partial<Job> = {}, history = new FakeCompletionHistory()) {
  const clock = new FakeClock(NOW);
  const jobs = new FakeJobStore(clock);
  const provider = new FakeProvider();
  const seeded = aJob({ status: JobStatus.submitted, providerStatus: 'queued', ...job });
  jobs.seed(seeded);
  const deps: CheckDeps = { jobs, provider, clock, logger: silentLogger, settings: SETTINGS, history };
  return {
    clock,
    jobs,
    provider,
    history,
    deps,
    jobId: seeded.jobId,
    check: () => checkGeneration(deps, seeded.jobId),
  };
}

/** The wait the polling policy plans for the job as it now stands. */
function plannedWait(job: Job, history: CompletionHistory = EMPTY_HISTORY): number {
  return planNextWait(history, policySettingsFor(SETTINGS, job), pollStateOf(job, new Date(NOW)));
}

/** Ten generations of about three minutes. */
const THREE_MINUTE_HISTORY: CompletionHistory = {
  observations: Array.from({ length: 10 }, (_, i) => ({ afterSeconds: 170 + i, bySeconds: 180 + i })),
};

/**
 * Twenty generations seen queued until 300 s after submission, each done 200 to 219 s later
 * (a queue spike), and twenty never seen queued, done in 200 to 219 s.
 */
const QUEUE_SPIKE_HISTORY: CompletionHistory = {
  observations: Array.from({ length: 40 }, (_, i) => {
    const queued = i < 20 ? 300 : 0;
    const done = queued + 200 + ((i * 7) % 20);
    return {
      afterSeconds: done - 10,
      bySeconds: done,
      atSeconds: 1_800_000_000 + i,
      ...(queued > 0 ? { queuedSeconds: queued } : {}),
    };
  }),
};

describe('checkGeneration', () => {
  it('keeps a queued generation SUBMITTED, counts the check and waits as the polling policy plans', async () => {
    const h = setup();
    h.provider.scriptGet({ id: 'gen-42', status: 'queued' });

    const result = await h.check();

    const after = h.jobs.require(h.jobId);
    expect(result).toStrictEqual({ jobId: h.jobId, waitSeconds: plannedWait(after), finished: false });
    expect(h.provider.gets).toStrictEqual(['gen-42']);
    expect(after).toMatchObject({
      status: JobStatus.submitted,
      providerStatus: 'queued',
      pollCount: 1,
      statusChangedAt: T0,
      updatedAt: NOW,
    });
  });

  it('moves the job to GENERATING once the provider is generating', async () => {
    const h = setup();
    h.provider.scriptGet({ id: 'gen-42', status: 'generating' });

    await h.check();

    expect(h.jobs.require(h.jobId)).toMatchObject({
      status: JobStatus.generating,
      providerStatus: 'generating',
      pollCount: 1,
      statusChangedAt: NOW,
    });
  });

  it("plans the wait from the history of the job's frame size", async () => {
    const h = setup(
      { request: { model: 'runway/gen4_aleph', prompt: 'p', frameSize: '960:960', duration: 5 } },
      new FakeCompletionHistory({ '960:960': THREE_MINUTE_HISTORY }),
    );
    h.provider.scriptGet({ id: 'gen-42', status: 'generating' });

    const result = await h.check();

    expect(h.history.reads).toStrictEqual(['960:960']);
    expect(result.waitSeconds).toBe(plannedWait(h.jobs.require(h.jobId), THREE_MINUTE_HISTORY));
  });

  it('keeps when it saw the generation queued, records it with the observation and plans the time left after it', async () => {
    const h = setup({}, new FakeCompletionHistory({ '1280:720': QUEUE_SPIKE_HISTORY }));
    h.provider.scriptGet({ id: 'gen-42', status: 'queued' });

    const result = await h.check();

    const after = h.jobs.require(h.jobId);
    expect(after.lastQueuedAt).toBe(NOW);
    expect(h.history.recorded).toStrictEqual([
      {
        frameSize: '1280:720',
        slot: historySlotOf(h.jobId),
        observation: { afterSeconds: 60, atSeconds: Date.parse(NOW) / 1000, queuedSeconds: 60 },
      },
    ]);
    // Queued at 60 s: the processing (200 s or more) is still ahead, so no check before 260 s;
    // a generation that left the queue would be checked about 200 s after its submission.
    expect(result.waitSeconds).toBe(plannedWait(after, QUEUE_SPIKE_HISTORY));
    expect(result.waitSeconds).toBeGreaterThanOrEqual(195);
    const { lastQueuedAt: _queued, ...unqueued } = after;
    expect(plannedWait(unqueued, QUEUE_SPIKE_HISTORY)).toBeLessThan(150);
    // Its ETA counts from the queued check too.
    expect(Date.parse(after.expectedCompletionAt ?? '')).toBeGreaterThanOrEqual(Date.parse(NOW) + 200_000);
  });

  it('takes a generation reported `waiting` (the word of other model pages) for queued', async () => {
    const h = setup();
    h.provider.scriptGet({ id: 'gen-42', status: 'pending', reportedStatus: 'waiting' });

    await h.check();

    expect(h.jobs.require(h.jobId)).toMatchObject({ lastQueuedAt: NOW, providerStatus: 'waiting' });
    expect(h.history.recorded.map((r) => r.observation.queuedSeconds)).toStrictEqual([60]);
  });

  it('records when a check last saw the generation queued with the observations after it', async () => {
    const queuedAt = '2025-05-01T12:00:30.000Z';
    const h = setup({ pollCount: 1, updatedAt: queuedAt, lastQueuedAt: queuedAt });
    h.provider.scriptGet({ id: 'gen-42', status: 'generating' });

    await h.check();

    expect(h.jobs.require(h.jobId).lastQueuedAt).toBe(queuedAt);
    expect(h.history.recorded.map((r) => r.observation)).toStrictEqual([
      { afterSeconds: 60, atSeconds: Date.parse(NOW) / 1000, queuedSeconds: 30 },
    ]);
    h.clock.advanceSeconds(40);
    h.provider.scriptGet({ id: 'gen-42', status: 'completed', videoUrl: 'https://cdn.example.com/o.mp4' });

    await h.check();

    expect(h.history.recorded.map((r) => r.observation)[1]).toStrictEqual({
      afterSeconds: 60,
      bySeconds: 100,
      atSeconds: Date.parse(NOW) / 1000 + 40,
      queuedSeconds: 30,
    });
  });

  it('falls back to the empty history when the history cannot be read', async () => {
    const history = new FakeCompletionHistory({ '1280:720': THREE_MINUTE_HISTORY });
    history.failWith = new Error('ProvisionedThroughputExceededException');
    const h = setup({}, history);
    h.provider.scriptGet({ id: 'gen-42', status: 'generating' });

    const result = await h.check();

    expect(result.waitSeconds).toBe(plannedWait(h.jobs.require(h.jobId)));
  });

  it('records a completion it sees in the history, bounded by the previous check and this one', async () => {
    const h = setup({ pollCount: 2, updatedAt: '2025-05-01T12:00:40.000Z', providerStatus: 'generating' });
    h.provider.scriptGet({ id: 'gen-42', status: 'completed', videoUrl: 'https://cdn.example.com/o.mp4' });

    await h.check();

    expect(h.history.recorded).toStrictEqual([
      {
        frameSize: '1280:720',
        slot: historySlotOf(h.jobId),
        observation: { afterSeconds: 40, bySeconds: 60, atSeconds: Date.parse(NOW) / 1000 },
      },
    ]);
  });

  it('still finishes when the completion cannot be recorded in the history', async () => {
    const history = new FakeCompletionHistory();
    history.failWith = new Error('ThrottlingException');
    const h = setup({}, history);
    h.provider.scriptGet({ id: 'gen-42', status: 'completed', videoUrl: 'https://cdn.example.com/o.mp4' });

    await expect(h.check()).resolves.toMatchObject({
      finished: true,
      videoUrl: 'https://cdn.example.com/o.mp4',
    });
  });

  it('without a submission time, counts every check and doubles the wait each time', async () => {
    const h = setup({ submittedAt: undefined });
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      h.provider.scriptGet({ id: 'gen-42', status: 'generating' });
      waits.push((await h.check()).waitSeconds);
    }

    expect(waits).toStrictEqual([5, 10, 20, 40]);
    expect(h.jobs.require(h.jobId).pollCount).toBe(4);
    expect(h.provider.gets).toHaveLength(4);
  });

  it('reports a completed generation finished with its URL and records the credits used', async () => {
    const h = setup({ status: JobStatus.generating });
    h.provider.scriptGet({
      id: 'gen-42',
      status: 'completed',
      videoUrl: 'https://cdn.example.com/out.mp4?sig=abc',
      creditsUsed: 12,
    });

    await expect(h.check()).resolves.toStrictEqual({
      jobId: h.jobId,
      waitSeconds: 0,
      finished: true,
      videoUrl: 'https://cdn.example.com/out.mp4?sig=abc',
    });
    expect(h.jobs.require(h.jobId)).toMatchObject({
      status: JobStatus.generating,
      providerStatus: 'completed',
      creditsUsed: 12,
      pollCount: 1,
    });
  });

  it('reports a completed generation without a URL finished without one (finalize reads it again)', async () => {
    const h = setup();
    h.provider.scriptGet({ id: 'gen-42', status: 'completed' });

    await expect(h.check()).resolves.toStrictEqual({ jobId: h.jobId, waitSeconds: 0, finished: true });
  });

  it('throws GenerationFailedError with the provider reason when the generation ended in error', async () => {
    const h = setup({ status: JobStatus.generating });
    h.provider.scriptGet({
      id: 'gen-42',
      status: 'error',
      error: { name: 'CONTENT_MODERATION', message: 'the input was flagged' },
    });

    const error = await rejectionOf(h.check());

    expect(error).toBeInstanceOf(GenerationFailedError);
    expect(error).toMatchObject({
      name: 'GenerationFailedError',
      code: 'GENERATION_FAILED',
      message: 'the provider reported the generation failed (CONTENT_MODERATION: the input was flagged)',
    });
    expect(h.jobs.require(h.jobId)).toMatchObject({ providerStatus: 'error', pollCount: 1 });
  });

  it('throws DeadlineExceededError without asking the provider once the deadline has passed', async () => {
    const h = setup({ deadlineAt: '2025-05-01T12:00:59.000Z' });

    const error = await rejectionOf(h.check());

    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error).toMatchObject({
      code: 'DEADLINE_EXCEEDED',
      message: 'the generation did not finish by its deadline 2025-05-01T12:00:59.000Z',
    });
    expect(h.provider.gets).toStrictEqual([]);
    expect(h.jobs.require(h.jobId).pollCount).toBe(0);
  });

  it('counts the deadline instant itself as passed', async () => {
    const h = setup({ deadlineAt: NOW });

    expect(await rejectionOf(h.check())).toBeInstanceOf(DeadlineExceededError);
    expect(h.provider.gets).toStrictEqual([]);
  });

  it('sends a COMPLETED job (an execution re-run after a crash) on to finalize, without asking the provider', async () => {
    const h = setup({ status: JobStatus.completed });

    await expect(h.check()).resolves.toStrictEqual({ jobId: h.jobId, waitSeconds: 0, finished: true });
    expect(h.provider.gets).toStrictEqual([]);
  });

  it.each([JobStatus.cancelled, JobStatus.failed, JobStatus.rejected, JobStatus.timedOut])(
    'throws StaleTransitionError for a job already %s, without asking the provider',
    async (status) => {
      const h = setup({ status });

      const error = await rejectionOf(h.check());

      expect(error).toBeInstanceOf(StaleTransitionError);
      expect((error as Error).message).toBe(`job ${h.jobId} already ended as ${status}`);
      expect(h.provider.gets).toStrictEqual([]);
    },
  );

  it('throws StaleTransitionError when the job is cancelled while the provider is asked', async () => {
    const h = setup();
    h.provider.scriptGet(async () => {
      await h.jobs.update(h.jobId, { status: JobStatus.cancelled });
      return { id: 'gen-42', status: 'generating' };
    });

    expect(await rejectionOf(h.check())).toBeInstanceOf(StaleTransitionError);
    expect(h.jobs.require(h.jobId)).toMatchObject({ status: JobStatus.cancelled, pollCount: 0 });
  });

  it('waits longer, counting the check, when the provider is unavailable', async () => {
    const h = setup();
    h.provider.scriptGet(new ProviderUnavailableError('the provider answered 503', 503));

    const result = await h.check();

    expect(result).toStrictEqual({ jobId: h.jobId, waitSeconds: 10, finished: false });
    expect(h.jobs.require(h.jobId)).toMatchObject({
      pollCount: 1,
      checkFailures: 1,
      status: JobStatus.submitted,
    });
  });

  it('waits at least the Retry-After of a rate-limited check', async () => {
    const h = setup({ checkFailures: 2 });
    h.provider.scriptGet(new ProviderRateLimitedError('rate limited', 45));

    const result = await h.check();

    expect(result.waitSeconds).toBe(45);
    expect(h.jobs.require(h.jobId).checkFailures).toBe(3);
  });

  it('never waits past the deadline while the provider is unavailable', async () => {
    const h = setup({ checkFailures: 5, deadlineAt: '2025-05-01T12:01:20.000Z' });
    h.provider.scriptGet(new ProviderTimeoutError('no answer'));

    expect((await h.check()).waitSeconds).toBe(20);
  });

  it('throws the provider error once the outage has lasted the maximum number of checks', async () => {
    const h = setup({ checkFailures: MAX_CONSECUTIVE_CHECK_FAILURES - 1 });
    const unavailable = new ProviderUnavailableError('the provider answered 502', 502);
    h.provider.scriptGet(unavailable);

    expect(await rejectionOf(h.check())).toBe(unavailable);
    expect(h.jobs.require(h.jobId).pollCount).toBe(0);
  });

  it('waits out a malformed answer like an outage: one bad read never abandons a paid generation', async () => {
    const h = setup();
    h.provider.scriptGet(
      new ProviderMalformedResponseError('the status answer for generation gen-42 is not JSON: {'),
    );

    const result = await h.check();

    expect(result).toStrictEqual({ jobId: h.jobId, waitSeconds: 10, finished: false });
    expect(h.jobs.require(h.jobId)).toMatchObject({ checkFailures: 1, status: JobStatus.submitted });
    h.provider.scriptGet({ id: 'gen-42', status: 'generating' });
    await h.check();
    expect(h.jobs.require(h.jobId)).toMatchObject({ checkFailures: 0, status: JobStatus.generating });
  });

  it('waits out a status read refused for credits (403): the generation is paid, a top-up lets the reads through', async () => {
    const h = setup();
    h.provider.scriptGet(new ProviderOutOfCreditsError("You've run out of credits", 403));

    const result = await h.check();

    expect(result).toStrictEqual({ jobId: h.jobId, waitSeconds: 10, finished: false });
    expect(h.jobs.require(h.jobId)).toMatchObject({ checkFailures: 1, status: JobStatus.submitted });
  });

  it('throws the refusal for credits once it has lasted the maximum number of checks', async () => {
    const h = setup({ checkFailures: MAX_CONSECUTIVE_CHECK_FAILURES - 1 });
    const refused = new ProviderOutOfCreditsError("You've run out of credits", 403);
    h.provider.scriptGet(refused);

    expect(await rejectionOf(h.check())).toBe(refused);
  });

  it('throws a malformed answer once it has come back for the maximum number of checks', async () => {
    const h = setup({ checkFailures: MAX_CONSECUTIVE_CHECK_FAILURES - 1 });
    const malformed = new ProviderMalformedResponseError(
      'the status answer for generation gen-42 is not JSON: {',
    );
    h.provider.scriptGet(malformed);

    expect(await rejectionOf(h.check())).toBe(malformed);
  });

  it('clears the failure count once the provider answers again', async () => {
    const h = setup({ checkFailures: 3 });
    h.provider.scriptGet({ id: 'gen-42', status: 'generating' });

    await h.check();

    expect(h.jobs.require(h.jobId).checkFailures).toBe(0);
  });

  it('throws JobNotFoundError for an unknown job', async () => {
    const h = setup();

    const error = await rejectionOf(checkGeneration(h.deps, 'nosuchjob'));

    expect(error).toBeInstanceOf(JobNotFoundError);
    expect(error).toMatchObject({ code: 'JOB_NOT_FOUND', message: 'no job nosuchjob' });
  });

  it('throws JobInvariantError (JOB_INVARIANT_BROKEN) for a job without a generation id', async () => {
    const h = setup({ generationId: undefined });

    const error = await rejectionOf(h.check());

    expect(error).toBeInstanceOf(JobInvariantError);
    expect(error).toMatchObject({
      name: 'JobInvariantError',
      code: 'JOB_INVARIANT_BROKEN',
      message: `job ${h.jobId} has no generation id`,
      retryable: false,
    });
    expect(h.provider.gets).toStrictEqual([]);
  });
});

describe('nextWaitSeconds', () => {
  const now = new Date(NOW);
  const waitAfter = (pollCount: number, deadlineAt?: string) =>
    nextWaitSeconds(SETTINGS, aJob({ pollCount, deadlineAt }), now);

  it('starts at the minimum and doubles with each check', () => {
    expect([0, 1, 2, 3, 4].map((pollCount) => waitAfter(pollCount))).toStrictEqual([5, 5, 10, 20, 40]);
  });

  it('is capped at the maximum', () => {
    expect([5, 6, 50, 2000].map((pollCount) => waitAfter(pollCount))).toStrictEqual([60, 60, 60, 60]);
  });

  it('never waits past the deadline', () => {
    expect(waitAfter(5, '2025-05-01T12:01:25.000Z')).toBe(25);
    expect(waitAfter(5, '2025-05-01T12:01:24.200Z')).toBe(25);
  });

  it('never waits less than the minimum, even right before or after the deadline', () => {
    expect(waitAfter(5, '2025-05-01T12:01:02.000Z')).toBe(5);
    expect(waitAfter(5, '2025-05-01T12:00:00.000Z')).toBe(5);
  });

  it('ignores the deadline when the job has none', () => {
    expect(waitAfter(4, undefined)).toBe(40);
  });
});
