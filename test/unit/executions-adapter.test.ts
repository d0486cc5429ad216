/**
 * The executions adapter against the local Step Functions API, which answers StartExecution as
 * AWS does (same name and input on a RUNNING execution: that execution; otherwise
 * ExecutionAlreadyExists): what a second start of one job attempt's execution yields.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecutionAlreadyExists, SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import { StepFunctionsExecutions } from '../../functions/adapters/executions.js';
import { startStepFunctionsApi } from '../../local/step-functions/api-server.js';
import { StateMachineHost } from '../../local/step-functions/host.js';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:JobPoller';
const EXECUTION_ARN_PREFIX = 'arn:aws:states:us-east-1:123456789012:execution:JobPoller:';

/** Waits the input's first wait, then ends: long enough to stay RUNNING through a test. */
const DEFINITION = JSON.stringify({
  StartAt: 'Wait before checking',
  States: {
    'Wait before checking': { Type: 'Wait', SecondsPath: '$.waitSeconds', Next: 'Done' },
    Done: { Type: 'Succeed' },
  },
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const dataDir = mkdtempSync(join(tmpdir(), 'vidflow-executions-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const host = new StateMachineHost({
    stateMachineArn: STATE_MACHINE_ARN,
    name: 'JobPoller',
    definition: DEFINITION,
    dataDir,
    invokeLambda: async () => {
      throw new Error('no task in this definition');
    },
  });
  cleanups.push(() => host.close());
  const api = await startStepFunctionsApi({ host: '127.0.0.1', port: 0, machines: [host] });
  cleanups.push(() => api.close());
  const sfn = new SFNClient({
    endpoint: api.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  cleanups.push(() => sfn.destroy());
  return { sfn, host, executions: new StepFunctionsExecutions(sfn, STATE_MACHINE_ARN) };
}

describe('StepFunctionsExecutions.start', () => {
  it('starts one execution for the same job and input, however often it is asked', async () => {
    const { executions } = await setup();

    const first = await executions.start('job-a', { jobId: 'job-a', waitSeconds: 600 });
    const again = await executions.start('job-a', { jobId: 'job-a', waitSeconds: 600 });

    expect(first).toStrictEqual({ executionArn: `${EXECUTION_ARN_PREFIX}job-a` });
    expect(again).toStrictEqual(first);
  });

  it("adopts the job's running execution started with another first wait", async () => {
    const { executions, host } = await setup();
    await executions.start('job-b', { jobId: 'job-b', waitSeconds: 600 });

    const later = await executions.start('job-b', { jobId: 'job-b', waitSeconds: 540 });

    expect(later).toStrictEqual({ executionArn: `${EXECUTION_ARN_PREFIX}job-b` });
    expect(host.describeExecution(later.executionArn)).toMatchObject({
      status: 'RUNNING',
      input: '{"jobId":"job-b","waitSeconds":600}',
    });
  });

  it("records the job's ended execution rather than start another under its name", async () => {
    const { executions, sfn, host } = await setup();
    const { executionArn } = await executions.start('job-c', { jobId: 'job-c', waitSeconds: 600 });
    await sfn.send(new StopExecutionCommand({ executionArn }));

    const again = await executions.start('job-c', { jobId: 'job-c', waitSeconds: 600 });

    expect(again).toStrictEqual({ executionArn });
    expect(host.describeExecution(executionArn)).toMatchObject({ status: 'ABORTED' });
  });

  it('throws ExecutionAlreadyExists when the name is taken by another job', async () => {
    const { executions } = await setup();
    await executions.start('job-d', { jobId: 'someone-else', waitSeconds: 600 });

    await expect(executions.start('job-d', { jobId: 'job-d', waitSeconds: 600 })).rejects.toBeInstanceOf(
      ExecutionAlreadyExists,
    );
  });
});
