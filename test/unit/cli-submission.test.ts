/**
 * What `vidflow retry` submits with on a deployed stack: the submit function's own environment
 * (found by its tag among the stack's functions), else what the stack's outputs imply.
 */
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliTarget } from '../../cli/context.js';
import { stackEnvironment } from '../../cli/submission.js';
import { readSubmitFunctionEnvironment } from '../../cli/submit-function.js';
import { loadConfig } from '../../functions/config/config.js';
import { aJob } from '../support/jobs.js';

const cloudFormation = mockClient(CloudFormationClient);
const lambda = mockClient(LambdaClient);

afterEach(() => {
  cloudFormation.reset();
  lambda.reset();
});

const SUBMIT_ENVIRONMENT = {
  VIDFLOW_INPUT_BUCKET: 'vidflow-input',
  VIDFLOW_JOBS_TABLE: 'vidflow-jobs',
  VIDFLOW_JOB_TIMEOUT_SECONDS: '2400',
};

describe('readSubmitFunctionEnvironment', () => {
  it("returns the environment of the stack's function tagged as submit", async () => {
    cloudFormation.on(ListStackResourcesCommand).resolves({
      StackResourceSummaries: [
        {
          LogicalResourceId: 'Bucket',
          ResourceType: 'AWS::S3::Bucket',
          PhysicalResourceId: 'b',
          ResourceStatus: 'CREATE_COMPLETE',
          LastUpdatedTimestamp: new Date(),
        },
        {
          LogicalResourceId: 'CheckFn',
          ResourceType: 'AWS::Lambda::Function',
          PhysicalResourceId: 'vidflow-check',
          ResourceStatus: 'CREATE_COMPLETE',
          LastUpdatedTimestamp: new Date(),
        },
        {
          LogicalResourceId: 'SubmitFn',
          ResourceType: 'AWS::Lambda::Function',
          PhysicalResourceId: 'vidflow-submit',
          ResourceStatus: 'CREATE_COMPLETE',
          LastUpdatedTimestamp: new Date(),
        },
      ],
    });
    lambda
      .on(GetFunctionCommand, { FunctionName: 'vidflow-check' })
      .resolves({ Tags: { 'vidflow:function': 'check' }, Configuration: { Environment: { Variables: {} } } })
      .on(GetFunctionCommand, { FunctionName: 'vidflow-submit' })
      .resolves({
        Tags: { 'vidflow:function': 'submit' },
        Configuration: { Environment: { Variables: SUBMIT_ENVIRONMENT } },
      });

    const environment = await readSubmitFunctionEnvironment(
      new CloudFormationClient({}),
      new LambdaClient({}),
      'Vidflow',
    );

    expect(environment).toStrictEqual(SUBMIT_ENVIRONMENT);
    expect(cloudFormation.commandCalls(ListStackResourcesCommand)[0]?.args[0].input).toMatchObject({
      StackName: 'Vidflow',
    });
  });

  it('returns undefined when the caller may not read the functions, or there is none', async () => {
    cloudFormation.on(ListStackResourcesCommand).resolves({
      StackResourceSummaries: [
        {
          LogicalResourceId: 'SubmitFn',
          ResourceType: 'AWS::Lambda::Function',
          PhysicalResourceId: 'vidflow-submit',
          ResourceStatus: 'CREATE_COMPLETE',
          LastUpdatedTimestamp: new Date(),
        },
      ],
    });
    const denied = Object.assign(new Error('not authorized to perform lambda:GetFunction'), {
      name: 'AccessDeniedException',
    });
    lambda.on(GetFunctionCommand).rejects(denied);
    const read = () =>
      readSubmitFunctionEnvironment(new CloudFormationClient({}), new LambdaClient({}), 'Vidflow');

    await expect(read()).resolves.toBeUndefined();
    lambda.reset();
    lambda.on(GetFunctionCommand).resolves({ Tags: { 'vidflow:function': 'check' } });
    await expect(read()).resolves.toBeUndefined();
  });

  it('throws other AWS errors', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling' });
    cloudFormation.on(ListStackResourcesCommand).rejects(throttled);

    await expect(
      readSubmitFunctionEnvironment(new CloudFormationClient({}), new LambdaClient({}), 'Vidflow'),
    ).rejects.toThrow('Rate exceeded');
  });
});

describe('stackEnvironment', () => {
  const target: CliTarget = {
    kind: 'stack',
    description: 'stack Vidflow (eu-west-1)',
    region: 'eu-west-1',
    inputBucket: 'in',
    outputBucket: 'out',
    jobsTable: 'jobs',
    stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:vidflow',
    eventBusName: 'vidflow',
    admission: { maxInFlight: 3, creditsPerJobEstimate: 25, dailyCreditBudget: 500 },
  };

  it("reads as the submit function's configuration: the outputs, the previous timeout, the defaults", () => {
    const job = aJob({ submittedAt: '2025-05-01T12:00:00.000Z', deadlineAt: '2025-05-01T12:45:00.000Z' });

    const config = loadConfig(stackEnvironment(target, job));

    expect(config).toMatchObject({
      inputBucket: 'in',
      outputBucket: 'out',
      jobsTable: 'jobs',
      stateMachineArn: target.stateMachineArn,
      eventBusName: 'vidflow',
      videoUrlMode: 'presigned',
      jobTimeoutSeconds: 2700,
      admission: { maxInFlight: 3, creditsPerJobEstimate: 25, dailyCreditBudget: 500 },
      poll: { initialWaitSeconds: 60, minWaitSeconds: 5, maxWaitSeconds: 60, checkCostSeconds: 3.5 },
    });
    expect(loadConfig(stackEnvironment(target)).jobTimeoutSeconds).toBe(1800);
  });
});
