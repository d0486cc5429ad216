/**
 * The in-flight cap and the daily credit budget on the local runtime: the synthesized state
 * machine's "Let waiting jobs in" step and the sweep function do the admitting, as in AWS.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Job, JobStatus, WaitReason } from '../../functions/domain/job.js';
import {
  emulatorRequests,
  generationPosts,
  putObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitForJob,
} from '../support/runtime-harness.js';

const IN_FLIGHT: readonly JobStatus[] = [JobStatus.submitted, JobStatus.generating, JobStatus.copying];

async function dropAll(rt: TestRuntime, keys: readonly string[]): Promise<string[]> {
  const body = await readFile(await testClip());
  return Promise.all(
    keys.map((key) =>
      putObject(rt.clients.s3, {
        bucket: rt.endpoints.inputBucket,
        key,
        body,
        metadata: { prompt: 'paint it as a watercolor', 'frame-size': '640:480' },
      }),
    ),
  );
}

describe('an in-flight cap of 2 with 6 drops at once', () => {
  let rt: TestRuntime;
  let jobIds: string[];
  const seen = { maxHolders: 0, maxInFlight: 0, waiting: new Set<string>() };
  let finished: Job[];

  beforeAll(async () => {
    rt = await startTestRuntime({ functionEnvironment: { VIDFLOW_MAX_IN_FLIGHT: '2' } });
    jobIds = await dropAll(
      rt,
      Array.from({ length: 6 }, (_, i) => `capped/clip-${i}.mp4`),
    );
    // Sample the slots and the records until every job ended.
    for (;;) {
      const holders = await rt.clients.admission.slotHolders();
      const jobs = await Promise.all(jobIds.map((id) => rt.clients.jobs.get(id)));
      seen.maxHolders = Math.max(seen.maxHolders, holders.size);
      seen.maxInFlight = Math.max(
        seen.maxInFlight,
        jobs.filter((job) => job?.generationId !== undefined && IN_FLIGHT.includes(job.status)).length,
      );
      for (const job of jobs) if (job?.status === JobStatus.waiting) seen.waiting.add(job.jobId);
      if (jobs.every((job) => job !== undefined && job.status === JobStatus.completed)) break;
      if (jobs.some((job) => job?.status === JobStatus.failed)) break;
      await new Promise((resolvePause) => setTimeout(resolvePause, 100));
    }
    finished = await Promise.all(jobIds.map((id) => waitForJob(rt.clients.jobs, id)));
  }, 180_000);

  afterAll(async () => {
    await rt?.stop();
  });

  it('completes every drop, each with exactly one POST', async () => {
    expect(finished.map((job) => job.status)).toStrictEqual(Array(6).fill(JobStatus.completed));
    expect(generationPosts(await emulatorRequests(rt.endpoints.provider))).toHaveLength(6);
  });

  it('never has more than 2 jobs holding a slot or in flight at the provider', () => {
    expect(seen).toMatchObject({ maxHolders: 2, maxInFlight: 2 });
  });

  it('shows the drops beyond the cap as WAITING, then lets them in', () => {
    expect(seen.waiting.size).toBeGreaterThanOrEqual(1);
    for (const job of finished) expect(job.waitingFor).toBeUndefined();
  });

  it('leaves no slot held once every job ended', async () => {
    expect((await rt.clients.admission.slotHolders()).size).toBe(0);
  });
});

describe('a daily credit budget of 80 credits (40 per job)', () => {
  let rt: TestRuntime;
  let jobIds: string[];

  beforeAll(async () => {
    rt = await startTestRuntime({
      functionEnvironment: {
        VIDFLOW_MAX_IN_FLIGHT: '0',
        VIDFLOW_DAILY_CREDIT_BUDGET: '80',
        VIDFLOW_CREDITS_PER_JOB_ESTIMATE: '40',
      },
    });
    jobIds = await dropAll(rt, ['budget/a.mp4', 'budget/b.mp4', 'budget/c.mp4']);
  }, 60_000);

  afterAll(async () => {
    await rt?.stop();
  });

  it('runs two drops and keeps the third WAITING for BUDGET, unpaid, after the others completed', async () => {
    const jobs = await Promise.all(
      jobIds.map((id) =>
        waitForJob(
          rt.clients.jobs,
          id,
          (job) => job.status === JobStatus.completed || job.status === JobStatus.waiting,
        ),
      ),
    );
    const waiting = jobs.filter((job) => job.status === JobStatus.waiting);
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatchObject({ waitingFor: WaitReason.budget });
    expect(waiting[0]?.generationId).toBeUndefined();
    const done = await Promise.all(
      jobs
        .filter((job) => job.status !== JobStatus.waiting)
        .map((job) => waitForJob(rt.clients.jobs, job.jobId)),
    );
    expect(done.map((job) => [job.status, job.creditsUsed])).toStrictEqual([
      [JobStatus.completed, 40],
      [JobStatus.completed, 40],
    ]);
    const day = new Date().toISOString().slice(0, 10);
    expect(await rt.clients.admission.creditsSpent(day)).toBe(80);
    expect(generationPosts(await emulatorRequests(rt.endpoints.provider))).toHaveLength(2);
    // Still waiting after both ended and their executions let waiting jobs in.
    expect((await rt.clients.jobs.get(waiting[0]?.jobId ?? ''))?.status).toBe(JobStatus.waiting);
  });
});
