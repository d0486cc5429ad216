/**
 * `vidflow cancel` and `vidflow retry` end to end. The emulator makes the first generation hang
 * (`result:stuck`) and the second fail (`result:error`); later ones complete.
 */
import { readFile } from 'node:fs/promises';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileJobEvents } from '../../functions/adapters/events.js';
import { cancelJob } from '../../functions/domain/cancel-job.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { silentLogger, systemClock } from '../../functions/domain/ports.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws-clients.js';
import {
  emulatorRequests,
  eventsOfJob,
  isSettled,
  objectExists,
  postsForObject,
  putObject,
} from '../support/runtime-harness.js';
import { type CliRuntime, startCliRuntime, testClip } from './cli-harness.js';
import { jobRecordProblems } from './schemas.js';

describe('vidflow cancel and retry', () => {
  let cli: CliRuntime;
  let clip: Uint8Array;
  let sfn: SFNClient;
  let cancelledId: string;
  let failedId: string;

  const upload = async (key: string, body: Uint8Array | string = clip): Promise<string> =>
    putObject(cli.clients.s3, { bucket: 'vidflow-input', key, body, metadata: { prompt: 'warm light' } });
  const executionStatus = async (executionArn: string | undefined) =>
    (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
  const detailTypes = async (jobId: string) =>
    (await eventsOfJob(cli.runtime.endpoints.eventsFile, jobId)).map((event) => [
      event.detailType,
      (event.detail as { attempt?: number }).attempt,
    ]);

  beforeAll(async () => {
    cli = await startCliRuntime({ emulator: { faults: 'result:stuck:count=1,result:error:count=1' } });
    clip = await readFile(await testClip());
    sfn = new SFNClient({
      endpoint: cli.runtime.endpoints.stepfunctions,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
  });

  afterAll(async () => {
    sfn?.destroy();
    await cli?.stop();
  });

  it('cancel records CANCELLED, stops the execution and publishes Job Cancelled', async () => {
    cancelledId = await upload('hang/stuck.mp4');
    const running = await cli.waitForJob(cancelledId, (job) => job.executionArn !== undefined);

    const result = await cli.vidflow(['cancel', cancelledId, '--reason', 'wrong prompt']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^job ${cancelledId} cancelled \\(it was (SUBMITTED|GENERATING)\\); its execution was stopped; \`vidflow retry ${cancelledId}\` starts it again\n$`,
      ),
    );

    const record = JSON.parse((await cli.vidflow(['status', cancelledId, '--json'])).stdout) as Job;
    expect(jobRecordProblems(record)).toEqual([]);
    expect(record).toMatchObject({
      status: 'CANCELLED',
      error: { code: 'CANCELLED', message: 'wrong prompt', stage: 'generation', retryable: true },
      generationId: running.generationId,
    });
    expect(record.completedAt).toBeDefined();
    // The generation runs on at the provider: the attempt records what it is taken to cost.
    expect(record.creditsUsed).toBe(40); // VIDFLOW_CREDITS_PER_JOB_ESTIMATE by default
    expect(await executionStatus(running.executionArn)).toBe('ABORTED');
    expect(await detailTypes(cancelledId)).toEqual([['Job Cancelled', 1]]);
  });

  it('cancel of a job waiting for its prompt says to upload again, not to retry', async () => {
    const waitingId = await putObject(cli.clients.s3, {
      bucket: 'vidflow-input',
      key: 'noprompt/clip.mp4',
      body: clip,
    });
    await cli.waitForJob(waitingId, (job) => job.status === 'AWAITING_PROMPT');

    const result = await cli.vidflow(['cancel', waitingId]);

    expect(result).toEqual({
      code: 0,
      stdout: `job ${waitingId} cancelled (it was AWAITING_PROMPT); it had no prompt, so there is nothing to retry: upload the video again with a prompt\n`,
      stderr: '',
    });
    const record = JSON.parse((await cli.vidflow(['status', waitingId, '--json'])).stdout) as Job;
    expect(record.creditsUsed).toBeUndefined();
  });

  it('cancel refuses a job that already ended', async () => {
    const again = await cli.vidflow(['cancel', cancelledId, '--json']);
    expect(again).toEqual({
      code: 1,
      stdout: '',
      stderr: `vidflow: job ${cancelledId} already ended as CANCELLED; only a job in flight can be cancelled\n`,
    });
  });

  it('retry starts a new attempt of a failed job and keeps the failed one in attempts', async () => {
    const submitted = await cli.vidflow([
      'submit',
      '--key',
      'fails/once.mp4',
      '--prompt',
      'sepia',
      '--wait',
      '--json',
      await testClip(),
    ]);
    expect(submitted.code).toBe(1);
    const failed = JSON.parse(submitted.stdout) as Job;
    failedId = failed.jobId;
    expect(failed).toMatchObject({ status: 'FAILED', error: { code: 'GENERATION_FAILED' }, attempt: 1 });

    const retried = await cli.vidflow(['retry', failedId, '--json']);
    expect(retried.code).toBe(0);
    const record = JSON.parse(retried.stdout) as Job;
    expect(jobRecordProblems(record)).toEqual([]);
    expect(record).toMatchObject({ jobId: failedId, status: 'SUBMITTED', attempt: 2, pollCount: 0 });
    expect(record.executionArn).toMatch(new RegExp(`:execution:vidflow-jobs:${failedId}-2$`));
    expect(record.generationId).not.toBe(failed.generationId);
    for (const cleared of ['error', 'output', 'completedAt', 'creditsUsed'] as const)
      expect(record[cleared]).toBeUndefined();
    expect(record.attempts).toEqual([
      {
        attempt: 1,
        status: 'FAILED',
        error: failed.error,
        generationId: failed.generationId,
        pollCount: failed.pollCount,
        executionArn: failed.executionArn,
        submittedAt: failed.submittedAt,
        completedAt: failed.completedAt,
        ...(failed.creditsUsed === undefined ? {} : { creditsUsed: failed.creditsUsed }),
      },
    ]);

    const watched = await cli.vidflow(['watch', failedId]);
    expect(watched.code).toBe(0);
    expect(watched.stdout.trim().split('\n').at(-1)).toMatch(
      new RegExp(`^${failedId}  \\S.*  COMPLETED  attempt 2  `),
    );
    // `watch` ends at the status; the event is the job end's last step.
    await cli.waitForJob(failedId, isSettled);
    expect(await detailTypes(failedId)).toEqual([
      ['Job Failed', 1],
      ['Job Completed', 2],
    ]);
    // Two paid generations for the one upload: the failed one and the retry.
    expect(
      postsForObject(
        await emulatorRequests(cli.runtime.endpoints.provider),
        'vidflow-input',
        'fails/once.mp4',
      ),
    ).toHaveLength(2);
  });

  it('retry of a cancelled job starts it again under the same job id', async () => {
    const retried = await cli.vidflow(['retry', cancelledId]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(
      new RegExp(
        `^job ${cancelledId}: attempt 2 is SUBMITTED \\(generation \\S+\\); follow it with \`vidflow watch ${cancelledId}\`\n$`,
      ),
    );
    const done = await cli.waitForJob(cancelledId, isSettled);
    expect(done).toMatchObject({
      status: 'COMPLETED',
      attempt: 2,
      attempts: [{ attempt: 1, status: 'CANCELLED' }],
    });
    expect(done.executionArn).toMatch(new RegExp(`:${cancelledId}-2$`));
  });

  it('retry refuses completed, rejected and unknown jobs', async () => {
    const completed = await cli.vidflow(['retry', failedId]);
    expect(completed).toEqual({
      code: 1,
      stdout: '',
      stderr: `vidflow: job ${failedId} completed; nothing to retry\n`,
    });

    const rejectedId = await upload('bad/not-a-video.mp4', 'not a video at all');
    await cli.waitForJob(rejectedId, (job) => job.status === JobStatus.rejected);
    const rejected = await cli.vidflow(['retry', rejectedId]);
    expect(rejected).toEqual({
      code: 1,
      stdout: '',
      stderr: `vidflow: job ${rejectedId} was rejected (NOT_A_VIDEO): fix the input and upload it again\n`,
    });

    const unknown = await cli.vidflow(['retry', 'bbbbbbbbbbbbbbbbbbbb']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^vidflow: no job bbbbbbbbbbbbbbbbbbbb in the local runtime/);
  });

  it('a provider result that arrives after the cancellation changes nothing', async () => {
    // Cancel without stopping the execution, as when StopExecution loses a race: the execution
    // keeps polling, and the generation completes at the provider.
    const jobId = await upload('late/result.mp4');
    const running = await cli.waitForJob(jobId, (job) => job.executionArn !== undefined);
    const { job: cancelled } = await cancelJob(
      {
        jobs: cli.clients.jobs,
        admission: cli.clients.admission,
        executions: { stop: async () => undefined },
        events: new FileJobEvents(cli.runtime.endpoints.eventsFile),
        clock: systemClock,
        logger: silentLogger,
      },
      jobId,
    );

    // The next check finds the job cancelled and the execution ends without touching it.
    for (let i = 0; (await executionStatus(running.executionArn)) === 'RUNNING'; i += 1) {
      if (i > 300) throw new Error('the execution never ended');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await executionStatus(running.executionArn)).toBe('FAILED');
    await waitForProviderCompletion(cli.runtime.endpoints.provider, running.generationId ?? '');

    expect(await cli.clients.jobs.get(jobId)).toEqual(cancelled);
    expect(await objectExists(cli.clients.s3, 'vidflow-output', `late/result/${jobId}.mp4`)).toBe(false);
    expect(await detailTypes(jobId)).toEqual([['Job Cancelled', 1]]);
  });
});

async function waitForProviderCompletion(providerUrl: string, generationId: string): Promise<void> {
  for (let i = 0; i < 300; i += 1) {
    const response = await fetch(`${providerUrl}/v2/video/generations?generation_id=${generationId}`, {
      headers: { authorization: 'Bearer local-dev-key' },
    });
    const body = (await response.json()) as { status?: string };
    if (body.status === 'completed') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`generation ${generationId} never completed`);
}
