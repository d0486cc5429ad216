/**
 * Object keys as users really name them (spaces, `+`, `%`, non-Latin scripts, nested folders),
 * dropped with the real AWS CLI; a multipart upload; and the job record and execution read back
 * with the AWS CLI, as the README tells a newcomer to do.
 */
import { readFile } from 'node:fs/promises';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Job, JobStatus, MODEL } from '../../functions/domain/job.js';
import {
  awsCli,
  emulatorRequests,
  generationPosts,
  getObject,
  jobIdOf,
  objectExists,
  paddedTestClip,
  postsForObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitFor,
  waitForJob,
} from '../support/runtime-harness.js';

const TEST_TIMEOUT_MS = 120_000;
const KEY = 'nested/dir one/a+b 100%/東京 vidéo.mp4';
const OUTPUT_STEM = 'nested/dir one/a+b 100%/東京 vidéo';
const PROMPT = '東京の夜景、100% neon + rain';
const MULTIPART_KEY = 'uploads/big one/clip+multipart.mp4';
const MIB = 1024 * 1024;

const dynamoString = z.object({ S: z.string() });
const dynamoItem = z.looseObject({ jobId: dynamoString, status: dynamoString, sourceId: dynamoString });

describe.concurrent('keys and upload paths', { timeout: TEST_TIMEOUT_MS }, () => {
  let rt: TestRuntime;
  let jobId: string;
  let job: Job;

  beforeAll(async () => {
    rt = await startTestRuntime();
    await awsCli([
      's3',
      'cp',
      await testClip(),
      `s3://${rt.endpoints.inputBucket}/${KEY}`,
      '--metadata',
      JSON.stringify({ prompt: encodeURIComponent(PROMPT), 'frame-size': '640:480' }),
      '--endpoint-url',
      rt.endpoints.s3,
      '--only-show-errors',
    ]);
    jobId = await jobIdOf(rt.clients.s3, rt.endpoints.inputBucket, KEY);
    job = await waitForJob(rt.clients.jobs, jobId);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await rt?.stop();
  });

  it('completes a drop whose key has spaces, +, % and non-Latin characters, keeping its folders in the output key', async () => {
    expect(job.status).toBe(JobStatus.completed);
    expect(job.source).toMatchObject({ bucket: rt.endpoints.inputBucket, key: KEY });
    expect(job.request).toEqual({ model: MODEL, prompt: PROMPT, frameSize: '640:480', duration: 5 });
    expect(job.output?.key).toBe(`${OUTPUT_STEM}/${jobId}.mp4`);
    const output = await getObject(rt.clients.s3, rt.endpoints.outputBucket, `${OUTPUT_STEM}/${jobId}.mp4`);
    expect(output.metadata['source-key']).toBe(encodeURIComponent(KEY));
    expect(await objectExists(rt.clients.s3, rt.endpoints.outputBucket, `${OUTPUT_STEM}/${jobId}.json`)).toBe(
      true,
    );
    const entries = await emulatorRequests(rt.endpoints.provider);
    expect(postsForObject(entries, rt.endpoints.inputBucket, KEY)).toHaveLength(1);
  });

  it('returns the record from `aws dynamodb get-item`', async () => {
    const result = await awsCli(
      [
        'dynamodb',
        'get-item',
        '--table-name',
        rt.endpoints.jobsTable,
        '--key',
        JSON.stringify({ jobId: { S: jobId } }),
        '--consistent-read',
        '--endpoint-url',
        rt.endpoints.dynamodb,
      ],
      z.object({ Item: dynamoItem }),
    );
    expect(result.Item.jobId.S).toBe(jobId);
    expect(result.Item.status.S).toBe(JobStatus.completed);
    expect(result.Item.sourceId.S).toBe(`${rt.endpoints.inputBucket}/${KEY}`);
  });

  it('finds the record with `aws dynamodb query --index-name bySource`', async () => {
    const result = await awsCli(
      [
        'dynamodb',
        'query',
        '--table-name',
        rt.endpoints.jobsTable,
        '--index-name',
        'bySource',
        '--key-condition-expression',
        'sourceId = :source',
        '--expression-attribute-values',
        JSON.stringify({ ':source': { S: `${rt.endpoints.inputBucket}/${KEY}` } }),
        '--endpoint-url',
        rt.endpoints.dynamodb,
      ],
      z.object({ Items: z.array(dynamoItem), Count: z.number() }),
    );
    expect(result.Count).toBe(1);
    expect(result.Items.map((item) => [item.jobId.S, item.status.S])).toEqual([[jobId, JobStatus.completed]]);
  });

  it('lists the execution named after the job as SUCCEEDED with `aws stepfunctions list-executions`', async () => {
    // The job settles inside the execution's last task: wait for the execution itself to end.
    const ended = await waitFor('the execution to end', async () => {
      const found = (await listExecutions()).find((candidate) => candidate.name === jobId);
      return found === undefined || found.status === 'RUNNING' ? undefined : found;
    });
    expect(ended).toMatchObject({ name: jobId, status: 'SUCCEEDED', executionArn: job.executionArn });
  });

  const listExecutions = async () => {
    const result = await awsCli(
      [
        'stepfunctions',
        'list-executions',
        '--state-machine-arn',
        rt.endpoints.stateMachineArn,
        '--endpoint-url',
        rt.endpoints.stepfunctions,
      ],
      z.object({
        executions: z.array(
          z.looseObject({ name: z.string(), status: z.string(), executionArn: z.string() }),
        ),
      }),
    );
    return result.executions;
  };

  it('creates exactly one job for a multipart upload, and completes it', async () => {
    const body = await readFile(await paddedTestClip(6 * MIB));
    expect(body.length).toBeGreaterThan(5 * MIB);
    const upload = new Upload({
      client: rt.clients.s3,
      params: {
        Bucket: rt.endpoints.inputBucket,
        Key: MULTIPART_KEY,
        Body: body,
        ContentType: 'video/mp4',
        Metadata: { prompt: 'a claymation version', 'frame-size': '640:480' },
      },
      partSize: 5 * MIB,
      queueSize: 2,
    });
    const partsSent = new Set<number>();
    upload.on('httpUploadProgress', (progress) => {
      if (progress.part !== undefined) partsSent.add(progress.part);
    });
    await upload.done();
    expect([...partsSent].sort()).toEqual([1, 2]);
    const multipartJobId = await jobIdOf(rt.clients.s3, rt.endpoints.inputBucket, MULTIPART_KEY);

    const multipartJob = await waitForJob(rt.clients.jobs, multipartJobId);

    expect(multipartJob.status).toBe(JobStatus.completed);
    expect(multipartJob.source).toMatchObject({ key: MULTIPART_KEY, size: body.length });
    const jobsOfKey = await rt.clients.jobs.listBySource(rt.endpoints.inputBucket, MULTIPART_KEY);
    expect(jobsOfKey.map((candidate) => candidate.jobId)).toEqual([multipartJobId]);
    const entries = await emulatorRequests(rt.endpoints.provider);
    expect(postsForObject(entries, rt.endpoints.inputBucket, MULTIPART_KEY)).toHaveLength(1);
    expect(
      generationPosts(entries).filter((post) => post.generationId === multipartJob.generationId),
    ).toHaveLength(1);
  });
});
