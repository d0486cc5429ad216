import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoJobStore, daysBetween, sourceIdOf, statusDayOf } from '../../functions/adapters/job-store.js';
import { StaleTransitionError } from '../../functions/domain/errors.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { rejectionOf } from '../support/assertions.js';
import { FakeClock } from '../support/fakes.js';
import { aJob } from '../support/jobs.js';

const TABLE = 'vidflow-jobs';
const NOW = '2025-05-01T12:05:00.000Z';
const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
);

let clock: FakeClock;
let store: DynamoJobStore;

beforeEach(() => {
  ddb.reset();
  clock = new FakeClock(NOW);
  store = new DynamoJobStore(client, TABLE, clock);
});

function conditionFailed(): ConditionalCheckFailedException {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

/** A job as stored: with its index attributes. */
function itemOf(job: Job): Record<string, unknown> {
  return {
    ...job,
    statusDay: statusDayOf(job.status, job.statusChangedAt),
    sourceId: sourceIdOf(job.source.bucket, job.source.key),
  };
}

describe('create', () => {
  it('puts the record with its index attributes, only if no record has its id', async () => {
    ddb.on(PutCommand).resolves({});
    const job = aJob({ status: JobStatus.submitted });

    await expect(store.create(job)).resolves.toBe(true);

    expect(ddb.commandCalls(PutCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        TableName: TABLE,
        Item: { ...job, statusDay: 'SUBMITTED#2025-05-01', sourceId: 'vidflow-input/trips/clip.mp4' },
        ConditionExpression: 'attribute_not_exists(#id)',
        ExpressionAttributeNames: { '#id': 'jobId' },
      },
    ]);
  });

  it('returns false when a record with the id exists (ConditionalCheckFailedException)', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());

    await expect(store.create(aJob())).resolves.toBe(false);
  });

  it('lets other DynamoDB errors through', async () => {
    const throttled = new Error('ProvisionedThroughputExceededException');
    ddb.on(PutCommand).rejects(throttled);

    expect(await rejectionOf(store.create(aJob()))).toBe(throttled);
  });
});

describe('get', () => {
  it('reads strongly consistently and strips the index attributes', async () => {
    const job = aJob();
    ddb.on(GetCommand).resolves({ Item: itemOf(job) });

    await expect(store.get(job.jobId)).resolves.toStrictEqual(job);
    expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toStrictEqual([
      { TableName: TABLE, Key: { jobId: job.jobId }, ConsistentRead: true },
    ]);
  });

  it('returns undefined for an unknown id', async () => {
    ddb.on(GetCommand).resolves({});

    await expect(store.get('nosuchjob')).resolves.toBeUndefined();
  });
});

