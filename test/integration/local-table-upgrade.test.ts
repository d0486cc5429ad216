/**
 * A local data directory made by an earlier version: its jobs table lacks an index the template
 * gained (as `byPendingEvent` was added in 0.2.0). The local runtime adds it as a deployment does
 * in AWS, keeping every item, and finishes a rebuild a killed process left half done.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  type DynamoDBClient,
  ListTablesCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JobsIndex } from '../../functions/config/jobs-table.js';
import { buildCreateTableInputs, ensureTablesFromTemplate } from '../../local/dynamodb-server.js';
import { holdingTableOf } from '../../local/dynamodb-table-upgrade.js';
import { jobsTableTemplate, type LocalDynamo, startLocalDynamo } from '../support/local-dynamo.js';

const TABLE = 'jobs';
const ITEMS = 60;

let local: LocalDynamo;
let dynamo: DynamoDBClient;
let documents: DynamoDBDocumentClient;
let template: Record<string, unknown>;

beforeAll(async () => {
  local = await startLocalDynamo('table-upgrade');
  dynamo = local.dynamo;
  documents = local.documents;
  template = jobsTableTemplate('TableUpgrade');
});

afterEach(async () => {
  for (const name of (await dynamo.send(new ListTablesCommand({}))).TableNames ?? []) {
    await dynamo.send(new DeleteTableCommand({ TableName: name }));
    await waitUntilTableNotExists({ client: dynamo, maxWaitTime: 10, minDelay: 0.05 }, { TableName: name });
  }
});

afterAll(async () => {
  await local?.close();
});

async function createTable(input: CreateTableCommandInput): Promise<void> {
  await dynamo.send(new CreateTableCommand(input));
  await waitUntilTableExists(
    { client: dynamo, maxWaitTime: 10, minDelay: 0.05 },
    { TableName: input.TableName },
  );
}

/** The jobs table as an earlier version created it: without `byPendingEvent`. */
async function createEarlierTable(): Promise<void> {
  const [input] = buildCreateTableInputs(template, () => TABLE);
  if (input === undefined) throw new Error('the template has no table');
  await createTable({
    ...input,
    GlobalSecondaryIndexes: input.GlobalSecondaryIndexes?.filter(
      (index) => index.IndexName !== JobsIndex.byPendingEvent,
    ),
    AttributeDefinitions: input.AttributeDefinitions?.filter(
      (definition) => definition.AttributeName !== 'eventPending',
    ),
  });
  for (let i = 0; i < ITEMS; i += 1) {
    await documents.send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          jobId: `job-${String(i).padStart(3, '0')}`,
          statusDay: 'FAILED#2026-01-10',
          statusChangedAt: `2026-01-10T08:00:${String(i % 60).padStart(2, '0')}.000Z`,
          // An item the new index should hold as soon as it exists.
          ...(i % 3 === 0 ? { eventPending: 'pending' } : {}),
        },
      }),
    );
  }
}

async function allItemIds(tableName: string): Promise<string[]> {
  const items = (await documents.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))).Items;
  return (items ?? []).map((item) => String(item.jobId)).sort();
}

async function pendingIds(): Promise<string[]> {
  const result = await documents.send(
    new QueryCommand({
      TableName: TABLE,
      IndexName: JobsIndex.byPendingEvent,
      KeyConditionExpression: 'eventPending = :pending',
      ExpressionAttributeValues: { ':pending': 'pending' },
    }),
  );
  return (result.Items ?? []).map((item) => String(item.jobId)).sort();
}

const EVERY_ID = Array.from({ length: ITEMS }, (_, i) => `job-${String(i).padStart(3, '0')}`);
const PENDING_IDS = EVERY_ID.filter((_, i) => i % 3 === 0);

describe('a local jobs table made by an earlier version', () => {
  it('gains the index the template added, keeping every item, and the index holds the items it should', async () => {
    await createEarlierTable();

    expect(await ensureTablesFromTemplate(dynamo, template, () => TABLE)).toStrictEqual([TABLE]);

    expect(await allItemIds(TABLE)).toStrictEqual(EVERY_ID);
    expect(await pendingIds()).toStrictEqual(PENDING_IDS);
    expect((await dynamo.send(new ListTablesCommand({}))).TableNames).toStrictEqual([TABLE]);
    // Accepted as it is from then on.
    expect(await ensureTablesFromTemplate(dynamo, template, () => TABLE)).toStrictEqual([TABLE]);
  });

  it('finishes a rebuild killed after the table was dropped: the items come back from the holding table', async () => {
    await createEarlierTable();
    const [input] = buildCreateTableInputs(template, () => TABLE);
    await createTable({
      TableName: holdingTableOf(TABLE),
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: input?.KeySchema,
      AttributeDefinitions: [{ AttributeName: 'jobId', AttributeType: 'S' }],
    });
    const items = (await documents.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
    for (const item of items)
      await documents.send(new PutCommand({ TableName: holdingTableOf(TABLE), Item: item }));
    await dynamo.send(new DeleteTableCommand({ TableName: TABLE }));

    expect(await ensureTablesFromTemplate(dynamo, template, () => TABLE)).toStrictEqual([TABLE]);

    expect(await allItemIds(TABLE)).toStrictEqual(EVERY_ID);
    expect(await pendingIds()).toStrictEqual(PENDING_IDS);
    expect((await dynamo.send(new ListTablesCommand({}))).TableNames).toStrictEqual([TABLE]);
  });

  it('starts a rebuild over when it was killed while copying out: the old table still holds everything', async () => {
    await createEarlierTable();
    await createTable({
      TableName: holdingTableOf(TABLE),
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'jobId', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'jobId', AttributeType: 'S' }],
    });
    // Only a third copied out when the process died.
    const items = (await documents.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
    for (const item of items.slice(0, ITEMS / 3)) {
      await documents.send(new PutCommand({ TableName: holdingTableOf(TABLE), Item: item }));
    }

    expect(await ensureTablesFromTemplate(dynamo, template, () => TABLE)).toStrictEqual([TABLE]);

    expect(await allItemIds(TABLE)).toStrictEqual(EVERY_ID);
    expect(await pendingIds()).toStrictEqual(PENDING_IDS);
    expect((await dynamo.send(new ListTablesCommand({}))).TableNames).toStrictEqual([TABLE]);
  });
});
