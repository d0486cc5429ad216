/**
 * Adds to a local table the global secondary indexes its template gained since the table was
 * created, as a deployment does in AWS (CloudFormation adds the index to the live table and
 * DynamoDB fills it). dynalite cannot add an index to an existing table, so the table is rebuilt:
 * its items are copied into a holding table, the table is created again from the template, and the
 * items are copied back. Every step can be repeated, so a process killed at any point finishes
 * the rebuild at its next start ({@link resumeTableUpgrade}); no item is lost on the way.
 */

import {
  type AttributeValue,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  paginateScan,
  ResourceNotFoundException,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';

/** The holding table of `tableName` while it is rebuilt. */
export function holdingTableOf(tableName: string): string {
  return `${tableName}.vidflow-upgrade`;
}

/** The template's global indexes that `table` lacks, when that is all it lacks; else undefined. */
export function missingIndexesOnly(
  expected: CreateTableCommandInput,
  table: TableDescription,
  differences: readonly string[],
): string[] | undefined {
  const have = new Set((table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const missing = (expected.GlobalSecondaryIndexes ?? [])
    .map((index) => index.IndexName ?? '')
    .filter((name) => !have.has(name));
  return missing.length > 0 && missing.length === differences.length ? missing : undefined;
}

/**
 * Rebuilds `input.TableName` with the template's keys and indexes, keeping every item.
 * @returns the number of items carried over.
 */
export async function upgradeTable(client: DynamoDBClient, input: CreateTableCommandInput): Promise<number> {
  const tableName = input.TableName ?? '';
  const holding = holdingTableOf(tableName);
  if ((await describeTable(client, holding)) !== undefined) await deleteAndWait(client, holding);
  await createAndWait(client, {
    TableName: holding,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: input.KeySchema,
    AttributeDefinitions: (input.AttributeDefinitions ?? []).filter((definition) =>
      (input.KeySchema ?? []).some((key) => key.AttributeName === definition.AttributeName),
    ),
  });
  await copyItems(client, tableName, holding);
  await deleteAndWait(client, tableName);
  return finishUpgrade(client, input);
}

/**
 * Finishes a rebuild a killed process left half done, if any: the holding table exists.
 * When the table itself still has its old shape, the copy into the holding table may be partial:
 * the rebuild starts over. Otherwise the holding table holds every item.
 * @returns whether a rebuild was finished or started over.
 */
export async function resumeTableUpgrade(
  client: DynamoDBClient,
  input: CreateTableCommandInput,
  isCurrent: (table: TableDescription) => boolean,
): Promise<boolean> {
  const tableName = input.TableName ?? '';
  if ((await describeTable(client, holdingTableOf(tableName))) === undefined) return false;
  const table = await describeTable(client, tableName);
  if (table !== undefined && !isCurrent(table)) await upgradeTable(client, input);
  else await finishUpgrade(client, input);
  return true;
}

/** Creates the table from the template (unless it exists), copies the held items back, drops the holding table. */
async function finishUpgrade(client: DynamoDBClient, input: CreateTableCommandInput): Promise<number> {
  const tableName = input.TableName ?? '';
  const holding = holdingTableOf(tableName);
  if ((await describeTable(client, tableName)) === undefined) await createAndWait(client, input);
  const copied = await copyItems(client, holding, tableName);
  await deleteAndWait(client, holding);
  return copied;
}

async function copyItems(client: DynamoDBClient, from: string, to: string): Promise<number> {
  let copied = 0;
  for await (const page of paginateScan({ client }, { TableName: from, ConsistentRead: true })) {
    for (const item of page.Items ?? []) {
      await client.send(new PutItemCommand({ TableName: to, Item: item as Record<string, AttributeValue> }));
      copied += 1;
    }
  }
  return copied;
}

/** The table's description, or undefined when there is no such table. */
export async function describeTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/** dynalite's table changes take effect at once when started with zero delays (dynamodb-server.ts); waits anyway. */
async function createAndWait(client: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
  await client.send(new CreateTableCommand(input));
  await until(client, input.TableName ?? '', (table) => table?.TableStatus === 'ACTIVE');
}

async function deleteAndWait(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(new DeleteTableCommand({ TableName: tableName }));
  await until(client, tableName, (table) => table === undefined);
}

async function until(
  client: DynamoDBClient,
  tableName: string,
  done: (table: TableDescription | undefined) => boolean,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done(await describeTable(client, tableName))) {
    if (Date.now() > deadline) throw new Error(`local table ${tableName} did not settle within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
