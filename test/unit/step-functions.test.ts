import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../functions/domain/ports.js';
import { type StepFunctionsApi, startStepFunctionsApi } from '../../local/step-functions/api-server.js';
import {
  InvalidDefinitionError,
  UnresolvableIntrinsicError,
  UnsupportedTaskResourceError,
} from '../../local/step-functions/errors.js';
import { type InvokeLambda, StateMachineHost } from '../../local/step-functions/host.js';
import {
  type LogicalReference,
  resolveDefinitionString,
} from '../../local/step-functions/resolve-definition.js';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:JobPoller';
const EXECUTION_ARN_PREFIX = 'arn:aws:states:us-east-1:123456789012:execution:JobPoller:';
const CHECK_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:vidflow-check';
const FINALIZE_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:vidflow-finalize';
const RECORD_FAILURE_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:vidflow-record-failure';

class ProviderUnavailableError extends Error {
  override readonly name = 'ProviderUnavailableError';
}
class GenerationFailedError extends Error {
  override readonly name = 'GenerationFailedError';
}

interface PipelineValues {
  readonly partition: string;
  readonly checkArn: string;
  readonly finalizeArn: string;
  readonly recordFailureArn: string;
}

/** Shaped like infra's definition: Wait -> lambda:invoke check -> Choice loop -> finalize -> Succeed. */
function pipelineDefinition(values: PipelineValues, timeoutSeconds?: number): Record<string, unknown> {
  const catchAll = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Record the failure' }];
  return {
    StartAt: 'Wait before checking',
    ...(timeoutSeconds === undefined ? {} : { TimeoutSeconds: timeoutSeconds }),
    States: {
      'Wait before checking': { Type: 'Wait', SecondsPath: '$.waitSeconds', Next: 'Check the generation' },
      'Check the generation': {
        Type: 'Task',
        Resource: `arn:${values.partition}:states:::lambda:invoke`,
        Parameters: { FunctionName: values.checkArn, 'Payload.$': '$' },
        OutputPath: '$.Payload',
        Retry: [
          { ErrorEquals: ['ProviderUnavailableError'], IntervalSeconds: 1, MaxAttempts: 1, BackoffRate: 1 },
        ],
        Catch: catchAll,
        Next: 'Generation finished?',
      },
      'Generation finished?': {
        Type: 'Choice',
        Choices: [
          { Variable: '$.finished', BooleanEquals: true, Next: 'Copy the result to the output bucket' },
        ],
        Default: 'Wait before checking',
      },
      'Copy the result to the output bucket': {
        Type: 'Task',
        Resource: values.finalizeArn,
        Catch: catchAll,
        Next: 'Job completed',
      },
      'Job completed': { Type: 'Succeed' },
      'Record the failure': {
        Type: 'Task',
        Resource: `arn:${values.partition}:states:::lambda:invoke`,
        Parameters: { FunctionName: values.recordFailureArn, 'Payload.$': '$' },
        OutputPath: '$.Payload',
        Next: 'Job failed',
      },
      'Job failed': { Type: 'Fail', Error: 'JobFailed', Cause: 'The job failed; see its record' },
    },
  };
}

const LOCAL_VALUES: PipelineValues = {
  partition: 'aws',
  checkArn: CHECK_ARN,
  finalizeArn: FINALIZE_ARN,
  recordFailureArn: RECORD_FAILURE_ARN,
};

/** Splits the ASL text around `@@Token@@` placeholders into a Fn::Join, as `cdk synth` does. */
function tokenizedDefinitionString(timeoutSeconds?: number): unknown {
  const tokens: Record<string, unknown> = {
    Partition: { Ref: 'AWS::Partition' },
    CheckArn: { 'Fn::GetAtt': ['CheckFunction', 'Arn'] },
    FinalizeArn: { 'Fn::GetAtt': ['FinalizeFunction', 'Arn'] },
    RecordFailureArn: { 'Fn::GetAtt': ['RecordFailureFunction', 'Arn'] },
  };
  const text = JSON.stringify(
    pipelineDefinition(
      {
        partition: '@@Partition@@',
        checkArn: '@@CheckArn@@',
        finalizeArn: '@@FinalizeArn@@',
        recordFailureArn: '@@RecordFailureArn@@',
      },
      timeoutSeconds,
    ),
  );
  const parts = text.split(/@@(\w+)@@/).map((part, index) => (index % 2 === 1 ? tokens[part] : part));
  return { 'Fn::Join': ['', parts] };
}

function resolveLocally(ref: LogicalReference): string {
  const values: Record<string, string> = {
    'AWS::Partition': 'aws',
    'CheckFunction.Arn': CHECK_ARN,
    'FinalizeFunction.Arn': FINALIZE_ARN,
    'RecordFailureFunction.Arn': RECORD_FAILURE_ARN,
  };
  const key = ref.attribute === undefined ? ref.logicalId : `${ref.logicalId}.${ref.attribute}`;
  const value = values[key];
  if (value === undefined) throw new Error(`No local value for ${key}`);
  return value;
}

