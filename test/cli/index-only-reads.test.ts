/**
 * Every read of the CLI is an index query: with 20,000 jobs in a local table built from the
 * synthesized stack template, `list --status COMPLETED --since 24h`, `list --source <key>` and
 * `stats` run through the CLI's own code path with a DynamoDB client that records each
 * operation it sends (the `X-Amz-Target` of each HTTP request), and none is a Scan.
 * The elapsed times are printed, not asserted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listJobs } from '../../cli/commands/jobs.js';
import { collectStats } from '../../cli/commands/stats.js';
import { type CliContext, createContext } from '../../cli/context.js';
import type { CliOutput } from '../../cli/format.js';
import { sourceIdOf, statusDayOf } from '../../functions/adapters/job-store.js';
import { type Job, JobStatus, MODEL } from '../../functions/domain/job.js';
import { synthesizeTemplate } from '../../infra/synth.js';
import { createLocalDynamoDbClient, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws-clients.js';
import {
  type DynamoDbServerHandle,
  ensureTablesFromTemplate,
  startDynamoDbServer,
} from '../../local/dynamodb-server.js';
import { LocalName, LocalTemplate } from '../../local/template-resources.js';

const JOBS = 20_000;
/** The seeded jobs entered their status over the 72 hours before NOW. */
const SPREAD_MS = 72 * 3_600_000;
/** A fixed "now" at noon UTC, so the day partitions a 24 h window touches do not depend on when the test runs. */
const NOW = new Date(Date.UTC(2031, 4, 14, 12, 0, 0));
const HOT_KEY = 'hot/key.mp4';
const STATUS_MIX: readonly JobStatus[] = [
  ...Array<JobStatus>(12).fill(JobStatus.completed),
  JobStatus.failed,
  JobStatus.failed,
  JobStatus.failed,
  JobStatus.rejected,
  JobStatus.rejected,
  JobStatus.timedOut,
  JobStatus.cancelled,
  JobStatus.generating,
];

