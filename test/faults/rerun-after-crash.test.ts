/**
 * What the crash suite found (issue 4): an execution re-run from the start after a crash (the
 * local runtime resumes stored executions that way; the sweeper restarts lost ones) checks
 * again a job that had reached COPYING. The check must lead it back to the copy, not fail it
 * with STALE_TRANSITION. Deterministic here, with fakes; crashes.test.ts hits it at random.
 */
import { describe, expect, it } from 'vitest';
import { type CheckDeps, checkGeneration } from '../../functions/domain/check-generation.js';
import { ProviderUnavailableError } from '../../functions/domain/errors.js';
import { JobStatus } from '../../functions/domain/job.js';
import { silentLogger } from '../../functions/domain/ports.js';
import { FakeClock, FakeJobStore, FakeProvider } from '../support/fakes.js';
import { aJob, POLL_SETTINGS } from '../support/jobs.js';

const NOW = '2025-05-01T12:01:00.000Z';

function setup() {
  const clock = new FakeClock(NOW);
  const jobs = new FakeJobStore(clock);
  const provider = new FakeProvider();
  const job = aJob({ status: JobStatus.copying, providerStatus: 'completed', pollCount: 3 });
  jobs.seed(job);
  const deps: CheckDeps = {
    jobs,
    provider,
    clock,
    logger: silentLogger,
    settings: POLL_SETTINGS,
  };
  return { jobs, provider, deps, jobId: job.jobId };
}

describe('a check re-run on a job that was already copying', () => {
  it('keeps the job COPYING and sends it to the copy again with the output URL', async () => {
    const { jobs, provider, deps, jobId } = setup();
    provider.scriptGet({ id: 'gen-42', status: 'completed', videoUrl: 'https://cdn.example/out.mp4' });

    const result = await checkGeneration(deps, jobId);

    expect(result).toEqual({
      jobId,
      waitSeconds: 0,
      finished: true,
      videoUrl: 'https://cdn.example/out.mp4',
    });
    const job = await jobs.get(jobId);
    expect([job?.status, job?.providerStatus, job?.pollCount]).toEqual([JobStatus.copying, 'completed', 4]);
  });

  it('keeps the job COPYING while the provider does not answer', async () => {
    const { jobs, provider, deps, jobId } = setup();
    provider.scriptGet(new ProviderUnavailableError('down', 503));

    const result = await checkGeneration(deps, jobId);

    expect(result.finished).toBe(false);
    const job = await jobs.get(jobId);
    expect([job?.status, job?.checkFailures]).toEqual([JobStatus.copying, 1]);
  });
});
