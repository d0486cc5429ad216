/**
 * The polling policy's queued clock against a real DynamoDB protocol server (dynalite), on the
 * table the stack's own `JobsTable` construct declares: a check that sees the generation queued
 * keeps `lastQueuedAt` on the job's item (out of the public record), every observation of that
 * generation carries when it was last seen queued (the history item's fourth number), and a job
 * seen queued is planned on the time left after that check once the history has taught it
 * (docs/polling.md section 6).
 */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoCompletionHistoryStore,
  historyItemKeyOf,
} from '../../functions/adapters/completion-history-store.js';
import { DynamoJobStore } from '../../functions/adapters/job-store.js';
import { checkGeneration } from '../../functions/domain/check-generation.js';
import { toPublicRecord } from '../../functions/domain/finalize-job.js';
import { JobStatus } from '../../functions/domain/job.js';
import {
  historySlotOf,
  planFor,
  planNextWait,
  policySettingsFor,
  pollStateOf,
} from '../../functions/domain/poll-policy.js';
import { silentLogger } from '../../functions/domain/ports.js';
import { FakeClock, FakeProvider } from '../support/fakes.js';
import { aJob, POLL_SETTINGS, T0 } from '../support/jobs.js';
import { createJobsTable, type LocalDynamo, startLocalDynamo } from '../support/local-dynamo.js';

const EPOCH = Date.parse(T0) / 1000;

let local: LocalDynamo;
let documents: DynamoDBDocumentClient;
let table: string;

beforeAll(async () => {
  local = await startLocalDynamo('queued-clock');
  documents = local.documents;
  table = await createJobsTable(local.dynamo, 'QueuedClock');
});

afterAll(async () => {
  await local?.close();
});

describe('the queued clock on DynamoDB', () => {
  it('keeps when a check last saw the generation queued, on the item, in the history and out of the record', async () => {
    const clock = new FakeClock(T0);
    const jobs = new DynamoJobStore(documents, table, clock);
    const history = new DynamoCompletionHistoryStore(documents, table, { cacheMs: 0 });
    const provider = new FakeProvider();
    const deps = { jobs, provider, clock, logger: silentLogger, settings: POLL_SETTINGS, history };
    const job = aJob({
      jobId: 'queuedclockaaaaaaaaa',
      status: JobStatus.submitted,
      providerStatus: 'queued',
    });
    await jobs.create(job);

    clock.advanceSeconds(40);
    provider.scriptGet({ id: 'gen-42', status: 'queued' });
    await checkGeneration(deps, job.jobId);
    clock.advanceSeconds(30);
    provider.scriptGet({ id: 'gen-42', status: 'generating' });
    await checkGeneration(deps, job.jobId);
    clock.advanceSeconds(50);
    provider.scriptGet({ id: 'gen-42', status: 'completed', videoUrl: 'https://cdn.example.com/o.mp4' });
    await checkGeneration(deps, job.jobId);

    const stored = await jobs.get(job.jobId);
    expect(stored?.lastQueuedAt).toBe(new Date(Date.parse(T0) + 40_000).toISOString());
    expect(toPublicRecord(stored ?? job)).not.toHaveProperty('lastQueuedAt');
    const item = await documents.send(
      new GetCommand({ TableName: table, Key: { jobId: historyItemKeyOf('1280:720') } }),
    );
    // The completion: after the check at 70 s, by the one at 120 s, last seen queued at 40 s.
    expect(item.Item?.observations).toStrictEqual({
      [String(historySlotOf(job.jobId))]: [70, 120, EPOCH + 120, 40],
    });
    await expect(history.read('1280:720')).resolves.toMatchObject({
      observations: [{ afterSeconds: 70, bySeconds: 120, atSeconds: EPOCH + 120, queuedSeconds: 40 }],
    });
  });

  it('plans a job seen queued on the time left after that check, from the history in the table', async () => {
    const clock = new FakeClock(T0);
    const jobs = new DynamoJobStore(documents, table, clock);
    const history = new DynamoCompletionHistoryStore(documents, table, { cacheMs: 0 });
    // Thirty generations of another frame size, each queued until 300 s and processed in 200 to 229 s.
    for (let i = 0; i < 30; i += 1) {
      const done = 300 + 200 + ((i * 7) % 30);
      await history.record(`848:480`, i, {
        afterSeconds: done - 5,
        bySeconds: done,
        atSeconds: EPOCH + 10 * i + done,
        queuedSeconds: 300,
      });
    }
    const provider = new FakeProvider();
    const deps = { jobs, provider, clock, logger: silentLogger, settings: POLL_SETTINGS, history };
    const request = { model: 'runway/gen4_aleph', prompt: 'p', frameSize: '848:480', duration: 5 } as const;
    const job = aJob({ jobId: 'queuedclockbbbbbbbbb', status: JobStatus.submitted, request });
    await jobs.create(job);
    clock.advanceSeconds(320);
    provider.scriptGet({ id: 'gen-42', status: 'queued' });

    const result = await checkGeneration(deps, job.jobId);

    const checked = (await jobs.get(job.jobId)) ?? job;
    const read = await history.read('848:480');
    const policy = policySettingsFor(POLL_SETTINGS, checked);
    expect(result.waitSeconds).toBe(planNextWait(read, policy, pollStateOf(checked, clock.now())));
    expect(result.waitSeconds).toBe(planFor(read, policy, 1800 - 320, 'last-queued').plan.nextCheckAt[0]);
    expect(result.waitSeconds).toBeGreaterThanOrEqual(195);
  });
});