function pipelineAsl(timeoutSeconds?: number): string {
  return resolveDefinitionString(tokenizedDefinitionString(timeoutSeconds), resolveLocally);
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((res) => {
    resolve = res;
  });
  return { promise, resolve };
}

type FakeHandler = (payload: unknown) => Promise<unknown> | unknown;

/** Lambdas by function ARN, recording every call. */
class FakeLambdas {
  readonly calls: { functionArn: string; payload: unknown }[] = [];
  constructor(private readonly handlers: Record<string, FakeHandler>) {}

  readonly invoke: InvokeLambda = async (functionArn, payload) => {
    this.calls.push({ functionArn, payload });
    const handler = this.handlers[functionArn];
    if (!handler) throw new Error(`No fake for ${functionArn}`);
    return handler(payload);
  };

  payloadsOf(functionArn: string): unknown[] {
    return this.calls.filter((call) => call.functionArn === functionArn).map((call) => call.payload);
  }
}

/** A check that reports finished on its `finishOnCall`-th call. */
function checkFinishingOnCall(finishOnCall: number): FakeHandler {
  let calls = 0;
  return (payload) => {
    calls += 1;
    const jobId = (payload as { jobId: string }).jobId;
    return calls >= finishOnCall
      ? { jobId, waitSeconds: 0, finished: true, videoUrl: `https://cdn.example/${jobId}.mp4` }
      : { jobId, waitSeconds: 0, finished: false };
  };
}

function finalize(payload: unknown): unknown {
  return { jobId: (payload as { jobId: string }).jobId, status: 'COMPLETED' };
}