describe('index-only reads over 20,000 jobs', () => {
  let dataDir: string;
  let server: DynamoDbServerHandle;
  let dynamo: DynamoDBClient;
  let jobs: Job[];
  const operations: string[] = [];
  let stdout = '';

  const context = (): CliContext => {
    const out: CliOutput = {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: () => true },
    };
    return createContext(
      {
        kind: 'local',
        description: 'the seeded table',
        region: LOCAL_REGION,
        inputBucket: LocalName.inputBucket,
        outputBucket: LocalName.outputBucket,
        jobsTable: LocalName.jobsTable,
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:unused',
        eventsFile: join(dataDir, 'events.jsonl'),
      },
      {
        dynamo,
        s3: new S3Client({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
        sfn: new SFNClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
      },
      { out, clock: { now: () => NOW } },
    );
  };

  /** Run `body` and return the DynamoDB operations it sent and what it printed. */
  const recorded = async (body: (ctx: CliContext) => Promise<unknown>) => {
    operations.length = 0;
    stdout = '';
    const started = performance.now();
    await body(context());
    return { operations: [...operations], stdout, ms: performance.now() - started };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vidflow-index-'));
    server = await startDynamoDbServer({ dataDir: join(dataDir, 'dynamodb') });
    dynamo = createLocalDynamoDbClient({ endpoint: server.url });
    const template = new LocalTemplate(synthesizeTemplate({ bundle: false }));
    await ensureTablesFromTemplate(dynamo, template.template, (logicalId) =>
      template.resolve({ Ref: logicalId }),
    );

    jobs = Array.from({ length: JOBS }, (_, index) => seededJob(index));
    const started = performance.now();
    await seed(DynamoDBDocumentClient.from(dynamo), jobs);
    console.log(`seeded ${JOBS} jobs in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // Recorded after seeding: the operation of every HTTP request the CLI code sends.
    dynamo.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        operations.push((request.headers?.['x-amz-target'] ?? '?').replace('DynamoDB_20120810.', ''));
        return next(args);
      },
      { step: 'finalizeRequest', name: 'recordOperations' },
    );
  }, 240_000);

  afterAll(async () => {
    dynamo?.destroy();
    await server?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('list --status COMPLETED --since 24h is one Query on the status index', async () => {
    const run = await recorded((ctx) => listJobs(ctx, { status: 'COMPLETED', since: '24h', json: true }));
    console.log(`list --status COMPLETED --since 24h: ${run.ms.toFixed(0)} ms, ${run.operations.join(', ')}`);
    expect(run.operations).toEqual(['Query']);
    const expected = newestFirst(
      jobs.filter((job) => job.status === JobStatus.completed && inLast24h(job)),
    ).slice(0, 50);
    expect((JSON.parse(run.stdout) as Job[]).map((job) => job.jobId)).toEqual(
      expected.map((job) => job.jobId),
    );
  });

  it('reading the whole window stays on the status index, page after page', async () => {
    const run = await recorded((ctx) =>
      listJobs(ctx, { status: 'COMPLETED', since: '24h', limit: JOBS, json: true }),
    );
    console.log(
      `list --status COMPLETED --since 24h --limit ${JOBS}: ${run.ms.toFixed(0)} ms, ${run.operations.length} queries`,
    );
    expect(new Set(run.operations)).toEqual(new Set(['Query']));
    const expected = newestFirst(jobs.filter((job) => job.status === JobStatus.completed && inLast24h(job)));
    expect(expected.length).toBeGreaterThan(3000);
    expect((JSON.parse(run.stdout) as Job[]).map((job) => job.jobId)).toEqual(
      expected.map((job) => job.jobId),
    );
  });

  it('list --source <key> is one Query on the source index', async () => {
    const run = await recorded((ctx) => listJobs(ctx, { source: HOT_KEY, json: true }));
    console.log(`list --source ${HOT_KEY}: ${run.ms.toFixed(0)} ms, ${run.operations.join(', ')}`);
    expect(run.operations).toEqual(['Query']);
    const expected = newestFirst(jobs.filter((job) => job.source.key === HOT_KEY));
    expect(expected).toHaveLength(JOBS / 1000);
    expect((JSON.parse(run.stdout) as Job[]).map((job) => job.jobId)).toEqual(
      expected.map((job) => job.jobId),
    );
  });

  it('stats --since 24h queries each status and day, and counts right', async () => {
    let stats: Awaited<ReturnType<typeof collectStats>> | undefined;
    const run = await recorded(async (ctx) => {
      stats = await collectStats(ctx, 24 * 3_600_000);
    });
    console.log(`stats --since 24h: ${run.ms.toFixed(0)} ms, ${run.operations.length} queries`);
    expect(new Set(run.operations)).toEqual(new Set(['Query']));
    const window = jobs.filter(inLast24h);
    for (const status of Object.values(JobStatus)) {
      expect(stats?.byStatus[status]).toBe(window.filter((job) => job.status === status).length);
    }
    expect(stats?.creditsUsed).toBe(window.reduce((sum, job) => sum + (job.creditsUsed ?? 0), 0));
  });
});

function seededJob(index: number): Job {
  const status = STATUS_MIX[index % STATUS_MIX.length] ?? JobStatus.completed;
  const changedAt = new Date(NOW.getTime() - Math.floor(((index + 0.5) * SPREAD_MS) / JOBS));
  const createdAt = new Date(changedAt.getTime() - 150_000 - (index % 60) * 1000).toISOString();
  const key = index % 1000 === 7 ? HOT_KEY : `clips/${String(index % 2000).padStart(4, '0')}/take.mp4`;
  const jobId = `j${index.toString(32).padStart(19, '0')}`;
  const ended = status !== JobStatus.generating;
  return {
    jobId,
    status,
    source: {
      bucket: LocalName.inputBucket,
      key,
      eTag: `etag${index}`,
      size: 2_000_000,
      contentType: 'video/mp4',
    },
    trigger: { kind: 'upload', bucket: LocalName.inputBucket, key, eTag: `etag${index}` },
    request: { model: MODEL, prompt: `seeded prompt number ${index}`, frameSize: '1280:720', duration: 5 },
    generationId: `gen-${index}`,
    providerStatus: status === JobStatus.completed ? 'completed' : 'generating',
    pollCount: 4,
    attempt: 1,
    ...(status === JobStatus.completed
      ? {
          creditsUsed: 40,
          output: {
            bucket: LocalName.outputBucket,
            key: `${key.replace(/\.mp4$/, '')}/${jobId}.mp4`,
            size: 3_000_000,
            eTag: `out${index}`,
            contentType: 'video/mp4',
          },
        }
      : {}),
    ...(ended && status !== JobStatus.completed
      ? {
          error: {
            code: 'SEEDED',
            message: 'seeded failure',
            stage: 'generation' as const,
            retryable: false,
          },
        }
      : {}),
    createdAt,
    submittedAt: createdAt,
    updatedAt: changedAt.toISOString(),
    statusChangedAt: changedAt.toISOString(),
    ...(ended ? { completedAt: changedAt.toISOString() } : {}),
  };
}

async function seed(documents: DynamoDBDocumentClient, all: readonly Job[]): Promise<void> {
  const batches: Job[][] = [];
  for (let i = 0; i < all.length; i += 25) batches.push(all.slice(i, i + 25));
  const writeBatch = async (batch: readonly Job[]) => {
    let requests = batch.map((job) => ({
      PutRequest: {
        Item: {
          ...job,
          statusDay: statusDayOf(job.status, job.statusChangedAt),
          sourceId: sourceIdOf(job.source.bucket, job.source.key),
        },
      },
    }));
    while (requests.length > 0) {
      const result = await documents.send(
        new BatchWriteCommand({ RequestItems: { [LocalName.jobsTable]: requests } }),
      );
      requests = (result.UnprocessedItems?.[LocalName.jobsTable] ?? []) as typeof requests;
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let batch = batches[next++]; batch !== undefined; batch = batches[next++]) await writeBatch(batch);
    }),
  );
}

const inLast24h = (job: Job): boolean => Date.parse(job.statusChangedAt) >= NOW.getTime() - 24 * 3_600_000;

const newestFirst = (list: readonly Job[]): Job[] =>
  [...list].sort((a, b) => b.statusChangedAt.localeCompare(a.statusChangedAt));
