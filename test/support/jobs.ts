/**
 * Job records for tests that start from a job in some state.
 */
import { type Job, JobStatus, MODEL } from '../../functions/domain/job.js';
import type { PollSettings } from '../../functions/domain/poll-policy.js';

export const INPUT_BUCKET = 'vidflow-input';
export const OUTPUT_BUCKET = 'vidflow-output';
export const T0 = '2025-05-01T12:00:00.000Z';

/** The polling settings of the tests that do not vary them: the product's defaults, written out. */
export const POLL_SETTINGS: PollSettings = {
  minWaitSeconds: 5,
  maxWaitSeconds: 60,
  initialWaitSeconds: 60,
  checkCostSeconds: 4,
  typicalTimes: {},
};

/** A job that was submitted at {@link T0} and is generating, with a deadline 30 min later. */
export function aJob(overrides: Partial<Job> = {}): Job {
  return {
    jobId: 'abcdefghij234567abcd',
    status: JobStatus.generating,
    source: {
      bucket: INPUT_BUCKET,
      key: 'trips/clip.mp4',
      eTag: '0123456789abcdef0123456789abcdef',
      size: 1234,
      contentType: 'video/mp4',
    },
    trigger: {
      kind: 'upload',
      bucket: INPUT_BUCKET,
      key: 'trips/clip.mp4',
      eTag: '0123456789abcdef0123456789abcdef',
    },
    request: { model: MODEL, prompt: 'make it snow', frameSize: '1280:720', duration: 5 },
    generationId: 'gen-42',
    providerStatus: 'generating',
    pollCount: 0,
    attempt: 1,
    createdAt: T0,
    submittedAt: T0,
    updatedAt: T0,
    statusChangedAt: T0,
    deadlineAt: '2025-05-01T12:30:00.000Z',
    executionArn: 'arn:aws:states:us-east-1:123456789012:execution:vidflow:abcdefghij234567abcd',
    ...overrides,
  };
}

/** A job as its terminal event carried it: published before it was marked `eventPublishedAt`. */
export function asPublished(job: Job | undefined): Job | undefined {
  if (job === undefined) return undefined;
  const { eventPublishedAt: _mark, ...published } = job;
  return published;
}
