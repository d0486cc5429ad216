/**
 * The admission counters against a real DynamoDB protocol server (dynalite): the conditional
 * expressions (`size()` of a map, nested map paths, ADD under a condition) are what make the cap
 * and the budget exact, so they are proven on a server, not a mock.
 */
import { CreateTableCommand, type DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoAdmissionStore } from '../../functions/adapters/admission-store.js';
import { InternalItemKind, isInternalItemKey, JobsAttribute } from '../../functions/config/jobs-table.js';
import { type LocalDynamo, startLocalDynamo } from '../support/local-dynamo.js';

const AT = new Date('2026-11-23T10:00:00.000Z');
const DAY = '2026-11-23';

let local: LocalDynamo;
let dynamo: DynamoDBClient;
let document: DynamoDBDocumentClient;
let tableNumber = 0;
let store: DynamoAdmissionStore;

beforeAll(async () => {
  local = await startLocalDynamo('admission');
  dynamo = local.dynamo;
  document = local.documents;
});

afterAll(async () => {
  await local?.close();
});

beforeEach(async () => {
  tableNumber += 1;
  const table = `jobs-${tableNumber}`;
  await dynamo.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'jobId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'jobId', KeyType: 'HASH' }],
    }),
  );
  await waitUntilTableExists({ client: dynamo, maxWaitTime: 30, minDelay: 0.1 }, { TableName: table });
  store = new DynamoAdmissionStore(document, table);
});

describe('in-flight slots', () => {
  it('grants exactly `cap` slots to 30 concurrent callers', async () => {
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => store.acquireSlot(`job-${i}`, 10, AT)),
    );

    expect(results.filter(Boolean)).toHaveLength(10);
    expect((await store.slotHolders()).size).toBe(10);
  });

  it('lets a holder take its slot again, keeping when it first took it', async () => {
    await store.acquireSlot('a', 1, AT);

    await expect(store.acquireSlot('a', 1, new Date('2026-11-23T11:00:00.000Z'))).resolves.toBe(true);
    await expect(store.acquireSlot('b', 1, AT)).resolves.toBe(false);
    expect([...(await store.slotHolders())]).toStrictEqual([['a', AT.toISOString()]]);
  });

  it('frees a slot on release, and releasing a job holding none changes nothing', async () => {
    await store.acquireSlot('a', 1, AT);
    await store.releaseSlot('nobody');
    await store.releaseSlot('a');
    await store.releaseSlot('a');

    await expect(store.acquireSlot('b', 1, AT)).resolves.toBe(true);
    expect([...(await store.slotHolders()).keys()]).toStrictEqual(['b']);
  });

  it('reports no holders before any slot was taken', async () => {
    expect((await store.slotHolders()).size).toBe(0);
  });
});

describe('daily credit budget', () => {
  it('reserves until the next reservation would pass the limit, from concurrent callers', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.reserveCredits(DAY, `job-${i}`, 40, 200)),
    );

    expect(results.filter(Boolean)).toHaveLength(5);
    await expect(store.creditsSpent(DAY)).resolves.toBe(200);
  });

  it('reserves once per job: a repeated call succeeds without adding', async () => {
    await expect(store.reserveCredits(DAY, 'a', 40, 50)).resolves.toBe(true);
    await expect(store.reserveCredits(DAY, 'a', 40, 50)).resolves.toBe(true);

    await expect(store.creditsSpent(DAY)).resolves.toBe(40);
    await expect(store.reserveCredits(DAY, 'b', 40, 50)).resolves.toBe(false);
  });

  it('settles a reservation to the real cost once, freeing the difference', async () => {
    await store.reserveCredits(DAY, 'a', 40, 80);
    await store.reserveCredits(DAY, 'b', 40, 80);

    await store.settleCredits(DAY, 'a', 40, 0);
    await store.settleCredits(DAY, 'a', 40, 0);
    await store.settleCredits(DAY, 'nobody', 40, 0);

    await expect(store.creditsSpent(DAY)).resolves.toBe(40);
    await expect(store.reserveCredits(DAY, 'c', 40, 80)).resolves.toBe(true);
  });

  it('keeps each day apart', async () => {
    await store.reserveCredits(DAY, 'a', 40, 40);

    await expect(store.reserveCredits('2026-11-24', 'b', 40, 40)).resolves.toBe(true);
    await expect(store.creditsSpent(DAY)).resolves.toBe(40);
    await expect(store.creditsSpent('2026-11-25')).resolves.toBe(0);
  });

  it('never reserves a job that alone costs more than the limit', async () => {
    await expect(store.reserveCredits(DAY, 'a', 40, 30)).resolves.toBe(false);
    await expect(store.creditsSpent(DAY)).resolves.toBe(0);
  });
});

describe('internal items', () => {
  it('are recognisable beside jobs: a "#" key prefix and a kind, so a scan can leave them out', async () => {
    await store.acquireSlot('job-a', 1, AT);
    await store.reserveCredits(DAY, 'job-a', 40, 1000);
    const table = `jobs-${tableNumber}`;
    await document.send(
      new PutCommand({ TableName: table, Item: { jobId: 'abcdefghij234567abcd', status: 'SUBMITTED' } }),
    );

    const all = (await document.send(new ScanCommand({ TableName: table }))).Items ?? [];
    const internal = all.filter((item) => isInternalItemKey(String(item.jobId)));
    expect(internal.map((item) => [item.jobId, item.kind]).sort()).toEqual([
      [`#admission#credits#${DAY}`, InternalItemKind.admissionCredits],
      ['#admission#slots', InternalItemKind.admissionSlots],
    ]);
    const jobsOnly = await document.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'attribute_not_exists(#kind)',
        ExpressionAttributeNames: { '#kind': JobsAttribute.kind },
      }),
    );
    expect(jobsOnly.Items?.map((item) => item.jobId)).toEqual(['abcdefghij234567abcd']);
  });
});
