/**
 * The provider's 403 "out of credits" pauses submissions instead of failing jobs: the job waits in
 * WAITING for PROVIDER_CREDITS, nothing is paid twice, and the sweeper resumes it once the
 * provider accepts again (one waiting job tried per sweep while it still refuses).
 */
import { describe, expect, it } from 'vitest';
import { ProviderOutOfCreditsError } from '../../functions/domain/errors.js';
import { JobStatus } from '../../functions/domain/job.js';
import type { SubmissionSettings } from '../../functions/domain/submission.js';
import { handleObjectCreated } from '../../functions/domain/submit-job.js';
import { sweepStuckJobs } from '../../functions/domain/sweep-jobs.js';
import { INPUT_BUCKET } from '../support/jobs.js';
import { minimalMp4 } from '../support/media.js';
import { createSubmitHarness } from '../support/submit-harness.js';

const SWEEP = { graceSeconds: 60, lookbackSeconds: 86_400 };
const outOfCredits = () => new ProviderOutOfCreditsError("You've run out of credits", 403);

function setup(settings: Partial<SubmissionSettings> = {}) {
  const h = createSubmitHarness(settings);
  const drop = async (key: string) => {
    h.objects.put(INPUT_BUCKET, key, minimalMp4(), { contentType: 'video/mp4', metadata: { prompt: 'p' } });
    return handleObjectCreated(h.deps, { bucket: INPUT_BUCKET, key });
  };
  return { ...h, drop };
}

describe.each([
  ['without admission limits', {}],
  [
    'under a cap and a daily budget',
    { admission: { maxInFlight: 3, dailyCreditBudget: 1000, creditsPerJobEstimate: 40 } },
  ],
])('a provider out of credits (%s)', (_name, settings: Partial<SubmissionSettings>) => {
  it('leaves the job WAITING for PROVIDER_CREDITS, unclaimed, with no event and no execution', async () => {
    const h = setup(settings);
    h.provider.scriptCreate(outOfCredits());

    const job = await h.drop('a.mp4');

    expect(job?.status).toBe(JobStatus.waiting);
    expect(job?.waitingFor).toBe('PROVIDER_CREDITS');
    expect(job?.submissionClaim).toBeUndefined();
    expect(job?.error).toBeUndefined();
    expect(h.events.published).toStrictEqual([]);
    expect(h.executions.started).toStrictEqual([]);
    expect([...(await h.admission.slotHolders()).keys()]).toStrictEqual([]);
  });

  it('tries one waiting job per sweep while the provider refuses, then resumes them all, each POSTed once more', async () => {
    const h = setup(settings);
    h.provider.scriptCreate(outOfCredits(), outOfCredits(), outOfCredits());
    for (const key of ['a.mp4', 'b.mp4', 'c.mp4']) await h.drop(key);
    expect(h.provider.creates).toHaveLength(3);

    // Still out of credits: the sweep tries one job, which waits again.
    h.provider.scriptCreate(outOfCredits());
    h.clock.advanceSeconds(61);
    const refused = await sweepStuckJobs(h.deps, SWEEP);
    expect(refused.admitted).toBe(0);
    expect(h.provider.creates).toHaveLength(4);

    // Credits are back: the next sweep submits every waiting job.
    h.clock.advanceSeconds(61);
    const resumed = await sweepStuckJobs(h.deps, SWEEP);
    expect(resumed.admitted).toBe(3);
    expect(h.provider.creates).toHaveLength(7);
    const jobs = h.jobs.all();
    expect(jobs.map((job) => job?.status)).toStrictEqual([
      JobStatus.submitted,
      JobStatus.submitted,
      JobStatus.submitted,
    ]);
    expect(jobs.every((job) => job?.generationId !== undefined && job.waitingFor === undefined)).toBe(true);
    expect(h.executions.started).toHaveLength(3);
    expect(h.events.published).toStrictEqual([]);
  });
});
