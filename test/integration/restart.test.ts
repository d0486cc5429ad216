/**
 * Restart safety (issue 3, README "Nothing lost, nothing paid twice"): `vidflow dev` killed with SIGKILL while jobs are
 * in flight and started again on the same data directory finishes every job, without a second
 * paid submission. The runtime runs as a child process, as a user runs it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isTerminal, type Job, JobStatus } from '../../functions/domain/job.js';
import {
  createClients,
  emulatorRequests,
  findFreePorts,
  generationPosts,
  objectExists,
  putObject,
  type RuntimeClients,
  type RuntimePorts,
  type RuntimeProcess,
  startRuntimeProcess,
  testClip,
  waitFor,
  waitForJob,
} from '../support/runtime-harness.js';

const TEST_TIMEOUT_MS = 240_000;
/**
 * Slower than the other files (about 4 s per generation), so jobs are in flight at the kill; and
 * a prior typical time far below that, so the polling policy (docs/polling.md) checks from the
 * first second at its floor instead of first near the likely finish: a job is seen GENERATING
 * (what the kill waits for) only by a check made while it generates.
 */
const CHILD_ENV = { VIDFLOW_EMULATOR_TIME_SCALE: '0.02', VIDFLOW_POLL_TYPICAL_SECONDS: '0.5' };

describe('a runtime killed mid-flight and started again', { timeout: TEST_TIMEOUT_MS }, () => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A data directory, and `vidflow dev` processes over it, all removed after the test. */
  async function useDataDir(ports?: RuntimePorts) {
    const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-it-restart-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    return async (): Promise<{ runtime: RuntimeProcess; clients: RuntimeClients }> => {
      const runtime = await startRuntimeProcess(dataDir, {
        env: CHILD_ENV,
        timeoutMs: 120_000,
        ...(ports === undefined ? {} : { ports }),
      });
      const clients = createClients(runtime.endpoints);
      cleanups.push(async () => {
        clients.close();
        await runtime.stop();
      });
      return { runtime, clients };
    };
  }

  async function dropVideos(
    clients: RuntimeClients,
    bucket: string,
    keys: readonly string[],
  ): Promise<string[]> {
    const clip = await readFile(await testClip());
    const jobIds: string[] = [];
    for (const [index, key] of keys.entries()) {
      jobIds.push(
        await putObject(clients.s3, {
          bucket,
          key,
          body: clip,
          metadata: { prompt: `restart test ${index}`, 'frame-size': '640:480' },
        }),
      );
    }
    return jobIds;
  }

  /** Polls the records until `ready` holds for them; returns them as they were then. */
  function waitForJobs(
    clients: RuntimeClients,
    jobIds: readonly string[],
    description: string,
    ready: (jobs: readonly (Job | undefined)[]) => boolean,
  ): Promise<(Job | undefined)[]> {
    return waitFor(description, async () => {
      const jobs = await Promise.all(jobIds.map((jobId) => clients.jobs.get(jobId)));
      return ready(jobs) ? jobs : undefined;
    });
  }

  /** Every job COMPLETED with its output, and exactly one paid POST each. */
  async function expectCompletedOnce(
    after: { runtime: RuntimeProcess; clients: RuntimeClients },
    jobIds: readonly string[],
    keys: readonly string[],
  ): Promise<void> {
    const finished: Job[] = [];
    for (const jobId of jobIds) finished.push(await waitForJob(after.clients.jobs, jobId));
    expect(finished.map((job) => [job.source.key, job.status, job.error?.code])).toEqual(
      keys.map((key) => [key, JobStatus.completed, undefined]),
    );
    // The request log is the emulator's, kept on disk across the restart like a remote service's.
    const posts = generationPosts(await emulatorRequests(after.runtime.endpoints.provider));
    expect(posts).toHaveLength(jobIds.length);
    expect(new Set(posts.map((post) => post.generationId))).toEqual(
      new Set(finished.map((job) => job.generationId)),
    );
    for (const job of finished) {
      const outputKey = `${job.source.key.replace(/\.mp4$/, '')}/${job.jobId}.mp4`;
      expect(job.output?.key).toBe(outputKey);
      expect(await objectExists(after.clients.s3, after.runtime.endpoints.outputBucket, outputKey)).toBe(
        true,
      );
    }
  }

  it('finishes every in-flight job after a SIGKILL and a restart on the same ports, with one POST per job', async () => {
    // Same ports, as `vidflow dev` restarts: the presigned input URLs given out stay valid.
    const start = await useDataDir(await findFreePorts());
    const keys = ['restart/a.mp4', 'restart/b.mp4', 'restart/sub dir/c.mp4', 'restart/sub dir/d.mp4'];
    const first = await start();
    const jobIds = await dropVideos(first.clients, first.runtime.endpoints.inputBucket, keys);

    // Kill once a generation is under way and no paid POST is in flight: a POST cut off by the
    // kill is never resent, by design, and ends SUBMISSION_OUTCOME_UNKNOWN, not COMPLETED.
    const atKill = await waitForJobs(
      first.clients,
      jobIds,
      'every job submitted and one GENERATING',
      (jobs) =>
        jobs.every((job) => job?.generationId !== undefined) &&
        jobs.some((job) => job?.status === JobStatus.generating),
    );
    await first.runtime.kill();
    expect(atKill.filter((job) => job !== undefined && !isTerminal(job.status))).toHaveLength(keys.length);

    const second = await start();
    expect(second.runtime.endpoints.s3).toBe(first.runtime.endpoints.s3);
    await expectCompletedOnce(second, jobIds, keys);
  });

  it('finishes generating jobs after a SIGKILL and a restart on new random ports', async () => {
    // Polls go to the new provider URL and each check hands finalize a fresh output URL, so
    // the old ports do not matter once the emulator holds the input (it fetches it right after
    // the POST; a fetch still pending at the kill would find the old S3 port gone).
    const start = await useDataDir();
    const keys = ['random ports/a.mp4', 'random ports/b.mp4'];
    const first = await start();
    const jobIds = await dropVideos(first.clients, first.runtime.endpoints.inputBucket, keys);

    await waitForJobs(first.clients, jobIds, 'every job GENERATING', (jobs) =>
      jobs.every((job) => job?.status === JobStatus.generating),
    );
    await first.runtime.kill();

    const second = await start();
    expect(second.runtime.endpoints.provider).not.toBe(first.runtime.endpoints.provider);
    await expectCompletedOnce(second, jobIds, keys);
  });
});
