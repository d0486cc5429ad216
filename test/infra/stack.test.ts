import aslValidator from 'asl-validator';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnvName } from '../../functions/config/env-names.js';
import { JobsIndex } from '../../functions/config/jobs-table.js';
import { ErrorName, TRANSIENT_ERROR_NAMES } from '../../functions/domain/errors.js';
import { StackContextError } from '../../infra/context.js';
import { StateName } from '../../infra/state-machine.js';
import {
  type CfnTemplate,
  createVidflowStack,
  findVidflowFunctions,
  renderDefinition,
  stateMachineDefinition,
  synthesizeTemplate,
  type TemplateFunction,
} from '../../infra/synth.js';
import type { VidflowFunctionName } from '../../infra/vidflow-function.js';

type Json = Record<string, unknown>;

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:vidflow/key-AbCdEf`;

/** Synthesizes without bundling (fast): the template is what matters here, not the code assets. */
function templateWith(context: Json = {}): Template {
  return Template.fromStack(createVidflowStack({ bundle: false, context }).stack);
}

/** Resolves the definition's tokens the way a deployment would, with placeholder ARNs. */
function lambdaArn(logicalId: string): string {
  return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`;
}

function renderWithPlaceholders(template: CfnTemplate): Json {
  return renderDefinition(stateMachineDefinition(template), (intrinsic) => {
    if (intrinsic.Ref === 'AWS::Partition') return 'aws';
    const getAtt = intrinsic['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[1] === 'Arn' && typeof getAtt[0] === 'string')
      return lambdaArn(getAtt[0]);
    throw new Error(`unexpected token in the definition: ${JSON.stringify(intrinsic)}`);
  });
}

function asRecord(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`expected an object, got ${JSON.stringify(value)}`);
  }
  return value as Json;
}

function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error(`expected an array, got ${JSON.stringify(value)}`);
  return value;
}

function resource(template: CfnTemplate, logicalId: string): Json {
  return asRecord(asRecord(template.Resources)[logicalId]);
}

function resourcesOfType(template: CfnTemplate, type: string): Array<[string, Json]> {
  return Object.entries(asRecord(template.Resources))
    .map(([id, value]): [string, Json] => [id, asRecord(value)])
    .filter(([, value]) => value.Type === type);
}

/** Every statement of the policies attached to a function's role. */
function statementsOf(template: CfnTemplate, fn: TemplateFunction): Json[] {
  const role = asRecord(asRecord(resource(template, fn.logicalId).Properties).Role);
  const roleId = asArray(role['Fn::GetAtt'])[0];
  return resourcesOfType(template, 'AWS::IAM::Policy')
    .map(([, policy]) => asRecord(policy.Properties))
    .filter((props) => asArray(props.Roles).some((r) => asRecord(r).Ref === roleId))
    .flatMap((props) => asArray(asRecord(props.PolicyDocument).Statement).map(asRecord));
}

function statementFor(statements: readonly Json[], action: string): Json {
  const found = statements.find((s) => [s.Action].flat().includes(action));
  if (found === undefined) throw new Error(`no statement allows ${action}`);
  return found;
}

function logicalIdOfType(template: CfnTemplate, type: string, pathContains: string): string {
  const match = resourcesOfType(template, type).find(([id]) => id.startsWith(pathContains));
  if (match === undefined) throw new Error(`no ${type} named ${pathContains}*`);
  return match[0];
}

const TRANSIENT_RETRY = {
  ErrorEquals: [...TRANSIENT_ERROR_NAMES],
  IntervalSeconds: 2,
  BackoffRate: 2,
  MaxAttempts: 6,
  MaxDelaySeconds: 60,
  JitterStrategy: 'FULL',
};

const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
];

const CATCH_ALL = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: StateName.recordFailure }];

