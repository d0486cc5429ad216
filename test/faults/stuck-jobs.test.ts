/**
 * Stuck jobs end to end (issue 4, README "How it fails"): the sweeper of the local runtime
 * resolves a job in flight whose execution is gone (it starts it again) or ended without
 * ending the job (it records the failure). The sweep rules themselves are unit-tested in
 * test/unit/sweep-jobs.test.ts; this proves them against the real runtime.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { JobStatus } from '../../functions/domain/job.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws-clients.js';
import { type Runtime, startRuntime } from '../../local/runtime.js';
import { FAULT_FUNCTION_ENVIRONMENT, outcomeOf, sortProviderCalls } from '../support/fault-harness.js';
import {
  createClients,
  emulatorRequests,
  eventsOfJob,
  findFreePorts,
  hasStatus,
  putObject,
  type RuntimeClients,
  type RuntimePorts,
  testClip,
  waitFor,
  waitForJob,
} from '../support/runtime-harness.js';

/** Generations of about 10 s, so a job is still GENERATING when the test breaks its execution. */
const TIME_SCALE = 0.05;
const GRACE_SECONDS = 3;

describe('the sweeper of the local runtime', { timeout: 120_000 }, () => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(
    dataDir: string,
    ports: RuntimePorts,
  ): Promise<{ runtime: Runtime; clients: RuntimeClients }> {
    const runtime = await startRuntime({
      dataDir,
      ports,
      emulator: { timeScale: TIME_SCALE },
      // A prior typical time far below the generations' 10 s: the polling policy checks from the
      // first second at its floor, so a job is seen GENERATING while it generates (docs/polling.md).
      functionEnvironment: { ...FAULT_FUNCTION_ENVIRONMENT, VIDFLOW_POLL_TYPICAL_SECONDS: '0.5' },
      sweepGraceSeconds: GRACE_SECONDS,
    });
    const clients = createClients(runtime.endpoints);
    const stop = async () => {
      clients.close();
      await runtime.stop();
    };
    cleanups.push(stop);
    return { runtime, clients };
  }

  async function dropGenerating(runtime: Runtime, clients: RuntimeClients, key: string) {
    const jobId = await putObject(clients.s3, {
      bucket: runtime.endpoints.inputBucket,
      key,
      body: await readFile(await testClip()),
      metadata: { prompt: 'sweeper test', 'frame-size': '640:480' },
    });
    const generating = await waitForJob(clients.jobs, jobId, hasStatus(JobStatus.generating));
    if (generating.executionArn === undefined) throw new Error(`job ${jobId} has no execution`);
    return { jobId, executionArn: generating.executionArn };
  }

  const sfnClient = (endpoint: string) =>
    new SFNClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });

  it('starts again the execution of a GENERATING job whose execution was lost, and completes it with one POST', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-faults-sweep-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const ports = await findFreePorts();
    const first = await start(dataDir, ports);
    const { jobId, executionArn } = await dropGenerating(first.runtime, first.clients, 'sweep/lost.mp4');

    // The state machine's store is lost while the runtime is down; the job record is not.
    await first.runtime.stop();
    await rm(join(dataDir, 'stepfunctions'), { recursive: true, force: true });
    const second = await start(dataDir, ports);

    const job = await waitForJob(second.clients.jobs, jobId);
    expect(outcomeOf(job)).toBe(JobStatus.completed);
    expect(job.executionArn).toBe(executionArn);
    const sfn = sfnClient(second.runtime.endpoints.stepfunctions);
    cleanups.push(async () => sfn.destroy());
    // The job turns COMPLETED before its execution has run its last steps: wait for the
    // execution itself to end rather than on the order the two happen to finish in.
    const ended = await waitFor('the execution to end', async () => {
      const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return status === 'RUNNING' ? undefined : status;
    });
    expect(ended).toBe('SUCCEEDED');
    const calls = sortProviderCalls(await emulatorRequests(second.runtime.endpoints.provider));
    expect(calls.paidPosts.map((post) => post.generationId)).toEqual([job.generationId]);
  });

  it('records FAILED with EXECUTION_ABORTED for a GENERATING job whose execution was stopped, and emits its event', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-faults-sweep-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const { runtime, clients } = await start(dataDir, await findFreePorts());
    const { jobId, executionArn } = await dropGenerating(runtime, clients, 'sweep/stopped.mp4');
    const sfn = sfnClient(runtime.endpoints.stepfunctions);
    cleanups.push(async () => sfn.destroy());

    // Stopped from outside (a console click), so no Catch runs and the job is left GENERATING.
    await sfn.send(new StopExecutionCommand({ executionArn, error: 'Operator', cause: 'stopped by hand' }));

    const job = await waitForJob(clients.jobs, jobId);
    expect(outcomeOf(job)).toBe(`${JobStatus.failed}/EXECUTION_ABORTED`);
    expect(job.error?.retryable).toBe(false);
    const events = await waitFor('the terminal event', async () => {
      const found = await eventsOfJob(runtime.endpoints.eventsFile, jobId);
      return found.length > 0 ? found : undefined;
    });
    expect(events.map((event) => event.detailType)).toEqual(['Job Failed']);
    const calls = sortProviderCalls(await emulatorRequests(runtime.endpoints.provider));
    expect(calls.paidPosts).toHaveLength(1);
  });
});
