/**
 * `vidflow console --stack <name>`: the console against a deployed stack, found by its
 * CloudFormation outputs, with every AWS client mocked (as the CLI's other `--stack` paths are).
 * The same API the page uses: the list from the status index (never a scan), a job with its
 * parameters' sources, its timeline from GetExecutionHistory, the output streamed by range, and
 * AWS refusals in words.
 */
import { Readable } from 'node:stream';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CliContext } from '../../cli/context.js';
import { connectStack } from '../../cli/stack.js';
import type { ConsoleServer } from '../../console/server/server.js';
import { serveConsole } from '../../console/server/start-local.js';
import { sourceIdOf, statusDayOf } from '../../functions/adapters/job-store.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { aJob } from '../support/jobs.js';

const cloudFormation = mockClient(CloudFormationClient);
const documents = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);

const EXECUTION_ARN = 'arn:aws:states:eu-west-1:123456789012:execution:vidflow-jobs:abcdefghij234567abcd';
const OUTPUT_KEY = 'trips/clip/abcdefghij234567abcd.mp4';
const job: Job = aJob({
  status: JobStatus.completed,
  providerStatus: 'completed',
  pollCount: 2,
  creditsUsed: 40,
  executionArn: EXECUTION_ARN,
  completedAt: '2025-05-01T12:04:00.000Z',
  statusChangedAt: '2025-05-01T12:04:00.000Z',
  output: { bucket: 'vidflow-out-eu', key: OUTPUT_KEY, size: 1000, eTag: 'e', contentType: 'video/mp4' },
});

function itemOf(value: Job): Record<string, unknown> {
  return {
    ...value,
    statusDay: statusDayOf(value.status, value.statusChangedAt),
    sourceId: sourceIdOf(value.source.bucket, value.source.key),
  };
}

let ctx: CliContext;
let server: ConsoleServer;

async function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL(path, server.url), { headers });
}