function recordFailure(payload: unknown): unknown {
  return { jobId: (payload as { jobId: string }).jobId, status: 'FAILED' };
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function createDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vidflow-sfn-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function createHost(options: {
  invokeLambda: InvokeLambda;
  dataDir?: string;
  definition?: string;
  clock?: { now(): Date };
  logger?: Logger;
}): StateMachineHost {
  const host = new StateMachineHost({
    stateMachineArn: STATE_MACHINE_ARN,
    name: 'JobPoller',
    definition: options.definition ?? pipelineAsl(),
    dataDir: options.dataDir ?? createDataDir(),
    invokeLambda: options.invokeLambda,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  cleanups.push(() => host.close());
  return host;
}

async function createClient(host: StateMachineHost): Promise<{ client: SFNClient; api: StepFunctionsApi }> {
  const api = await startStepFunctionsApi({ host: '127.0.0.1', port: 0, machines: [host] });
  const client = new SFNClient({
    endpoint: api.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  cleanups.push(async () => {
    client.destroy();
    await api.close();
  });
  return { client, api };
}

/** Lets settled promises and zero-delay work run (no wall-clock wait). */
async function flushPendingWork(): Promise<void> {
  for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
}

async function sdkErrorOf(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return { name: error instanceof Error ? error.name : String(error), status };
  }
  throw new Error('Expected the call to fail');
}

describe('resolveDefinitionString', () => {
  it('resolves a Fn::Join DefinitionString with Ref and Fn::GetAtt parts into the plain ASL', () => {
    const asl = resolveDefinitionString(tokenizedDefinitionString(), resolveLocally);

    expect(JSON.parse(asl)).toEqual(pipelineDefinition(LOCAL_VALUES));
  });

  it('resolves nested Fn::Join and the "LogicalId.Attribute" string form of Fn::GetAtt', () => {
    const definitionString = {
      'Fn::Join': [
        '',
        ['{"Comment":"', { 'Fn::Join': ['-', ['a', { 'Fn::GetAtt': 'CheckFunction.Arn' }]] }, '"}'],
      ],
    };

    expect(resolveDefinitionString(definitionString, resolveLocally)).toBe(`{"Comment":"a-${CHECK_ARN}"}`);
  });

  it('throws UnresolvableIntrinsicError for an intrinsic it does not resolve (Fn::Sub)', () => {
    const definitionString = {
      'Fn::Join': ['', ['{"Comment":"', { 'Fn::Sub': 'arn:aws:s3:::media-bucket' }, '"}']],
    };

    expect(() => resolveDefinitionString(definitionString, resolveLocally)).toThrow(
      UnresolvableIntrinsicError,
    );
    expect(() => resolveDefinitionString(definitionString, resolveLocally)).toThrow(
      'Cannot resolve {"Fn::Sub":"arn:aws:s3:::media-bucket"} at DefinitionString[1]',
    );
  });

  it('throws UnresolvableIntrinsicError keeping the resolver error as cause for an unknown reference', () => {
    const definitionString = { 'Fn::Join': ['', ['{"Comment":"', { Ref: 'MissingBucket' }, '"}']] };

    let thrown: unknown;
    try {
      resolveDefinitionString(definitionString, resolveLocally);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnresolvableIntrinsicError);
    expect((thrown as Error).message).toBe('Cannot resolve MissingBucket at DefinitionString[1]');
    expect(((thrown as Error).cause as Error).message).toBe('No local value for MissingBucket');
  });

  it('throws InvalidDefinitionError when the resolved text is not a JSON object', () => {
    expect(() =>
      resolveDefinitionString({ 'Fn::Join': ['', ['{"StartAt":', '"x"']] }, resolveLocally),
    ).toThrow(InvalidDefinitionError);
  });
});

describe('StateMachineHost', () => {
  it('refuses a definition with a Task resource other than a Lambda invocation', () => {
    const definition = JSON.stringify({
      StartAt: 'Publish',
      States: { Publish: { Type: 'Task', Resource: 'arn:aws:states:::sns:publish', End: true } },
    });

    expect(() => createHost({ invokeLambda: async () => null, definition })).toThrow(
      UnsupportedTaskResourceError,
    );
  });

  it('waits SecondsPath, loops check -> Choice until finished, then succeeds with the finalize result', async () => {
    const checkCallTimes: number[] = [];
    const check = checkFinishingOnCall(3);
    const lambdas = new FakeLambdas({
      [CHECK_ARN]: (payload) => {
        checkCallTimes.push(Date.now());
        return check(payload);
      },
      [FINALIZE_ARN]: finalize,
    });
    const host = createHost({ invokeLambda: lambdas.invoke });
    const { client } = await createClient(host);
    const startedAt = Date.now();

    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: STATE_MACHINE_ARN,
        name: 'job-loop',
        input: '{"jobId":"job-loop","waitSeconds":1}',
      }),
    );
    await host.whenFinished(`${EXECUTION_ARN_PREFIX}job-loop`);
    const described = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));

    expect(started.executionArn).toBe(`${EXECUTION_ARN_PREFIX}job-loop`);
    expect(checkCallTimes[0] ?? 0).toBeGreaterThanOrEqual(startedAt + 1000);
    expect(lambdas.payloadsOf(CHECK_ARN)).toEqual([
      { jobId: 'job-loop', waitSeconds: 1 },
      { jobId: 'job-loop', waitSeconds: 0, finished: false },
      { jobId: 'job-loop', waitSeconds: 0, finished: false },
    ]);
    expect(lambdas.payloadsOf(FINALIZE_ARN)).toEqual([
      { jobId: 'job-loop', waitSeconds: 0, finished: true, videoUrl: 'https://cdn.example/job-loop.mp4' },
    ]);
    expect(described).toMatchObject({
      executionArn: `${EXECUTION_ARN_PREFIX}job-loop`,
      stateMachineArn: STATE_MACHINE_ARN,
      name: 'job-loop',
      status: 'SUCCEEDED',
      input: '{"jobId":"job-loop","waitSeconds":1}',
      output: '{"jobId":"job-loop","status":"COMPLETED"}',
    });
    expect(described.startDate).toEqual(started.startDate);
    expect(described.stopDate?.getTime() ?? 0).toBeGreaterThanOrEqual(
      started.startDate?.getTime() ?? Infinity,
    );
  });

  it('retries a Lambda error matched by name in Retry, then Catch records {Error, Cause} and the job fails', async () => {
    const checkErrors = [
      new ProviderUnavailableError('provider answered 503'),
      new GenerationFailedError('the provider could not generate the video'),
    ];
    const lambdas = new FakeLambdas({
      [CHECK_ARN]: () => {
        throw checkErrors.shift();
      },
      [RECORD_FAILURE_ARN]: recordFailure,
    });
    const host = createHost({ invokeLambda: lambdas.invoke });
    const { client } = await createClient(host);

    const { executionArn } = await client.send(
      new StartExecutionCommand({
        stateMachineArn: STATE_MACHINE_ARN,
        name: 'job-fails',
        input: '{"jobId":"job-fails","waitSeconds":0}',
      }),
    );
    await host.whenFinished(`${EXECUTION_ARN_PREFIX}job-fails`);
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));

    expect(lambdas.payloadsOf(CHECK_ARN)).toHaveLength(2);
    const recorded = lambdas.payloadsOf(RECORD_FAILURE_ARN) as {
      jobId: string;
      waitSeconds: number;
      error: { Error: string; Cause: string };
    }[];
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.jobId).toBe('job-fails');
    expect(recorded[0]?.error.Error).toBe('GenerationFailedError');
    expect(JSON.parse(recorded[0]?.error.Cause ?? '')).toEqual({
      errorType: 'GenerationFailedError',
      errorMessage: 'the provider could not generate the video',
      trace: expect.arrayContaining(['GenerationFailedError: the provider could not generate the video']),
    });
    expect(described.status).toBe('FAILED');
    expect(described.error).toBe('JobFailed');
    expect(described.cause).toBe('The job failed; see its record');
    expect(described.output).toBeUndefined();
  });

  it('fails the execution with the Lambda error name when no Catch handles it', async () => {
    const lambdas = new FakeLambdas({
      [CHECK_ARN]: () => {
        throw new GenerationFailedError('no video');
      },
      [RECORD_FAILURE_ARN]: () => {
        throw new ProviderUnavailableError('table unavailable');
      },
    });
    const host = createHost({ invokeLambda: lambdas.invoke });

    const { executionArn } = await host.startExecution({
      name: 'job-uncaught',
      input: '{"jobId":"j","waitSeconds":0}',
    });
    const ended = await host.whenFinished(executionArn);

    expect(ended.status).toBe('FAILED');
    expect(ended.error).toBe('ProviderUnavailableError');
    expect(JSON.parse(ended.cause ?? '')).toMatchObject({
      errorType: 'ProviderUnavailableError',
      errorMessage: 'table unavailable',
    });
  });

  it('returns the RUNNING execution for the same name and input, and ExecutionAlreadyExists otherwise', async () => {
    const release = deferred();
    const lambdas = new FakeLambdas({
      [CHECK_ARN]: async (payload) => {
        await release.promise;
        return { ...(payload as object), finished: true };
      },
      [FINALIZE_ARN]: finalize,
    });
    const host = createHost({ invokeLambda: lambdas.invoke });
    const { client } = await createClient(host);
    const start = (input: string) =>
      client.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'job-once', input }));

    const first = await start('{"jobId":"job-once","waitSeconds":0}');
    const again = await start('{"jobId":"job-once","waitSeconds":0}');
    const otherInput = await sdkErrorOf(start('{"jobId":"job-once","waitSeconds":5}'));
    release.resolve();
    await host.whenFinished(`${EXECUTION_ARN_PREFIX}job-once`);
    const afterEnd = await sdkErrorOf(start('{"jobId":"job-once","waitSeconds":0}'));

    expect(again).toMatchObject({ executionArn: first.executionArn, startDate: first.startDate });
    expect(otherInput).toEqual({ name: 'ExecutionAlreadyExists', status: 400 });
    expect(afterEnd).toEqual({ name: 'ExecutionAlreadyExists', status: 400 });
    expect(lambdas.payloadsOf(CHECK_ARN)).toHaveLength(1);
  });

  it('lists executions newest first, filtered by status, a page at a time with nextToken', async () => {
    const release = deferred();
    const lambdas = new FakeLambdas({
      [CHECK_ARN]: async (payload) => {
        if ((payload as { jobId: string }).jobId === 'job-b') await release.promise;
        return { ...(payload as object), finished: true };
      },
      [FINALIZE_ARN]: finalize,
    });
    const host = createHost({ invokeLambda: lambdas.invoke });
    const { client } = await createClient(host);
    for (const name of ['job-a', 'job-b', 'job-c']) {
      await client.send(
        new StartExecutionCommand({
          stateMachineArn: STATE_MACHINE_ARN,
          name,
          input: JSON.stringify({ jobId: name, waitSeconds: 0 }),
        }),
      );
    }
    await host.whenFinished(`${EXECUTION_ARN_PREFIX}job-a`);
    await host.whenFinished(`${EXECUTION_ARN_PREFIX}job-c`);

    const firstPage = await client.send(
      new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, maxResults: 2 }),
    );
    const secondPage = await client.send(
      new ListExecutionsCommand({
        stateMachineArn: STATE_MACHINE_ARN,
        maxResults: 2,
        nextToken: firstPage.nextToken,
      }),
    );
    const running = await client.send(
      new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING' }),
    );
    release.resolve();

    expect(firstPage.executions?.map((execution) => [execution.name, execution.status])).toEqual([
      ['job-c', 'SUCCEEDED'],
      ['job-b', 'RUNNING'],
    ]);
    expect(secondPage.executions?.map((execution) => [execution.name, execution.status])).toEqual([
      ['job-a', 'SUCCEEDED'],
    ]);
    expect(secondPage.nextToken).toBeUndefined();
    expect(running.executions?.map((execution) => execution.executionArn)).toEqual([
      `${EXECUTION_ARN_PREFIX}job-b`,
    ]);
    expect(running.executions?.[0]?.stopDate).toBeUndefined();
    expect(firstPage.executions?.[0]?.stopDate).toBeInstanceOf(Date);
  });

  it('stops a running execution: ABORTED with the given error and cause, and the pending result is ignored', async () => {
    const checkEntered = deferred();
    const release = deferred();
    const lambdas = new FakeLambdas({
      [CHECK_ARN]: async (payload) => {
        checkEntered.resolve();
        await release.promise;
        return { ...(payload as object), finished: true };
      },
      [FINALIZE_ARN]: finalize,
    });
    const host = createHost({ invokeLambda: lambdas.invoke });
    const { client } = await createClient(host);
    const { executionArn } = await client.send(
      new StartExecutionCommand({
        stateMachineArn: STATE_MACHINE_ARN,
        name: 'job-stop',
        input: '{"jobId":"job-stop","waitSeconds":0}',
      }),
    );
    await checkEntered.promise;

    const stopped = await client.send(
      new StopExecutionCommand({ executionArn, error: 'Cancelled', cause: 'The user cancelled the job' }),
    );
    release.resolve();
    await flushPendingWork();
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));

    expect(described).toMatchObject({
      status: 'ABORTED',
      error: 'Cancelled',
      cause: 'The user cancelled the job',
      stopDate: stopped.stopDate,
    });
    expect(lambdas.payloadsOf(FINALIZE_ARN)).toEqual([]);
  });

  it('does not call the Lambda again when stopped during a Retry interval', async () => {
    const lambdas = new FakeLambdas({
      [CHECK_ARN]: () => {
        throw new ProviderUnavailableError('provider answered 503');
      },
      [RECORD_FAILURE_ARN]: recordFailure,
    });
    // The library reports the failed state right before it sleeps IntervalSeconds for the retry.
    const stateFailed = deferred();
    const logger: Logger = {
      debug() {},
      info(message) {
        if (message === 'State failed') stateFailed.resolve();
      },
      warn() {},
      error() {},
    };
    const host = createHost({ invokeLambda: lambdas.invoke, logger });
    const { executionArn } = await host.startExecution({
      name: 'job-retrying',
      input: '{"jobId":"j","waitSeconds":0}',
    });
    await stateFailed.promise;

    await host.stopExecution(executionArn);
    await flushPendingWork();

    expect(lambdas.calls.map((call) => call.functionArn)).toEqual([CHECK_ARN]);
    expect(host.describeExecution(executionArn).status).toBe('ABORTED');
  });

  it('answers ExecutionDoesNotExist, StateMachineDoesNotExist, InvalidName and InvalidExecutionInput as 400s', async () => {
    const host = createHost({ invokeLambda: async () => null });
    const { client } = await createClient(host);

    const unknownExecution = await sdkErrorOf(
      client.send(new DescribeExecutionCommand({ executionArn: `${EXECUTION_ARN_PREFIX}nope` })),
    );
    const unknownMachine = await sdkErrorOf(
      client.send(
        new ListExecutionsCommand({
          stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:Other',
        }),
      ),
    );
    const badName = await sdkErrorOf(
      client.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'has space' })),
    );
    const badInput = await sdkErrorOf(
      client.send(
        new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'ok', input: '{nope' }),
      ),
    );

    expect(unknownExecution).toEqual({ name: 'ExecutionDoesNotExist', status: 400 });
    expect(unknownMachine).toEqual({ name: 'StateMachineDoesNotExist', status: 400 });
    expect(badName).toEqual({ name: 'InvalidName', status: 400 });
    expect(badInput).toEqual({ name: 'InvalidExecutionInput', status: 400 });
  });

  it('answers in the AWS JSON 1.0 error shape: HTTP 400 with {"__type", "message"}', async () => {
    const host = createHost({ invokeLambda: async () => null });
    const { api } = await createClient(host);
    const post = (target: string, body: unknown) =>
      fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': target },
        body: JSON.stringify(body),
      });

    const missing = await post('AWSStepFunctions.DescribeExecution', {
      executionArn: `${EXECUTION_ARN_PREFIX}nope`,
    });
    const unknown = await post('AWSStepFunctions.DeleteStateMachine', { stateMachineArn: STATE_MACHINE_ARN });

    expect(missing.status).toBe(400);
    expect(missing.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(await missing.json()).toEqual({
      __type: 'ExecutionDoesNotExist',
      message: `Execution Does Not Exist: '${EXECUTION_ARN_PREFIX}nope'`,
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({
      __type: 'UnknownOperationException',
      message: "Unknown operation: 'AWSStepFunctions.DeleteStateMachine'",
    });
  });

  it('describes and lists the state machine with its definition', async () => {
    const host = createHost({ invokeLambda: async () => null });
    const { client } = await createClient(host);

    const described = await client.send(
      new DescribeStateMachineCommand({ stateMachineArn: STATE_MACHINE_ARN }),
    );
    const listed = await client.send(new ListStateMachinesCommand({}));

    expect(described).toMatchObject({
      stateMachineArn: STATE_MACHINE_ARN,
      name: 'JobPoller',
      status: 'ACTIVE',
      type: 'STANDARD',
      definition: pipelineAsl(),
      roleArn: 'arn:aws:iam::123456789012:role/JobPoller-role',
    });
    expect(listed.stateMachines?.map((machine) => [machine.stateMachineArn, machine.name])).toEqual([
      [STATE_MACHINE_ARN, 'JobPoller'],
    ]);
  });

  it('runs 200 executions at the same time', async () => {
    const executionCount = 200;
    const allWaiting = deferred();
    let waiting = 0;
    const lambdas = new FakeLambdas({
      // Each check waits until every execution is inside its check: only parallel runs get there.
      [CHECK_ARN]: async (payload) => {
        waiting += 1;
        if (waiting === executionCount) allWaiting.resolve();
        await allWaiting.promise;
        return { ...(payload as object), finished: true };
      },
      [FINALIZE_ARN]: finalize,
    });
    const host = createHost({ invokeLambda: lambdas.invoke });

    const started = await Promise.all(
      Array.from({ length: executionCount }, (_, index) =>
        host.startExecution({
          name: `job-${index}`,
          input: JSON.stringify({ jobId: `job-${index}`, waitSeconds: 0 }),
        }),
      ),
    );
    const ended = await Promise.all(started.map(({ executionArn }) => host.whenFinished(executionArn)));

    expect(ended.filter((execution) => execution.status === 'SUCCEEDED')).toHaveLength(executionCount);
    expect(host.listExecutions({ statusFilter: 'SUCCEEDED', maxResults: 1000 }).executions).toHaveLength(
      executionCount,
    );
  });

  it('ends TIMED_OUT with States.Timeout once the definition TimeoutSeconds elapse', async () => {
    const never = deferred();
    const lambdas = new FakeLambdas({ [CHECK_ARN]: () => never.promise });
    const host = createHost({ invokeLambda: lambdas.invoke, definition: pipelineAsl(1) });

    const { executionArn, startDate } = await host.startExecution({
      name: 'job-slow',
      input: '{"jobId":"job-slow","waitSeconds":0}',
    });
    const ended = await host.whenFinished(executionArn);

    expect(ended.status).toBe('TIMED_OUT');
    expect(ended.error).toBe('States.Timeout');
    expect(ended.stopDate?.getTime() ?? 0).toBeGreaterThanOrEqual(startDate.getTime() + 1000);
  });
});