describe('update', () => {
  it('leaves updatedAt alone for bookkeeping that is no change to the job', async () => {
    const after = aJob({ eventPublishedAt: NOW });
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(after) });

    await store.update(after.jobId, { eventPublishedAt: NOW }, { touch: false });

    expect(ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        TableName: TABLE,
        Key: { jobId: after.jobId },
        // The mark takes the job out of the pending-event index in the same write.
        UpdateExpression: 'SET #f1 = :v1 REMOVE #pending',
        ConditionExpression: 'attribute_exists(#id)',
        ExpressionAttributeNames: { '#id': 'jobId', '#f1': 'eventPublishedAt', '#pending': 'eventPending' },
        ExpressionAttributeValues: { ':v1': NOW },
        ReturnValues: 'ALL_NEW',
      },
    ]);
  });

  it('moves the record in the status index when the status changes, under an IN condition', async () => {
    const after = aJob({ status: JobStatus.generating, statusChangedAt: NOW, updatedAt: NOW, pollCount: 1 });
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(after) });

    const returned = await store.update(
      after.jobId,
      { status: JobStatus.generating, providerStatus: 'generating' },
      { expectStatus: [JobStatus.submitted, JobStatus.generating], incrementPollCount: true },
    );

    expect(returned).toStrictEqual(after);
    expect(ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        TableName: TABLE,
        Key: { jobId: after.jobId },
        UpdateExpression:
          'SET #updatedAt = :now, #f1 = :v1, #f2 = :v2, #f3 = :v3, #f4 = :v4, ' +
          '#pollCount = if_not_exists(#pollCount, :zero) + :one REMOVE #pending',
        ConditionExpression: 'attribute_exists(#id) AND #status IN (:s0, :s1)',
        ExpressionAttributeNames: {
          '#id': 'jobId',
          '#updatedAt': 'updatedAt',
          '#f1': 'status',
          '#f2': 'providerStatus',
          '#f3': 'statusChangedAt',
          '#f4': 'statusDay',
          '#pending': 'eventPending',
          '#pollCount': 'pollCount',
          '#status': 'status',
        },
        ExpressionAttributeValues: {
          ':now': NOW,
          ':v1': 'GENERATING',
          ':v2': 'generating',
          ':v3': NOW,
          ':v4': 'GENERATING#2025-05-01',
          ':zero': 0,
          ':one': 1,
          ':s0': 'SUBMITTED',
          ':s1': 'GENERATING',
        },
        ReturnValues: 'ALL_NEW',
      },
    ]);
  });

  it('files the status under the day it changed, not the day the job was created', async () => {
    clock.set('2025-05-02T00:00:01.000Z');
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(aJob()) });

    await store.update('job1', { status: JobStatus.completed });

    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues).toStrictEqual({
      ':now': '2025-05-02T00:00:01.000Z',
      ':v1': 'COMPLETED',
      ':v2': '2025-05-02T00:00:01.000Z',
      ':v3': 'COMPLETED#2025-05-02',
      // Ended without its event marked: in the pending-event index from the same write.
      ':v4': 'pending',
    });
  });

  it('leaves statusChangedAt and statusDay alone when the status does not change', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(aJob()) });

    await store.update('job1', { executionArn: 'arn:x', creditsUsed: undefined });

    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.UpdateExpression).toBe('SET #updatedAt = :now, #f1 = :v1');
    expect(input?.ExpressionAttributeNames).toStrictEqual({
      '#id': 'jobId',
      '#updatedAt': 'updatedAt',
      '#f1': 'executionArn',
    });
    expect(input?.ConditionExpression).toBe('attribute_exists(#id)');
  });

  it('claims for submission only when nobody holds the claim and no generation id is recorded', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(aJob()) });
    const claim = { token: 't-1', claimedAt: NOW };

    await store.update(
      'job1',
      { submissionClaim: claim },
      { expectStatus: [JobStatus.submitted], expectUnclaimed: true },
    );

    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe(
      'attribute_exists(#id) AND #status IN (:s0) AND attribute_not_exists(#claim) AND attribute_not_exists(#generationId)',
    );
    expect(input?.ExpressionAttributeNames).toMatchObject({
      '#claim': 'submissionClaim',
      '#generationId': 'generationId',
    });
    expect(input?.ExpressionAttributeValues).toMatchObject({ ':v1': claim, ':s0': 'SUBMITTED' });
  });

  it('releases a claim only with its token, removing the field', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(aJob()) });

    await store.update('job1', {}, { expectClaimToken: 't-1', removeFields: ['submissionClaim'] });

    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toMatchObject({
      UpdateExpression: 'SET #updatedAt = :now REMOVE #r_submissionClaim',
      ConditionExpression: 'attribute_exists(#id) AND #claim.#token = :token',
      ExpressionAttributeNames: {
        '#id': 'jobId',
        '#updatedAt': 'updatedAt',
        '#r_submissionClaim': 'submissionClaim',
        '#claim': 'submissionClaim',
        '#token': 'token',
      },
      ExpressionAttributeValues: { ':now': NOW, ':token': 't-1' },
    });
  });

  it('removes several fields in one REMOVE clause', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(aJob()) });

    await store.update('job1', { status: JobStatus.submitted }, { removeFields: ['error', 'generationId'] });

    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.UpdateExpression).toBe(
      'SET #updatedAt = :now, #f1 = :v1, #f2 = :v2, #f3 = :v3 REMOVE #pending, #r_error, #r_generationId',
    );
  });

  it('removes the ETA with any move to a terminal status, and only then', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: itemOf(aJob()) });

    await store.update('job1', { status: JobStatus.failed }, { removeFields: ['error'] });
    await store.update('job1', { status: JobStatus.generating });

    const expressions = ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input.UpdateExpression);
    expect(expressions[0]).toMatch(/ REMOVE #r_error, #r_expectedCompletionAt, #r_expectedCompletionP90At$/);
    // A move to an in-flight status removes only the pending-event mark, never the ETA.
    expect(expressions[1]).toMatch(/ REMOVE #pending$/);
  });

  it('turns a failed condition into StaleTransitionError, keeping the cause', async () => {
    const failed = conditionFailed();
    ddb.on(UpdateCommand).rejects(failed);

    const error = await rejectionOf(
      store.update('job1', { status: JobStatus.completed }, { expectStatus: [JobStatus.copying] }),
    );

    expect(error).toBeInstanceOf(StaleTransitionError);
    expect(error).toMatchObject({
      name: 'StaleTransitionError',
      code: 'STALE_TRANSITION',
      message: 'job job1 is not in a state this change may leave',
      cause: failed,
    });
  });

  it('lets other DynamoDB errors through', async () => {
    const throttled = new Error('ThrottlingException');
    ddb.on(UpdateCommand).rejects(throttled);

    expect(await rejectionOf(store.update('job1', { providerStatus: 'queued' }))).toBe(throttled);
  });
});

