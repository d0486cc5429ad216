/**
 * The pending-event index against a real DynamoDB protocol server (dynalite), on the table the
 * stack's own `JobsTable` construct declares: an ended job whose terminal event is not marked sent
 * is in it, however long ago it ended, until the mark; a job started again leaves it. This is how
 * the sweeper finds an event a crash left unsent (sweep-jobs.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoJobStore } from '../../functions/adapters/job-store.js';
import { JobStatus } from '../../functions/domain/job.js';
import { FakeClock } from '../support/fakes.js';
import { aJob } from '../support/jobs.js';
import { createJobsTable, type LocalDynamo, startLocalDynamo } from '../support/local-dynamo.js';

const ENDED_AT = '2026-01-10T08:00:00.000Z';

let local: LocalDynamo;
let clock: FakeClock;
let store: DynamoJobStore;

beforeAll(async () => {
  local = await startLocalDynamo('pending-events');
  const table = await createJobsTable(local.dynamo, 'PendingEvents');
  clock = new FakeClock(ENDED_AT);
  store = new DynamoJobStore(local.documents, table, clock);
});

afterAll(async () => {
  await local?.close();
});

const FAR_LATER = new Date('2027-01-10T08:00:00.000Z');

describe('the pending-event index', () => {
  it('holds an ended job from its end until its event is marked, and never a job in flight', async () => {
    const job = aJob({ jobId: 'pendingjobaaaaaaaaaa', status: JobStatus.generating });
    await store.create(job);
    await expect(store.listPendingEvents({ until: FAR_LATER, limit: 10 })).resolves.toStrictEqual([]);

    await store.update(job.jobId, { status: JobStatus.failed }, { expectStatus: [JobStatus.generating] });
    // A year later, past any window of days: still found.
    await expect(store.listPendingEvents({ until: FAR_LATER, limit: 10 })).resolves.toStrictEqual([
      job.jobId,
    ]);
    // Not before it ended.
    await expect(
      store.listPendingEvents({ until: new Date(Date.parse(ENDED_AT) - 1), limit: 10 }),
    ).resolves.toStrictEqual([]);
    // The index attribute never shows in the record.
    expect(Object.keys((await store.get(job.jobId)) ?? {})).not.toContain('eventPending');

    await store.update(job.jobId, { eventPublishedAt: ENDED_AT }, { touch: false });
    await expect(store.listPendingEvents({ until: FAR_LATER, limit: 10 })).resolves.toStrictEqual([]);
  });

  it('holds a job created already ended without its event, oldest first, within the limit', async () => {
    clock.set('2026-01-11T00:00:00.000Z');
    const newer = aJob({
      jobId: 'pendingjobcccccccccc',
      status: JobStatus.rejected,
      statusChangedAt: '2026-01-11T00:00:00.000Z',
    });
    const older = aJob({
      jobId: 'pendingjobbbbbbbbbbb',
      status: JobStatus.rejected,
      statusChangedAt: '2026-01-10T09:00:00.000Z',
    });
    const announced = aJob({
      jobId: 'pendingjobdddddddddd',
      status: JobStatus.rejected,
      eventPublishedAt: ENDED_AT,
    });
    for (const job of [newer, older, announced]) await store.create(job);

    await expect(store.listPendingEvents({ until: FAR_LATER, limit: 10 })).resolves.toStrictEqual([
      older.jobId,
      newer.jobId,
    ]);
    await expect(store.listPendingEvents({ until: FAR_LATER, limit: 1 })).resolves.toStrictEqual([
      older.jobId,
    ]);
    for (const job of [newer, older])
      await store.update(job.jobId, { eventPublishedAt: ENDED_AT }, { touch: false });
  });

  it('lets go of a job started again (vidflow retry), and takes it back when it ends again', async () => {
    const job = aJob({ jobId: 'pendingjobeeeeeeeeee', status: JobStatus.generating });
    await store.create(job);
    await store.update(job.jobId, { status: JobStatus.failed });
    await expect(store.listPendingEvents({ until: FAR_LATER, limit: 10 })).resolves.toStrictEqual([
      job.jobId,
    ]);

    await store.update(
      job.jobId,
      { status: JobStatus.submitted },
      { removeFields: ['eventPublishedAt', 'error'] },
    );
    await expect(store.listPendingEvents({ until: FAR_LATER, limit: 10 })).resolves.toStrictEqual([]);

    await store.update(job.jobId, { status: JobStatus.completed });
    await expect(store.listPendingEvents({ until: FAR_LATER, limit: 10 })).resolves.toStrictEqual([
      job.jobId,
    ]);
  });
});
