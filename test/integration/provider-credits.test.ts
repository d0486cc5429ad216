/**
 * The provider's documented 403 "out of credits", end to end: with the emulator's balance at two
 * generations, five drops give two COMPLETED and three WAITING for PROVIDER_CREDITS, none FAILED
 * and no generation paid twice; raising the balance (the emulator's admin call) lets the three
 * complete by themselves (the sweeper tries waiting jobs again).
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import {
  emulatorRequests,
  generationPosts,
  hasStatus,
  putObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitForJob,
} from '../support/runtime-harness.js';

const PRICE = 40;
const KEYS = ['credits/a.mp4', 'credits/b.mp4', 'credits/c.mp4', 'credits/d.mp4', 'credits/e.mp4'];

describe('a provider that runs out of credits', () => {
  let rt: TestRuntime;
  let jobIds: string[];
  let firstRound: Job[];

  beforeAll(async () => {
    rt = await startTestRuntime({ emulatorCredits: 2 * PRICE });
    const body = await readFile(await testClip());
    jobIds = [];
    for (const key of KEYS) {
      jobIds.push(
        await putObject(rt.clients.s3, {
          bucket: rt.endpoints.inputBucket,
          key,
          body,
          metadata: { prompt: `credits ${key}` },
        }),
      );
    }
    firstRound = await Promise.all(
      jobIds.map((id) =>
        waitForJob(rt.clients.jobs, id, hasStatus(JobStatus.completed, JobStatus.waiting, JobStatus.failed)),
      ),
    );
    // The two paid jobs finish; the three refused ones stay waiting.
    firstRound = await Promise.all(
      firstRound.map((job) =>
        job.status === JobStatus.waiting
          ? job
          : waitForJob(rt.clients.jobs, job.jobId, hasStatus(JobStatus.completed, JobStatus.failed)),
      ),
    );
  }, 240_000);

  afterAll(async () => {
    await rt?.stop();
  });

  it('completes two jobs and leaves three WAITING for PROVIDER_CREDITS, none FAILED', () => {
    const byStatus = firstRound
      .map((job) => `${job.status}${job.waitingFor ? `:${job.waitingFor}` : ''}`)
      .sort();
    expect(byStatus).toEqual([
      'COMPLETED',
      'COMPLETED',
      'WAITING:PROVIDER_CREDITS',
      'WAITING:PROVIDER_CREDITS',
      'WAITING:PROVIDER_CREDITS',
    ]);
    for (const job of firstRound.filter((j) => j.status === JobStatus.waiting)) {
      expect(job.generationId).toBeUndefined();
      expect(job.error).toBeUndefined();
    }
  });

  it('completes the three by themselves once the balance is raised, each paid exactly once', async () => {
    const raised = await fetch(`${rt.endpoints.provider}/_emulator/credits`, {
      method: 'POST',
      body: JSON.stringify({ balance: 3 * PRICE }),
    });
    expect(raised.status).toBe(200);

    const final = await Promise.all(
      jobIds.map((id) => waitForJob(rt.clients.jobs, id, hasStatus(JobStatus.completed, JobStatus.failed))),
    );
    expect(final.map((job) => job.status)).toEqual(Array(5).fill(JobStatus.completed));
    const accepted = generationPosts(await emulatorRequests(rt.endpoints.provider)).filter(
      (post) => post.status === 200,
    );
    // One accepted (paid) POST per job: five generations, five distinct ids, each a job's.
    expect(accepted).toHaveLength(5);
    expect(new Set(accepted.map((post) => post.generationId)).size).toBe(5);
    expect(accepted.map((post) => post.generationId).sort()).toEqual(
      final.map((job) => job.generationId).sort(),
    );
    const refused = generationPosts(await emulatorRequests(rt.endpoints.provider)).filter(
      (post) => post.status === 403,
    );
    expect(refused.length).toBeGreaterThanOrEqual(3);
  }, 180_000);
});