describe('listByStatus', () => {
  /** The exact query for one day partition. */
  function dayQuery(day: string, since: string, until: string): QueryCommandInput {
    return {
      TableName: TABLE,
      IndexName: 'byStatus',
      KeyConditionExpression: '#statusDay = :statusDay AND #at BETWEEN :since AND :until',
      ExpressionAttributeNames: { '#statusDay': 'statusDay', '#at': 'statusChangedAt' },
      ExpressionAttributeValues: { ':statusDay': `SUBMITTED#${day}`, ':since': since, ':until': until },
      ScanIndexForward: false,
    };
  }

  const jobAt = (jobId: string, at: string) =>
    itemOf(aJob({ jobId, status: JobStatus.submitted, statusChangedAt: at }));

  it('queries the byStatus index one day partition per day, newest day first, and never scans', async () => {
    const byDay: Record<string, Record<string, unknown>[]> = {
      'SUBMITTED#2025-05-01': [
        jobAt('d', '2025-05-01T10:00:00.000Z'),
        jobAt('c', '2025-05-01T01:00:00.000Z'),
      ],
      'SUBMITTED#2025-04-30': [jobAt('b', '2025-04-30T23:00:00.000Z')],
      'SUBMITTED#2025-04-29': [jobAt('a', '2025-04-29T19:00:00.000Z')],
    };
    ddb.on(QueryCommand).callsFake((input: QueryCommandInput) => ({
      Items: byDay[String(input.ExpressionAttributeValues?.[':statusDay'])] ?? [],
    }));
    const since = '2025-04-29T18:00:00.000Z';
    const until = '2025-05-01T12:00:00.000Z';

    const jobs = await store.listByStatus(JobStatus.submitted, {
      since: new Date(since),
      until: new Date(until),
    });

    expect(jobs.map((job) => job.jobId)).toStrictEqual(['d', 'c', 'b', 'a']);
    expect(jobs[0]).not.toHaveProperty('statusDay');
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      dayQuery('2025-05-01', since, until),
      dayQuery('2025-04-30', since, until),
      dayQuery('2025-04-29', since, until),
    ]);
    expect(ddb.commandCalls(ScanCommand)).toStrictEqual([]);
  });

  it('reads up to now when no end is given', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });

    await store.listByStatus(JobStatus.submitted, { since: new Date('2025-05-01T00:00:00.000Z') });

    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      dayQuery('2025-05-01', '2025-05-01T00:00:00.000Z', NOW),
    ]);
  });

  it('follows pages within a day', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [jobAt('b', '2025-05-01T11:00:00.000Z')], LastEvaluatedKey: { jobId: 'b' } })
      .resolvesOnce({ Items: [jobAt('a', '2025-05-01T10:00:00.000Z')] });

    const jobs = await store.listByStatus(JobStatus.submitted, {
      since: new Date('2025-05-01T00:00:00.000Z'),
    });

    expect(jobs.map((job) => job.jobId)).toStrictEqual(['b', 'a']);
    const inputs = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(inputs).toHaveLength(2);
    expect(inputs[1]?.ExclusiveStartKey).toStrictEqual({ jobId: 'b' });
  });

  it('stops querying once the limit is reached', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [jobAt('c', '2025-05-01T11:00:00.000Z'), jobAt('b', '2025-05-01T10:00:00.000Z')],
    });

    const jobs = await store.listByStatus(JobStatus.submitted, {
      since: new Date('2025-04-25T00:00:00.000Z'),
      limit: 2,
    });

    expect(jobs.map((job) => job.jobId)).toStrictEqual(['c', 'b']);
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input.Limit)).toStrictEqual([2]);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(1);
  });
});

describe('listBySource', () => {
  it('queries the bySource index, newest first', async () => {
    ddb
      .on(QueryCommand)
      .resolves({ Items: [itemOf(aJob({ jobId: 'new' })), itemOf(aJob({ jobId: 'old' }))] });

    const jobs = await store.listBySource('vidflow-input', 'trips/my clip.mp4');

    expect(jobs.map((job) => job.jobId)).toStrictEqual(['new', 'old']);
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        IndexName: 'bySource',
        KeyConditionExpression: '#sourceId = :sourceId',
        ExpressionAttributeNames: { '#sourceId': 'sourceId' },
        ExpressionAttributeValues: { ':sourceId': 'vidflow-input/trips/my clip.mp4' },
        ScanIndexForward: false,
      },
    ]);
    expect(ddb.commandCalls(ScanCommand)).toStrictEqual([]);
  });
});

describe('daysBetween', () => {
  it('lists every UTC day touching the range, oldest first, across a month end', () => {
    expect(
      daysBetween(new Date('2025-04-29T23:59:59.000Z'), new Date('2025-05-01T00:00:00.000Z')),
    ).toStrictEqual(['2025-04-29', '2025-04-30', '2025-05-01']);
  });

  it('lists one day for a range within a day', () => {
    expect(
      daysBetween(new Date('2025-05-01T01:00:00.000Z'), new Date('2025-05-01T02:00:00.000Z')),
    ).toStrictEqual(['2025-05-01']);
  });
});