beforeAll(async () => {
  cloudFormation.on(DescribeStacksCommand, { StackName: 'Vidflow' }).resolves({
    Stacks: [
      {
        StackName: 'Vidflow',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE',
        Outputs: Object.entries({
          InputBucketName: 'vidflow-input',
          OutputBucketName: 'vidflow-out-eu',
          JobsTableName: 'Vidflow-JobsTable',
          StateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:vidflow-jobs',
          EventBusName: 'vidflow',
        }).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
  ctx = await connectStack({ stack: 'Vidflow', region: 'eu-west-1' });
  server = await serveConsole(ctx, { port: 0 });
});

beforeEach(() => {
  documents.reset();
  s3.reset();
  sfn.reset();
  // aws-sdk-client-mock: the more specific behaviour is set after the general one.
  documents.on(GetCommand).resolves({});
  documents.on(GetCommand, { Key: { jobId: job.jobId } }).resolves({ Item: itemOf(job) });
  documents.on(QueryCommand).resolves({ Items: [] });
  documents
    .on(QueryCommand, { ExpressionAttributeValues: { ':statusDay': 'COMPLETED#2025-05-01' } })
    .resolves({ Items: [itemOf(job)] });
  s3.on(HeadObjectCommand, { Key: 'trips/clip.mp4' }).resolves({
    Metadata: { prompt: 'make%20it%20snow' },
    ETag: '"e"',
    ContentLength: 1234,
  });
  s3.on(GetObjectCommand).rejects(
    new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }),
  );
});

afterEach(() => undefined);

afterAll(async () => {
  await server?.close();
  ctx?.close();
  for (const mock of [cloudFormation, documents, s3, sfn]) mock.restore();
});

describe('vidflow console --stack', () => {
  it('describes the stack found by its outputs', async () => {
    expect(await (await get('/api/target')).json()).toMatchObject({
      kind: 'stack',
      description: 'stack Vidflow (eu-west-1)',
      inputBucket: 'vidflow-input',
      outputBucket: 'vidflow-out-eu',
    });
  });

  it('lists jobs with byStatus index queries, never a scan', async () => {
    const response = await get('/api/jobs?status=COMPLETED&since=1d&before=2025-05-01T13:00:00.000Z');
    const body = (await response.json()) as { jobs: { jobId: string }[]; more: boolean };

    expect(response.status).toBe(200);
    expect(body).toEqual({
      jobs: [expect.objectContaining({ jobId: job.jobId, status: 'COMPLETED' })],
      more: false,
    });
    expect(documents.commandCalls(ScanCommand)).toEqual([]);
    expect(new Set(documents.commandCalls(QueryCommand).map((call) => call.args[0].input.IndexName))).toEqual(
      new Set(['byStatus']),
    );
    expect(body.jobs[0]).not.toHaveProperty('submissionClaim');
  });

  it('shows a job with where each parameter came from, and its path from the execution history', async () => {
    sfn.on(GetExecutionHistoryCommand, { executionArn: EXECUTION_ARN }).resolves({
      events: [
        { id: 1, previousEventId: 0, timestamp: new Date('2025-05-01T12:00:01Z'), type: 'ExecutionStarted' },
        {
          id: 2,
          previousEventId: 1,
          timestamp: new Date('2025-05-01T12:00:01Z'),
          type: 'WaitStateEntered',
          stateEnteredEventDetails: { name: 'Wait before checking', input: '{"waitSeconds":60}' },
        },
        {
          id: 3,
          previousEventId: 2,
          timestamp: new Date('2025-05-01T12:01:01Z'),
          type: 'TaskStateEntered',
          stateEnteredEventDetails: { name: 'Check the generation', input: '{}' },
        },
        {
          id: 4,
          previousEventId: 3,
          timestamp: new Date('2025-05-01T12:01:02Z'),
          type: 'TaskSucceeded',
          taskSucceededEventDetails: {
            resourceType: 'lambda',
            resource: 'invoke',
            output: '{"Payload":{"finished":true,"waitSeconds":0}}',
          },
        },
        {
          id: 5,
          previousEventId: 4,
          timestamp: new Date('2025-05-01T12:01:03Z'),
          type: 'TaskStateEntered',
          stateEnteredEventDetails: { name: 'Copy the result to the output bucket', input: '{}' },
        },
        {
          id: 6,
          previousEventId: 5,
          timestamp: new Date('2025-05-01T12:03:59Z'),
          type: 'TaskSucceeded',
          taskSucceededEventDetails: { resourceType: 'lambda', resource: 'invoke', output: '{"Payload":{}}' },
        },
        {
          id: 7,
          previousEventId: 6,
          timestamp: new Date('2025-05-01T12:04:00Z'),
          type: 'ExecutionSucceeded',
        },
      ],
    });

    const details = (await (await get(`/api/jobs/${job.jobId}`)).json()) as { params: unknown[] };
    const timeline = (await (await get(`/api/jobs/${job.jobId}/timeline`)).json()) as {
      steps: { title: string; at?: string; detail?: string; source: string }[];
      missing: string[];
    };

    expect(details.params).toEqual([
      {
        name: 'prompt',
        value: 'make it snow',
        origin: 'metadata',
        from: 's3://vidflow-input/trips/clip.mp4',
      },
      { name: 'frameSize', value: '1280:720', origin: 'default' },
      { name: 'duration', value: '5', origin: 'default' },
    ]);
    expect(timeline.steps.filter((step) => step.source === 'execution')).toEqual([
      {
        at: '2025-05-01T12:00:01.000Z',
        title: 'Polling execution started',
        tone: 'info',
        attempt: 1,
        source: 'execution',
      },
      {
        at: '2025-05-01T12:00:01.000Z',
        title: 'Waiting before the next check',
        detail: '60 s',
        tone: 'wait',
        attempt: 1,
        source: 'execution',
      },
      {
        at: '2025-05-01T12:01:02.000Z',
        title: 'Check 1: the generation is ready',
        tone: 'ok',
        attempt: 1,
        source: 'execution',
      },
      {
        at: '2025-05-01T12:03:59.000Z',
        title: 'Copied the result to the output bucket',
        tone: 'ok',
        attempt: 1,
        source: 'execution',
      },
      {
        at: '2025-05-01T12:04:00.000Z',
        title: 'Polling execution succeeded',
        tone: 'ok',
        attempt: 1,
        source: 'execution',
      },
    ]);
    expect(timeline.missing).toEqual([
      'when the submission was claimed and the POST sent (the claim is cleared once answered)',
      "the provider's status at each check (the record keeps only the last: completed)",
      'webhook attempts (the webhook function logs them to CloudWatch Logs)',
    ]);
  });

  it('streams the output by byte range, so the browser can seek', async () => {
    s3.on(GetObjectCommand, { Bucket: 'vidflow-out-eu', Key: OUTPUT_KEY, Range: 'bytes=100-199' }).resolves({
      Body: Readable.from([Buffer.alloc(100, 7)]) as never,
      ContentLength: 100,
      ContentRange: 'bytes 100-199/1000',
      ContentType: 'video/mp4',
    });

    const response = await get(`/media/${job.jobId}/output`, { range: 'bytes=100-199' });

    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe('bytes 100-199/1000');
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(Buffer.alloc(100, 7));
  });

  it('answers 404 in words for an unknown job and for an input deleted since', async () => {
    const unknown = await get('/api/jobs/zzzzzzzzzzzzzzzzzzzz');
    const gone = await get(`/media/${job.jobId}/input`);

    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: { message: 'no job zzzzzzzzzzzzzzzzzzzz in stack Vidflow (eu-west-1)', code: 'UNKNOWN_JOB' },
    });
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({
      error: { message: 's3://vidflow-input/trips/clip.mp4 no longer exists (it was deleted)', code: 'GONE' },
    });
  });

  it('says when the credentials cannot read the stack’s table', async () => {
    const denied = new Error(
      'User: arn:aws:iam::123456789012:user/dev is not authorized to perform: dynamodb:Query on resource: Vidflow-JobsTable',
    );
    denied.name = 'AccessDeniedException';
    documents.on(QueryCommand).rejects(denied);

    const response = await get('/api/jobs');

    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({
      error: {
        message:
          'AWS denied the request: User: arn:aws:iam::123456789012:user/dev is not authorized to perform: dynamodb:Query on resource: Vidflow-JobsTable',
      },
    });
  });
});
