import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { HeadObjectCommand, NotFound, S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { S3Event } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { AwsClients } from '../../functions/adapters/aws-clients.js';
import { decodeS3Key } from '../../functions/adapters/s3-event.js';
import { asStateMachineTask, toStepFunctionsError } from '../../functions/adapters/step-functions-error.js';
import { createCheckHandler } from '../../functions/check/handler.js';
import { loadConfig, requireSetting } from '../../functions/config/config.js';
import { EnvName } from '../../functions/config/env-names.js';
import { ConfigError, GenerationFailedError, InputRejectedError } from '../../functions/domain/errors.js';
import { JobStatus } from '../../functions/domain/job.js';
import { silentLogger } from '../../functions/domain/ports.js';
import { createSubmitHandler } from '../../functions/submit/handler.js';
import { rejectionOf, thrownBy } from '../support/assertions.js';
import { aJob } from '../support/jobs.js';

describe('decodeS3Key', () => {
  it('decodes form-URL-encoding as S3 notifications send it: + is a space, %2B a plus', () => {
    expect(decodeS3Key('trips/my+clip+%2B1+100%25/vid%C3%A9o.mp4')).toBe('trips/my clip +1 100%/vidéo.mp4');
  });

  it('leaves a plain key as it is', () => {
    expect(decodeS3Key('trips/clip.mp4')).toBe('trips/clip.mp4');
  });
});

describe('toStepFunctionsError', () => {
  it('keeps the error name for Retry/Catch and prefixes the message with the code', () => {
    const crossing = toStepFunctionsError(
      new GenerationFailedError('the provider reported the generation failed'),
    );

    expect(crossing).toBeInstanceOf(Error);
    expect(crossing).toMatchObject({
      name: 'GenerationFailedError',
      message: 'GENERATION_FAILED: the provider reported the generation failed',
    });
  });

  it('uses the rejection code of an input rejection', () => {
    expect(toStepFunctionsError(new InputRejectedError('EMPTY_FILE', 'the file is empty'))).toMatchObject({
      name: 'InputRejectedError',
      message: 'EMPTY_FILE: the file is empty',
    });
  });

  it('passes other errors through untouched', () => {
    const other = new TypeError('x is undefined');

    expect(toStepFunctionsError(other)).toBe(other);
  });

  it('is applied to whatever a task body throws', async () => {
    const error = await rejectionOf(
      asStateMachineTask(async () => {
        throw new GenerationFailedError('boom');
      }),
    );

    expect(error).toMatchObject({ name: 'GenerationFailedError', message: 'GENERATION_FAILED: boom' });
  });
});

describe('loadConfig', () => {
  it('fills every default from an environment naming only the jobs table', () => {
    expect(loadConfig({ [EnvName.jobsTable]: 'vidflow-jobs' })).toEqual({
      jobsTable: 'vidflow-jobs',
      provider: { baseUrl: 'https://api.aimlapi.com', timeoutMs: 30_000, readTimeoutMs: 30_000 },
      maxInputBytes: 16 * 1024 * 1024,
      maxOutputBytes: 1024 * 1024 * 1024,
      videoUrlMode: 'auto',
      presignExpiresSeconds: 3600,
      jobTimeoutSeconds: 1800,
      poll: {
        initialWaitSeconds: 60,
        minWaitSeconds: 5,
        maxWaitSeconds: 60,
        checkCostSeconds: 3.5,
        typicalTimes: {},
      },
      sweep: { graceSeconds: 600, lookbackSeconds: 172_800, claimTimeoutSeconds: 70 },
      admission: { maxInFlight: 10, creditsPerJobEstimate: 40 },
      models: { defaultModel: 'runway/gen4_aleph' },
      downloadAllowedOrigins: [],
      endpoints: {},
      observability: { tracingEnabled: true, metricsEnabled: true, serviceName: 'vidflow' },
    });
  });

  it('reads the admission and sweep settings, 0 turning the in-flight cap off', () => {
    const config = loadConfig({
      [EnvName.jobsTable]: 'jobs',
      [EnvName.maxInFlight]: '0',
      [EnvName.dailyCreditBudget]: '500',
      [EnvName.creditsPerJobEstimate]: '12.5',
      [EnvName.sweepGraceSeconds]: '30',
      [EnvName.sweepLookbackSeconds]: '3600',
    });
    expect(config.admission).toStrictEqual({
      maxInFlight: 0,
      dailyCreditBudget: 500,
      creditsPerJobEstimate: 12.5,
    });
    expect(config.sweep).toStrictEqual({ graceSeconds: 30, lookbackSeconds: 3600, claimTimeoutSeconds: 70 });
  });

  it.each([
    [EnvName.maxInFlight, '-1', 'must be an integer from 0 to 100000, got "-1"'],
    [EnvName.maxInFlight, '2.5', 'must be an integer from 0 to 100000, got "2.5"'],
    [EnvName.dailyCreditBudget, 'lots', 'must be a number from 0 to 1000000000000, got "lots"'],
    [EnvName.creditsPerJobEstimate, '0', 'must be a positive number, got "0"'],
  ])('refuses %s=%s', (name, value, why) => {
    expect(() => loadConfig({ [EnvName.jobsTable]: 'jobs', [name]: value })).toThrow(
      `invalid configuration: ${name}: ${why}`,
    );
  });

  it.each([
    [{ POWERTOOLS_TRACE_ENABLED: 'false', POWERTOOLS_METRICS_DISABLED: 'true' }, false, false],
    [{ POWERTOOLS_TRACE_ENABLED: 'FALSE', POWERTOOLS_METRICS_DISABLED: '1' }, false, false],
    [{ POWERTOOLS_TRACE_ENABLED: 'true', POWERTOOLS_METRICS_DISABLED: 'false' }, true, true],
  ])(
    'reads the Powertools switches %j as tracing %s and metrics %s',
    (env, tracingEnabled, metricsEnabled) => {
      expect(loadConfig({ [EnvName.jobsTable]: 'jobs', ...env }).observability).toStrictEqual({
        tracingEnabled,
        metricsEnabled,
        serviceName: 'vidflow',
      });
    },
  );

  it('reads and converts the settings it is given', () => {
    const config = loadConfig({
      [EnvName.jobsTable]: 'jobs',
      [EnvName.inputBucket]: 'in',
      [EnvName.outputBucket]: 'out',
      [EnvName.providerBaseUrl]: 'http://127.0.0.1:4010//',
      [EnvName.maxInputBytes]: '1048576',
      [EnvName.videoUrlMode]: 'data-uri',
      [EnvName.pollMinSeconds]: '10',
      [EnvName.pollMaxSeconds]: '3',
      [EnvName.downloadAllowedOrigins]: ' http://127.0.0.1:4010 , ,http://localhost:4010',
      AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'eu-west-1',
    });

    expect(config).toMatchObject({
      inputBucket: 'in',
      outputBucket: 'out',
      provider: { baseUrl: 'http://127.0.0.1:4010' },
      maxInputBytes: 1_048_576,
      videoUrlMode: 'data-uri',
      poll: { minWaitSeconds: 10, maxWaitSeconds: 10 },
      downloadAllowedOrigins: ['http://127.0.0.1:4010', 'http://localhost:4010'],
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'secret' },
      region: 'eu-west-1',
    });
  });

  it("reads the polling prior's typical times: a default, by model, by model and frame size", () => {
    const read = (value: string) =>
      loadConfig({ [EnvName.jobsTable]: 'jobs', [EnvName.pollTypicalSeconds]: value }).poll.typicalTimes;

    expect(read('10.5')).toStrictEqual({ defaultSeconds: 10.5 });
    expect(read('default=180, runway/gen4_aleph@848:480=150,klingai/video-o1=90')).toStrictEqual({
      defaultSeconds: 180,
      bySeconds: { 'runway/gen4_aleph@848:480': 150, 'klingai/video-o1': 90 },
    });
    expect(read('runway/gen4_aleph=200')).toStrictEqual({ bySeconds: { 'runway/gen4_aleph': 200 } });
    // Unset: no configured time, so each model's typical time comes from the catalog.
    expect(loadConfig({ [EnvName.jobsTable]: 'jobs' }).poll.typicalTimes).toStrictEqual({});
  });

  it.each([
    [EnvName.maxInputBytes, 'lots'],
    [EnvName.maxInputBytes, '0'],
    [EnvName.jobTimeoutSeconds, '1.5'],
    [EnvName.pollMaxSeconds, '-5'],
    [EnvName.presignExpiresSeconds, '7200'],
    [EnvName.videoUrlMode, 'inline'],
    [EnvName.providerBaseUrl, 'not a url'],
    [EnvName.pollTypicalSeconds, 'soon'],
    [EnvName.pollTypicalSeconds, 'runway/gen4_aleph=-3'],
    [EnvName.pollTypicalSeconds, '=40'],
  ])('throws ConfigError naming %s when it is %j', (name, value) => {
    const error = thrownBy(() => loadConfig({ [EnvName.jobsTable]: 'jobs', [name]: value }));

    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ name: 'ConfigError', code: 'CONFIG_INVALID' });
    expect((error as Error).message).toMatch(new RegExp(`^invalid configuration: .*${name}: `));
  });

  it('throws ConfigError naming the jobs table when it is missing', () => {
    const error = thrownBy(() => loadConfig({}));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(EnvName.jobsTable);
  });

  it('names every invalid variable at once, echoing numbers and choices but never secrets', () => {
    const error = thrownBy(() =>
      loadConfig({
        [EnvName.jobsTable]: 'jobs',
        [EnvName.providerApiKey]: '',
        [EnvName.maxOutputBytes]: '1e3.5',
        [EnvName.presignExpiresSeconds]: '30',
        [EnvName.videoUrlMode]: 'inline',
        [EnvName.pollCheckCostSeconds]: '0',
      }),
    );

    expect((error as Error).message).toBe(
      [
        `invalid configuration: ${EnvName.providerApiKey}: must not be empty`,
        `${EnvName.maxOutputBytes}: must be a positive integer, got "1e3.5"`,
        `${EnvName.videoUrlMode}: must be one of auto, presigned, data-uri, got "inline"`,
        `${EnvName.presignExpiresSeconds}: must be an integer from 60 to 3600, got "30"`,
        `${EnvName.pollCheckCostSeconds}: must be a positive number, got "0"`,
      ].join('; '),
    );
  });

  it('accepts a fractional check cost and the bounds of the presigned URL lifetime', () => {
    expect(
      loadConfig({
        [EnvName.jobsTable]: 'jobs',
        [EnvName.pollCheckCostSeconds]: '2.5',
        [EnvName.presignExpiresSeconds]: '60',
      }),
    ).toMatchObject({ poll: { checkCostSeconds: 2.5 }, presignExpiresSeconds: 60 });
  });

  it('requireSetting throws ConfigError naming the variable that is not set', () => {
    expect(thrownBy(() => requireSetting(undefined, EnvName.inputBucket))).toMatchObject({
      name: 'ConfigError',
      message: 'VIDFLOW_INPUT_BUCKET is not set',
    });
    expect(requireSetting('in', EnvName.inputBucket)).toBe('in');
  });
});