describe('StateMachineHost persistence', () => {
  function recordsOnDisk(dataDir: string): { name: string; status: string }[] {
    const directory = join(dataDir, 'executions');
    return readdirSync(directory)
      .filter((file) => file.endsWith('.json'))
      .map((file) => JSON.parse(readFileSync(join(directory, file), 'utf8')));
  }

  it('resumes an execution left RUNNING by a closed host from the start, with its original input', async () => {
    const dataDir = createDataDir();
    const firstCheckEntered = deferred();
    const firstHost = createHost({
      dataDir,
      invokeLambda: async () => {
        firstCheckEntered.resolve();
        return new Promise(() => {});
      },
    });
    const { executionArn, startDate } = await firstHost.startExecution({
      name: 'job-resume',
      input: '{"jobId":"job-resume","waitSeconds":0}',
    });
    await firstCheckEntered.promise;
    await firstHost.close();
    const onDiskAfterClose = recordsOnDisk(dataDir);

    const lambdas = new FakeLambdas({ [CHECK_ARN]: checkFinishingOnCall(1), [FINALIZE_ARN]: finalize });
    const secondHost = createHost({ dataDir, invokeLambda: lambdas.invoke });
    const resumed = await secondHost.resumeRunning();
    const ended = await secondHost.whenFinished(executionArn);

    expect(onDiskAfterClose).toMatchObject([{ name: 'job-resume', status: 'RUNNING' }]);
    expect(resumed).toEqual([executionArn]);
    expect(lambdas.payloadsOf(CHECK_ARN)).toEqual([{ jobId: 'job-resume', waitSeconds: 0 }]);
    expect(ended).toMatchObject({
      status: 'SUCCEEDED',
      output: '{"jobId":"job-resume","status":"COMPLETED"}',
    });
    expect(ended.startDate).toEqual(startDate);
    expect(recordsOnDisk(dataDir)).toMatchObject([{ name: 'job-resume', status: 'SUCCEEDED' }]);
  });

  it('keeps ended executions across a restart and does not run them again', async () => {
    const dataDir = createDataDir();
    const lambdas = new FakeLambdas({ [CHECK_ARN]: checkFinishingOnCall(1), [FINALIZE_ARN]: finalize });
    const firstHost = createHost({ dataDir, invokeLambda: lambdas.invoke });
    const { executionArn } = await firstHost.startExecution({
      name: 'job-done',
      input: '{"jobId":"d","waitSeconds":0}',
    });
    const ended = await firstHost.whenFinished(executionArn);
    await firstHost.close();

    const secondHost = createHost({ dataDir, invokeLambda: lambdas.invoke });
    const resumed = await secondHost.resumeRunning();

    expect(resumed).toEqual([]);
    expect(secondHost.describeExecution(executionArn)).toEqual(ended);
    expect(lambdas.payloadsOf(CHECK_ARN)).toHaveLength(1);
  });

  it('ends TIMED_OUT at resume, without running a state, when the deadline passed while the runtime was down', async () => {
    const dataDir = createDataDir();
    let now = new Date('2025-01-01T00:00:00.000Z');
    const clock = { now: () => now };
    const firstHost = createHost({
      dataDir,
      clock,
      definition: pipelineAsl(60),
      invokeLambda: () => new Promise(() => {}),
    });
    const { executionArn } = await firstHost.startExecution({
      name: 'job-late',
      input: '{"jobId":"l","waitSeconds":0}',
    });
    await firstHost.close();
    now = new Date('2025-01-01T00:01:01.000Z');

    const lambdas = new FakeLambdas({});
    const secondHost = createHost({
      dataDir,
      clock,
      definition: pipelineAsl(60),
      invokeLambda: lambdas.invoke,
    });
    await secondHost.resumeRunning();
    const ended = await secondHost.whenFinished(executionArn);

    expect(ended).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout', stopDate: now });
    expect(lambdas.calls).toEqual([]);
  });
});