describe('VidflowStack', () => {
  let template: Template;
  let json: CfnTemplate;
  let fns: Record<VidflowFunctionName, TemplateFunction>;
  let definition: Json;
  let states: Record<string, Json>;

  beforeAll(() => {
    template = templateWith();
    json = template.toJSON();
    fns = findVidflowFunctions(json);
    definition = renderWithPlaceholders(json);
    states = Object.fromEntries(
      Object.entries(asRecord(definition.States)).map(([k, v]) => [k, asRecord(v)]),
    );
  });

  function state(name: string): Json {
    const found = states[name];
    if (found === undefined) throw new Error(`no state "${name}"`);
    return found;
  }

  describe('the input trigger', () => {
    it('invokes submit for every object created in the input bucket, unfiltered: the code classifies keys in any case', () => {
      const notifications = resourcesOfType(json, 'Custom::S3BucketNotifications');
      expect(notifications).toHaveLength(1);
      const [, bucketNotifications] = notifications[0] ?? ['', {}];
      const props = asRecord(bucketNotifications.Properties);
      expect(props.BucketName).toEqual({ Ref: logicalIdOfType(json, 'AWS::S3::Bucket', 'InputBucket') });
      const configs = asArray(asRecord(props.NotificationConfiguration).LambdaFunctionConfigurations).map(
        asRecord,
      );
      expect(configs).toStrictEqual([
        {
          Events: ['s3:ObjectCreated:*'],
          LambdaFunctionArn: { 'Fn::GetAtt': [fns.submit.logicalId, 'Arn'] },
        },
      ]);
    });

    it('lets only the input bucket invoke submit', () => {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fns.submit.logicalId, 'Arn'] },
        Principal: 's3.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [logicalIdOfType(json, 'AWS::S3::Bucket', 'InputBucket'), 'Arn'] },
      });
    });

    it('retries a failed asynchronous submit twice, then sends the event to the dead-letter queue', () => {
      const dlq = logicalIdOfType(json, 'AWS::SQS::Queue', 'SubmitDeadLetterQueue');
      template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 1);
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fns.submit.logicalId },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 2,
        MaximumEventAgeInSeconds: 6 * 3600,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
      });
    });

    it('keeps dead letters 14 days in an encrypted, TLS-only queue', () => {
      const dlq = logicalIdOfType(json, 'AWS::SQS::Queue', 'SubmitDeadLetterQueue');
      template.hasResourceProperties('AWS::SQS::Queue', {
        MessageRetentionPeriod: 14 * 86400,
        SqsManagedSseEnabled: true,
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: dlq }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });
  });

  describe('the buckets', () => {
    it('creates two buckets that block public access, encrypt, version and expire old versions after 30 days', () => {
      const buckets = resourcesOfType(json, 'AWS::S3::Bucket').filter(
        ([id]) => !id.startsWith('AccessLogsBucket'),
      );
      expect(buckets.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
        'InputBucket',
        'OutputBucket',
      ]);
      const accessLogs = logicalIdOfType(json, 'AWS::S3::Bucket', 'AccessLogsBucket');
      for (const [id, bucket] of buckets) {
        expect(asRecord(bucket.Properties).LoggingConfiguration).toEqual({
          DestinationBucketName: { Ref: accessLogs },
          LogFilePrefix: `${id.replace(/[0-9A-F]{8}$/, '')}/`,
        });
      }
      for (const [, bucket] of buckets) {
        expect(bucket.Properties).toMatchObject({
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
          VersioningConfiguration: { Status: 'Enabled' },
          LifecycleConfiguration: {
            Rules: [expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } })],
          },
        });
        expect(bucket.DeletionPolicy).toBe('Retain');
      }
    });

    it('denies every request to either bucket that is not over TLS', () => {
      for (const [bucketId] of resourcesOfType(json, 'AWS::S3::Bucket')) {
        template.hasResourceProperties('AWS::S3::BucketPolicy', {
          Bucket: { Ref: bucketId },
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 's3:*',
                Principal: { AWS: '*' },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
      }
    });

    it('adopts existing buckets named in context instead of creating them', () => {
      const adopted = templateWith({ inputBucketName: 'acme-drops', outputBucketName: 'acme-results' });
      adopted.resourceCountIs('AWS::S3::Bucket', 0);
      adopted.hasResourceProperties('Custom::S3BucketNotifications', { BucketName: 'acme-drops' });
      adopted.hasOutput('InputBucketName', { Value: 'acme-drops' });
      adopted.hasOutput('OutputBucketName', { Value: 'acme-results' });
      const adoptedFns = findVidflowFunctions(adopted.toJSON());
      expect(adoptedFns.submit.environment[EnvName.inputBucket]).toBe('acme-drops');
      expect(adoptedFns.finalize.environment[EnvName.outputBucket]).toBe('acme-results');
    });

    it('refuses the same bucket for input and output, which would re-trigger submit on every result', () => {
      expect(() => templateWith({ inputBucketName: 'acme', outputBucketName: 'acme' })).toThrow(
        /must differ/,
      );
    });
  });

  describe('the jobs table', () => {
    it('is on-demand with point-in-time recovery, keyed by jobId, and kept on stack deletion', () => {
      // The jobs table and the webhooks table (test/infra/webhook.test.ts).
      template.resourceCountIs('AWS::DynamoDB::Table', 2);
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: 'jobId', KeyType: 'HASH' }],
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
        }),
      });
    });

    it('has exactly the byStatus, bySource and byGenerationId indexes projecting all attributes, and the keys-only byPendingEvent', () => {
      const [, table] = resourcesOfType(json, 'AWS::DynamoDB::Table')[0] ?? ['', {}];
      const props = asRecord(table.Properties);
      expect(props.GlobalSecondaryIndexes).toEqual([
        {
          IndexName: JobsIndex.byStatus,
          KeySchema: [
            { AttributeName: 'statusDay', KeyType: 'HASH' },
            { AttributeName: 'statusChangedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: JobsIndex.bySource,
          KeySchema: [
            { AttributeName: 'sourceId', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: JobsIndex.byGenerationId,
          KeySchema: [{ AttributeName: 'generationId', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: JobsIndex.byPendingEvent,
          KeySchema: [
            { AttributeName: 'eventPending', KeyType: 'HASH' },
            { AttributeName: 'statusChangedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ]);
      expect(asArray(props.AttributeDefinitions)).toEqual(
        expect.arrayContaining(
          [
            'jobId',
            'statusDay',
            'statusChangedAt',
            'sourceId',
            'createdAt',
            'generationId',
            'eventPending',
          ].map((name) => ({
            AttributeName: name,
            AttributeType: 'S',
          })),
        ),
      );
      expect(asArray(props.AttributeDefinitions)).toHaveLength(7);
    });

    it('is deleted with the stack, and buckets emptied, when removalPolicy is destroy', () => {
      const disposable = templateWith({ removalPolicy: 'destroy' });
      disposable.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Delete',
        Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
      });
      disposable.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
      // Input, output and access-logs buckets.
      disposable.resourceCountIs('Custom::S3AutoDeleteObjects', 3);
    });
  });

  describe('the functions', () => {
    it('run on Node.js 24 on arm64 with the memory and timeout each one needs', () => {
      const expected: Record<VidflowFunctionName, { memory: number; timeout: number }> = {
        submit: { memory: 512, timeout: 60 },
        check: { memory: 256, timeout: 30 },
        finalize: { memory: 1024, timeout: 900 },
        'record-failure': { memory: 256, timeout: 30 },
        sweep: { memory: 512, timeout: 300 },
      };
      for (const [name, fn] of Object.entries(fns)) {
        const props = asRecord(resource(json, fn.logicalId).Properties);
        expect({ name, runtime: props.Runtime, arch: props.Architectures, handler: props.Handler }).toEqual({
          name,
          runtime: 'nodejs24.x',
          arch: ['arm64'],
          handler: 'index.handler',
        });
        expect({ name, memory: fn.memorySizeMiB, timeout: fn.timeoutSeconds }).toEqual({
          name,
          ...expected[name as VidflowFunctionName],
        });
      }
    });

    it('set only environment variables named in EnvName', () => {
      const allowed = new Set<string>(Object.values(EnvName));
      for (const fn of Object.values(fns)) {
        const unknown = Object.keys(fn.environment).filter((key) => !allowed.has(key));
        expect(unknown).toEqual([]);
      }
    });

    it('give each function the configuration it reads', () => {
      const table = { Ref: logicalIdOfType(json, 'AWS::DynamoDB::Table', 'JobsTable') };
      const bus = { Ref: logicalIdOfType(json, 'AWS::Events::EventBus', 'EventBus') };
      const secret = { Ref: logicalIdOfType(json, 'AWS::SecretsManager::Secret', 'ProviderApiKey') };
      const machine = { Ref: logicalIdOfType(json, 'AWS::StepFunctions::StateMachine', 'JobStateMachine') };
      const common = {
        [EnvName.jobsTable]: table,
        [EnvName.serviceName]: 'vidflow',
        [EnvName.logLevel]: 'INFO',
      };
      const provider = {
        [EnvName.providerBaseUrl]: 'https://api.aimlapi.com',
        [EnvName.providerSecretArn]: secret,
      };
      const submitting = {
        ...common,
        ...provider,
        [EnvName.inputBucket]: { Ref: logicalIdOfType(json, 'AWS::S3::Bucket', 'InputBucket') },
        [EnvName.maxInputBytes]: String(16 * 1024 * 1024),
        [EnvName.jobTimeoutSeconds]: '1800',
        [EnvName.eventBusName]: bus,
        [EnvName.maxInFlight]: '10',
        [EnvName.creditsPerJobEstimate]: '40',
      };
      expect(fns.submit.environment).toEqual({ ...submitting, [EnvName.stateMachineArn]: machine });
      // Sweep names the state machine by its ARN, built from its fixed name (no reference: a cycle).
      expect(fns.sweep.environment).toEqual({
        ...submitting,
        [EnvName.stateMachineArn]: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':states:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':stateMachine:Vidflow-jobs',
            ],
          ],
        },
      });
      expect(fns.check.environment).toEqual({ ...common, ...provider, [EnvName.jobTimeoutSeconds]: '1800' });
      expect(fns.finalize.environment).toEqual({
        ...common,
        ...provider,
        [EnvName.outputBucket]: { Ref: logicalIdOfType(json, 'AWS::S3::Bucket', 'OutputBucket') },
        [EnvName.eventBusName]: bus,
      });
      expect(fns['record-failure'].environment).toEqual({ ...common, [EnvName.eventBusName]: bus });
    });

    it('log to their own log group, kept for one month', () => {
      for (const fn of Object.values(fns)) {
        const logging = asRecord(asRecord(resource(json, fn.logicalId).Properties).LoggingConfig);
        const logGroupId = asRecord(logging.LogGroup).Ref;
        expect(typeof logGroupId).toBe('string');
        expect(asRecord(resource(json, String(logGroupId)).Properties).RetentionInDays).toBe(30);
      }
    });

    it('create a placeholder provider secret unless an existing one is given', () => {
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'vidflow/provider-api-key',
        GenerateSecretString: Match.objectLike({ PasswordLength: 32 }),
      });
      const imported = templateWith({ providerSecretArn: SECRET_ARN });
      imported.resourceCountIs('AWS::SecretsManager::Secret', 0);
      const importedFns = findVidflowFunctions(imported.toJSON());
      expect(importedFns.check.environment[EnvName.providerSecretArn]).toBe(SECRET_ARN);
      const read = statementFor(
        statementsOf(imported.toJSON(), importedFns.check),
        'secretsmanager:GetSecretValue',
      );
      expect(read.Resource).toBe(SECRET_ARN);
    });
  });

  describe('permissions', () => {
    // Every action of every function, resource by resource: least-privilege.test.ts.
    it('let submit read only input objects and start only the job state machine', () => {
      const input = logicalIdOfType(json, 'AWS::S3::Bucket', 'InputBucket');
      const statements = statementsOf(json, fns.submit);
      expect(statementFor(statements, 's3:GetObject').Resource).toEqual({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [input, 'Arn'] }, '/*']],
      });
      expect(statementFor(statements, 's3:ListBucket').Resource).toEqual({ 'Fn::GetAtt': [input, 'Arn'] });
      expect(statementFor(statements, 'states:StartExecution').Resource).toEqual({
        Ref: logicalIdOfType(json, 'AWS::StepFunctions::StateMachine', 'JobStateMachine'),
      });
    });

    it('let finalize write only objects of the output bucket', () => {
      const output = logicalIdOfType(json, 'AWS::S3::Bucket', 'OutputBucket');
      expect(statementFor(statementsOf(json, fns.finalize), 's3:PutObject').Resource).toEqual({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [output, 'Arn'] }, '/*']],
      });
    });

    it('let the state machine invoke only check, finalize and record-failure', () => {
      const machine = asRecord(
        resource(json, logicalIdOfType(json, 'AWS::StepFunctions::StateMachine', 'JobStateMachine')),
      );
      const roleId = asArray(asRecord(asRecord(machine.Properties).RoleArn)['Fn::GetAtt'])[0];
      const invoke = resourcesOfType(json, 'AWS::IAM::Policy')
        .map(([, policy]) => asRecord(policy.Properties))
        .filter((props) => asArray(props.Roles).some((r) => asRecord(r).Ref === roleId))
        .flatMap((props) => asArray(asRecord(props.PolicyDocument).Statement).map(asRecord))
        .find((s) => s.Action === 'lambda:InvokeFunction');
      const targets = asArray(invoke?.Resource).map((r) => JSON.stringify(r));
      for (const fn of [fns.check, fns.finalize, fns['record-failure']]) {
        expect(targets).toContain(JSON.stringify({ 'Fn::GetAtt': [fn.logicalId, 'Arn'] }));
      }
      expect(targets.join()).not.toContain(fns.submit.logicalId);
    });
  });

  describe('the state machine', () => {
    it('is a Standard, JSONPath state machine with X-Ray tracing and ERROR-level logs', () => {
      template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
      template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: Match.objectLike({ Level: 'ERROR' }),
      });
      expect(definition.QueryLanguage).toBe('JSONPath');
    });

    it('passes asl-validator', () => {
      const result = aslValidator(structuredClone(definition));
      expect(result.errorsText()).toBe('');
      expect(result.isValid).toBe(true);
    });

    it('has exactly the states of docs/architecture.md', () => {
      expect(Object.fromEntries(Object.entries(states).map(([name, s]) => [name, s.Type]))).toEqual({
        [StateName.waitBeforeChecking]: 'Wait',
        [StateName.checkGeneration]: 'Task',
        [StateName.generationFinished]: 'Choice',
        [StateName.copyResult]: 'Task',
        [StateName.admitAfterCompletion]: 'Task',
        [StateName.jobCompleted]: 'Succeed',
        [StateName.recordFailure]: 'Task',
        [StateName.admitAfterFailure]: 'Task',
        [StateName.jobFailed]: 'Fail',
      });
      expect(definition.StartAt).toBe(StateName.waitBeforeChecking);
    });

    it('waits for $.waitSeconds, checks, and loops until the generation is finished', () => {
      expect(state(StateName.waitBeforeChecking)).toEqual({
        Type: 'Wait',
        SecondsPath: '$.waitSeconds',
        Next: StateName.checkGeneration,
      });
      expect(state(StateName.checkGeneration).Next).toBe(StateName.generationFinished);
      expect(state(StateName.generationFinished)).toEqual({
        Type: 'Choice',
        Choices: [{ Variable: '$.finished', BooleanEquals: true, Next: StateName.copyResult }],
        Default: StateName.waitBeforeChecking,
      });
      expect(state(StateName.copyResult).Next).toBe(StateName.admitAfterCompletion);
      expect(state(StateName.admitAfterCompletion).Next).toBe(StateName.jobCompleted);
      expect(state(StateName.recordFailure).Next).toBe(StateName.admitAfterFailure);
      expect(state(StateName.admitAfterFailure).Next).toBe(StateName.jobFailed);
    });

    it('lets waiting jobs in as each execution ends, without waiting for it and whatever it does', () => {
      for (const [name, next] of [
        [StateName.admitAfterCompletion, StateName.jobCompleted],
        [StateName.admitAfterFailure, StateName.jobFailed],
      ] as const) {
        expect({ name, ...state(name) }).toMatchObject({
          name,
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: {
            FunctionName: lambdaArn(fns.sweep.logicalId),
            InvocationType: 'Event',
            Payload: { admit: true },
          },
          ResultPath: null,
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: next }],
          Next: next,
        });
      }
    });

    it('invokes each function with the whole state and lets its result replace the state', () => {
      const taskFunctions: Array<[string, TemplateFunction]> = [
        [StateName.checkGeneration, fns.check],
        [StateName.copyResult, fns.finalize],
        [StateName.recordFailure, fns['record-failure']],
      ];
      for (const [name, fn] of taskFunctions) {
        expect(state(name)).toMatchObject({
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: lambdaArn(fn.logicalId), 'Payload.$': '$' },
          OutputPath: '$.Payload',
        });
        expect(state(name).ResultPath).toBeUndefined();
      }
    });

    it('times each task out a little after its function would', () => {
      expect(state(StateName.checkGeneration).TimeoutSeconds).toBe(60);
      expect(state(StateName.copyResult).TimeoutSeconds).toBe(960);
      expect(state(StateName.recordFailure).TimeoutSeconds).toBe(60);
    });

    it('retries the transient errors the functions throw with capped, jittered exponential backoff', () => {
      for (const name of [StateName.checkGeneration, StateName.copyResult]) {
        expect(asArray(state(name).Retry)).toContainEqual(TRANSIENT_RETRY);
      }
      expect(TRANSIENT_RETRY.ErrorEquals).toEqual([
        ErrorName.providerUnavailable,
        ErrorName.providerRateLimited,
        ErrorName.providerTimeout,
        ErrorName.outputDownload,
        ErrorName.awsServiceUnavailable,
      ]);
    });

    it('retries Lambda service errors and throttling on every task', () => {
      for (const [name, s] of Object.entries(states).filter(([, s]) => s.Type === 'Task')) {
        const retriedErrors = asArray(s.Retry).flatMap((r) => asArray(asRecord(r).ErrorEquals));
        expect({ name, retriedErrors }).toEqual({
          name,
          retriedErrors: expect.arrayContaining([
            ...LAMBDA_SERVICE_ERRORS,
            'Lambda.TooManyRequestsException',
          ]),
        });
      }
    });

    it('catches every failure of every task except the recorder and records it, keeping the state', () => {
      const admitting: string[] = [StateName.admitAfterCompletion, StateName.admitAfterFailure];
      for (const [name, s] of Object.entries(states).filter(([, s]) => s.Type === 'Task')) {
        if (admitting.includes(name)) continue; // see "lets waiting jobs in..."
        if (name === StateName.recordFailure) {
          expect(s.Catch).toBeUndefined();
        } else {
          expect({ name, catch: s.Catch }).toEqual({ name, catch: CATCH_ALL });
        }
      }
    });

    it('names in Retry only errors the functions throw or Lambda raises', () => {
      const known = new Set<string>([
        ...Object.values(ErrorName),
        ...LAMBDA_SERVICE_ERRORS,
        'Lambda.TooManyRequestsException',
      ]);
      const retried = Object.values(states).flatMap((s) =>
        (Array.isArray(s.Retry) ? s.Retry : []).flatMap((r) => asArray(asRecord(r).ErrorEquals).map(String)),
      );
      expect(retried.filter((error) => !known.has(error))).toEqual([]);
    });

    it('ends a failed job in a Fail state and a finished one in a Succeed state', () => {
      expect(state(StateName.jobFailed)).toMatchObject({ Type: 'Fail', Error: 'JobFailed' });
      expect(state(StateName.jobCompleted)).toEqual({ Type: 'Succeed' });
    });

    it('times the execution out 15 minutes after the job deadline, which context can change', () => {
      expect(definition.TimeoutSeconds).toBe((30 + 15) * 60);
      const short = templateWith({ jobTimeoutMinutes: '5' }).toJSON();
      expect(renderWithPlaceholders(short).TimeoutSeconds).toBe((5 + 15) * 60);
      expect(findVidflowFunctions(short).submit.environment[EnvName.jobTimeoutSeconds]).toBe('300');
    });
  });

  describe('outputs and context', () => {
    it('exports the names the CLI and operators need', () => {
      const ids = (type: string, prefix: string) => logicalIdOfType(json, type, prefix);
      template.hasOutput('InputBucketName', { Value: { Ref: ids('AWS::S3::Bucket', 'InputBucket') } });
      template.hasOutput('OutputBucketName', { Value: { Ref: ids('AWS::S3::Bucket', 'OutputBucket') } });
      template.hasOutput('JobsTableName', { Value: { Ref: ids('AWS::DynamoDB::Table', 'JobsTable') } });
      template.hasOutput('StateMachineArn', {
        Value: { Ref: ids('AWS::StepFunctions::StateMachine', 'JobStateMachine') },
      });
      template.hasOutput('EventBusName', { Value: { Ref: ids('AWS::Events::EventBus', 'EventBus') } });
      template.hasOutput('DeadLetterQueueUrl', {
        Value: { Ref: ids('AWS::SQS::Queue', 'SubmitDeadLetterQueue') },
      });
      template.hasResourceProperties('AWS::Events::EventBus', { Name: 'vidflow' });
    });

    it.each([
      [{ jobTimeoutMinutes: 'soon' }, /jobTimeoutMinutes/],
      [{ jobTimeoutMinutes: 0 }, /jobTimeoutMinutes/],
      [{ maxInputMiB: '-1' }, /maxInputMiB/],
      [{ providerBaseUrl: 'api.aimlapi.com' }, /providerBaseUrl/],
      [{ providerSecretArn: 'vidflow/provider-api-key' }, /providerSecretArn/],
      [{ removalPolicy: 'keep' }, /removalPolicy/],
    ])('rejects malformed context %j with a StackContextError', (context, message) => {
      expect(() => createVidflowStack({ context })).toThrow(StackContextError);
      expect(() => createVidflowStack({ context })).toThrow(message);
    });

    it('applies maxInputMiB to the submit function', () => {
      const fnsWithLimit = findVidflowFunctions(templateWith({ maxInputMiB: '32' }).toJSON());
      expect(fnsWithLimit.submit.environment[EnvName.maxInputBytes]).toBe(String(32 * 1024 * 1024));
    });
  });

  describe('synthesizeTemplate', () => {
    it('returns the template with the same state machine, without bundling', () => {
      const synthesized = synthesizeTemplate();
      expect(renderWithPlaceholders(synthesized)).toEqual(definition);
      expect(Object.keys(findVidflowFunctions(synthesized)).sort()).toEqual(
        ['check', 'finalize', 'record-failure', 'submit', 'sweep'].sort(),
      );
    });
  });
});