describe('handlers over mocked AWS clients', () => {
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const s3 = mockClient(S3Client);
  const dynamo = mockClient(DynamoDBDocumentClient);
  const env = {
    [EnvName.jobsTable]: 'vidflow-jobs',
    [EnvName.inputBucket]: 'vidflow-input',
    [EnvName.stateMachineArn]: 'arn:aws:states:us-east-1:123456789012:stateMachine:vidflow',
    [EnvName.providerApiKey]: 'sk-test',
  };

  function clients(): AwsClients {
    return {
      s3: new S3Client({ region: 'us-east-1', credentials }),
      dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials })),
      sfn: new SFNClient({ region: 'us-east-1', credentials }),
      eventBridge: new EventBridgeClient({ region: 'us-east-1', credentials }),
      secrets: new SecretsManagerClient({ region: 'us-east-1', credentials }),
    };
  }

  afterEach(() => {
    s3.reset();
    dynamo.reset();
  });

  it('submit decodes each created key and skips other event types', async () => {
    s3.on(HeadObjectCommand).rejects(
      new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } }),
    );
    const handler = createSubmitHandler(env, { clients: clients(), logger: silentLogger });
    const record = (eventName: string, key: string) => ({
      eventName,
      s3: { bucket: { name: 'vidflow-input' }, object: { key, eTag: 'abc', size: 10, sequencer: '01' } },
    });
    const event = {
      Records: [
        record('ObjectCreated:Put', 'trips/my+clip+%2B1.mp4'),
        record('ObjectRemoved:Delete', 'gone.mp4'),
      ],
    } as unknown as S3Event;

    await handler(event);

    expect(s3.commandCalls(HeadObjectCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: 'vidflow-input', Key: 'trips/my clip +1.mp4' },
    ]);
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('check throws errors the state machine can match: name kept, code in the message', async () => {
    const job = aJob({ status: JobStatus.cancelled });
    dynamo.on(GetCommand).resolves({ Item: { ...job } });
    const handler = createCheckHandler(env, { clients: clients(), logger: silentLogger });

    const error = await rejectionOf(handler({ jobId: job.jobId }));

    expect(error).toMatchObject({
      name: 'StaleTransitionError',
      message: `STALE_TRANSITION: job ${job.jobId} already ended as CANCELLED`,
    });
  });
  it("check throws a job without its generation id as JobInvariantError, never as the provider's fault", async () => {
    const job = aJob({ status: JobStatus.generating, generationId: undefined });
    dynamo.on(GetCommand).resolves({ Item: { ...job } });
    const handler = createCheckHandler(env, { clients: clients(), logger: silentLogger });

    const error = await rejectionOf(handler({ jobId: job.jobId }));

    expect(error).toMatchObject({
      name: 'JobInvariantError',
      message: `JOB_INVARIANT_BROKEN: job ${job.jobId} has no generation id`,
    });
  });
});