describe('GetExecutionHistory and DescribeStateMachineForExecution', () => {
  /** Type and state name (or error) of each event: the history's shape without its timestamps. */
  function outline(events: readonly HistoryEvent[]): string[] {
    return events.map((event) => {
      const name = event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name;
      const error = event.taskFailedEventDetails?.error ?? event.executionFailedEventDetails?.error;
      return [event.type, name ?? error].filter((part) => part !== undefined).join(' ');
    });
  }

  it('reports a finished execution event by event, with the real types, details and numbering', async () => {
    const lambdas = new FakeLambdas({ [CHECK_ARN]: checkFinishingOnCall(2), [FINALIZE_ARN]: finalize });
    const host = createHost({ invokeLambda: lambdas.invoke });
    const { client } = await createClient(host);
    const { executionArn } = await host.startExecution({
      name: 'job-history',
      input: '{"jobId":"job-history","waitSeconds":0}',
    });
    await host.whenFinished(executionArn);

    const { events = [], nextToken } = await client.send(new GetExecutionHistoryCommand({ executionArn }));

    expect(nextToken).toBeUndefined();
    expect(outline(events)).toEqual([
      'ExecutionStarted',
      'WaitStateEntered Wait before checking',
      'WaitStateExited Wait before checking',
      'TaskStateEntered Check the generation',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited Check the generation',
      'ChoiceStateEntered Generation finished?',
      'ChoiceStateExited Generation finished?',
      'WaitStateEntered Wait before checking',
      'WaitStateExited Wait before checking',
      'TaskStateEntered Check the generation',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited Check the generation',
      'ChoiceStateEntered Generation finished?',
      'ChoiceStateExited Generation finished?',
      'TaskStateEntered Copy the result to the output bucket',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited Copy the result to the output bucket',
      'SucceedStateEntered Job completed',
      'SucceedStateExited Job completed',
      'ExecutionSucceeded',
    ]);
    expect(events.map((event) => [event.id, event.previousEventId])).toEqual(
      events.map((_, index) => [index + 1, index]),
    );
    expect(events[0]?.executionStartedEventDetails).toEqual({
      input: '{"jobId":"job-history","waitSeconds":0}',
      inputDetails: { truncated: false },
      roleArn: 'arn:aws:iam::123456789012:role/JobPoller-role',
    });
    expect(events[4]?.taskScheduledEventDetails).toEqual({
      resourceType: 'lambda',
      resource: 'invoke',
      region: 'us-east-1',
      parameters: JSON.stringify({
        FunctionName: CHECK_ARN,
        Payload: { jobId: 'job-history', waitSeconds: 0 },
      }),
    });
    expect(JSON.parse(events[6]?.taskSucceededEventDetails?.output ?? '')).toEqual({
      ExecutedVersion: '$LATEST',
      Payload: { jobId: 'job-history', waitSeconds: 0, finished: false },
      StatusCode: 200,
    });
    expect(events.at(-1)?.executionSucceededEventDetails).toEqual({
      output: '{"jobId":"job-history","status":"COMPLETED"}',
      outputDetails: { truncated: false },
    });
    const times = events.map((event) => event.timestamp?.getTime() ?? 0);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('pages with maxResults and nextToken, newest first with reverseOrder, without data when asked', async () => {
    const lambdas = new FakeLambdas({ [CHECK_ARN]: checkFinishingOnCall(1), [FINALIZE_ARN]: finalize });
    const host = createHost({ invokeLambda: lambdas.invoke });
    const { client } = await createClient(host);
    const { executionArn } = await host.startExecution({
      name: 'job-pages',
      input: '{"jobId":"p","waitSeconds":0}',
    });
    await host.whenFinished(executionArn);
    const all = (await client.send(new GetExecutionHistoryCommand({ executionArn }))).events ?? [];

    const ids: number[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(
        new GetExecutionHistoryCommand({ executionArn, maxResults: 4, reverseOrder: true, nextToken }),
      );
      ids.push(...(page.events ?? []).map((event) => event.id ?? 0));
      nextToken = page.nextToken;
      pages += 1;
    } while (nextToken !== undefined);
    const bare = await client.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1, includeExecutionData: false }),
    );

    expect(ids).toEqual(all.map((event) => event.id ?? 0).reverse());
    expect(pages).toBe(Math.ceil(all.length / 4));
    expect(bare.events?.[0]?.executionStartedEventDetails).toEqual({
      roleArn: 'arn:aws:iam::123456789012:role/JobPoller-role',
    });
    expect(
      await sdkErrorOf(client.send(new GetExecutionHistoryCommand({ executionArn, nextToken: 'bogus' }))),
    ).toEqual({ name: 'InvalidToken', status: 400 });
  });

  it('records a failed task, the state that caught it and the failure, and keeps the history across a restart', async () => {
    const dataDir = createDataDir();
    const lambdas = new FakeLambdas({
      [CHECK_ARN]: () => {
        throw new GenerationFailedError('the provider refused the clip');
      },
      [RECORD_FAILURE_ARN]: recordFailure,
    });
    const firstHost = createHost({ dataDir, invokeLambda: lambdas.invoke });
    const { executionArn } = await firstHost.startExecution({
      name: 'job-fails',
      input: '{"jobId":"f","waitSeconds":0}',
    });
    await firstHost.whenFinished(executionArn);
    const before = await firstHost.getExecutionHistory(executionArn);
    await firstHost.close();

    const secondHost = createHost({ dataDir, invokeLambda: lambdas.invoke });
    const { client } = await createClient(secondHost);
    const { events = [] } = await client.send(new GetExecutionHistoryCommand({ executionArn }));

    expect(outline(events)).toEqual([
      'ExecutionStarted',
      'WaitStateEntered Wait before checking',
      'WaitStateExited Wait before checking',
      'TaskStateEntered Check the generation',
      'TaskScheduled',
      'TaskStarted',
      'TaskFailed GenerationFailedError',
      'TaskStateExited Check the generation',
      'TaskStateEntered Record the failure',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited Record the failure',
      'FailStateEntered Job failed',
      'ExecutionFailed JobFailed',
    ]);
    expect(JSON.parse(events[6]?.taskFailedEventDetails?.cause ?? '')).toMatchObject({
      errorType: 'GenerationFailedError',
      errorMessage: 'the provider refused the clip',
    });
    expect(events.length).toBe(before.events.length);
  });

  it('answers DescribeStateMachineForExecution with the definition, and ExecutionDoesNotExist for an unknown one', async () => {
    const lambdas = new FakeLambdas({ [CHECK_ARN]: checkFinishingOnCall(1), [FINALIZE_ARN]: finalize });
    const host = createHost({ invokeLambda: lambdas.invoke });
    const { client } = await createClient(host);
    const { executionArn } = await host.startExecution({
      name: 'job-sm',
      input: '{"jobId":"s","waitSeconds":0}',
    });

    const described = await client.send(new DescribeStateMachineForExecutionCommand({ executionArn }));

    expect(described).toMatchObject({
      stateMachineArn: STATE_MACHINE_ARN,
      name: 'JobPoller',
      definition: pipelineAsl(),
      roleArn: 'arn:aws:iam::123456789012:role/JobPoller-role',
    });
    expect(described.updateDate).toBeInstanceOf(Date);
    for (const command of [
      new DescribeStateMachineForExecutionCommand({ executionArn: `${EXECUTION_ARN_PREFIX}nope` }),
      new GetExecutionHistoryCommand({ executionArn: `${EXECUTION_ARN_PREFIX}nope` }),
    ]) {
      expect(await sdkErrorOf(client.send(command as GetExecutionHistoryCommand))).toEqual({
        name: 'ExecutionDoesNotExist',
        status: 400,
      });
    }
  });
});

describe('Step Functions API through the AWS CLI', () => {
  /** A host with one execution run to its end, and its API's URL. */
  async function finishedExecution(name: string) {
    const lambdas = new FakeLambdas({ [CHECK_ARN]: checkFinishingOnCall(1), [FINALIZE_ARN]: finalize });
    const host = createHost({ invokeLambda: lambdas.invoke });
    const { api } = await createClient(host);
    const started = await host.startExecution({ name, input: `{"jobId":"${name}","waitSeconds":0}` });
    await host.whenFinished(started.executionArn);
    return { host, url: api.url, ...started };
  }

  it('answers `aws stepfunctions get-execution-history --endpoint-url`', async () => {
    const { host, url, executionArn } = await finishedExecution('job-cli-history');

    const { stdout } = await awsCli([
      'stepfunctions',
      'get-execution-history',
      '--execution-arn',
      executionArn,
      '--max-items',
      '3',
      '--endpoint-url',
      url,
    ]);
    const page = JSON.parse(stdout) as { events: { id: number; type: string }[]; NextToken?: string };
    const expected = (await host.getExecutionHistory(executionArn)).events.slice(0, 3);

    expect(page.events.map((event) => [event.id, event.type])).toEqual(
      expected.map((event) => [event.id, event.type]),
    );
    expect(typeof page.NextToken).toBe('string');
  });

  it('answers `aws stepfunctions list-executions --endpoint-url`', async () => {
    const { host, url, executionArn, startDate } = await finishedExecution('job-cli');

    const { stdout } = await awsCli([
      'stepfunctions',
      'list-executions',
      '--state-machine-arn',
      STATE_MACHINE_ARN,
      '--endpoint-url',
      url,
    ]);
    // The CLI prints timestamps as the service sent them: epoch seconds.
    const listed: unknown = JSON.parse(stdout);
    const ended = host.describeExecution(executionArn);

    expect(listed).toEqual({
      executions: [
        {
          executionArn,
          stateMachineArn: STATE_MACHINE_ARN,
          name: 'job-cli',
          status: 'SUCCEEDED',
          startDate: startDate.getTime() / 1000,
          stopDate: (ended.stopDate?.getTime() ?? 0) / 1000,
        },
      ],
    });
  });
});

/** The AWS CLI with test credentials and no user configuration, JSON output. */
function awsCli(args: readonly string[]): Promise<{ stdout: string }> {
  return promisify(execFile)('aws', [...args, '--region', 'us-east-1', '--output', 'json'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    },
  });
}
