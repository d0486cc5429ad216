/**
 * The local DynamoDB server (dynalite, persisted in LevelDB under a data directory) and the
 * creation of its tables from the synthesized CloudFormation template, so the local tables have
 * exactly the keys and indexes the stack deploys.
 *
 * dynalite implements neither transactions nor TTL, and cannot add an index to an existing table
 * (an index the template gained is added by rebuilding the table: dynamodb-table-upgrade.ts).
 */

import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeValue,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndexDescription,
  type KeySchemaElement,
  paginateScan,
  ResourceInUseException,
  type ScanCommandInput,
  type TableDescription,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import {
  describeTable,
  missingIndexesOnly,
  resumeTableUpgrade,
  upgradeTable,
} from './dynamodb-table-upgrade.js';

export interface DynamoDbServerOptions {
  /** The LevelDB directory; tables and items survive a restart on the same directory. */
  readonly dataDir: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

export interface DynamoDbServerHandle {
  /** Base URL for `endpoint` / `--endpoint-url`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting requests and closes the database once pending operations finish. */
  close(): Promise<void>;
}

/** Names a table whose template gives no plain-string `TableName`. */
export type ResolveTableName = (logicalId: string, properties: Readonly<Record<string, unknown>>) => string;

/** A table in the data directory no longer matches the template (dynalite cannot alter it). */
export class LocalTableMismatchError extends Error {
  override readonly name = 'LocalTableMismatchError';
  constructor(
    readonly tableName: string,
    readonly differences: readonly string[],
  ) {
    super(
      `Local table ${tableName} differs from the template (${differences.join('; ')}). ` +
        'Delete the local DynamoDB data directory to recreate it.',
    );
  }
}

/** A table resource of the template cannot be turned into a CreateTable request. */
export class TableTemplateError extends Error {
  override readonly name = 'TableTemplateError';
  constructor(
    readonly logicalId: string,
    options: { readonly cause: unknown },
  ) {
    super(`Resource ${logicalId} is not a table definition this runtime understands`, options);
  }
}

/** A created table did not become ACTIVE in time. */
export class TableNotActiveError extends Error {
  override readonly name = 'TableNotActiveError';
  constructor(readonly tableName: string) {
    super(`Table ${tableName} did not become ACTIVE`);
  }
}

/**
 * Starts dynalite on a loopback port, tables created, updated and deleted without delay.
 *
 * @throws when the port is taken or the data directory cannot be created.
 */
export async function startDynamoDbServer(options: DynamoDbServerOptions): Promise<DynamoDbServerHandle> {
  const host = options.host ?? '127.0.0.1';
  await mkdir(options.dataDir, { recursive: true });
  const server = dynalite({ path: options.dataDir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('dynalite is not listening on a TCP port');
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

/**
 * Creates every `AWS::DynamoDB::Table` and `AWS::DynamoDB::GlobalTable` of a CloudFormation
 * template that does not exist yet (keys, attribute definitions, global and local secondary
 * indexes with their projections; always on-demand, since capacity means nothing locally) and
 * waits until each is ACTIVE. An existing table is checked against the template instead; global
 * indexes it lacks are added, keeping its items (dynamodb-table-upgrade.ts).
 *
 * @returns the table names, in template order.
 * @throws TableTemplateError when a table resource is malformed.
 * @throws LocalTableMismatchError when an existing table has other keys or indexes than the
 *   template's (beyond global indexes it lacks).
 * @throws TableNotActiveError when a table does not become ACTIVE within 10 seconds.
 */
export async function ensureTablesFromTemplate(
  client: DynamoDBClient,
  template: unknown,
  resolveName: ResolveTableName,
): Promise<string[]> {
  const names: string[] = [];
  for (const input of buildCreateTableInputs(template, resolveName)) {
    const tableName = input.TableName ?? '';
    await resumeTableUpgrade(client, input, (table) => compareTable(input, table).length === 0);
    const existing = await describeTable(client, tableName);
    if (existing === undefined) {
      try {
        await client.send(new CreateTableCommand(input));
      } catch (error) {
        // Another process created it meanwhile: check it like any existing table.
        if (!(error instanceof ResourceInUseException)) throw error;
      }
    }
    const active = await waitUntilActive(client, tableName);
    const differences = compareTable(input, active);
    if (differences.length > 0 && missingIndexesOnly(input, active, differences) !== undefined) {
      // Indexes the template gained since: added as a deployment adds them (dynamodb-table-upgrade.ts).
      await upgradeTable(client, input);
    } else if (differences.length > 0) {
      throw new LocalTableMismatchError(tableName, differences);
    }
    names.push(tableName);
  }
  return names;
}

/**
 * The CreateTable requests for the template's table resources.
 *
 * @throws TableTemplateError when a table resource is malformed.
 */
export function buildCreateTableInputs(
  template: unknown,
  resolveName: ResolveTableName,
): CreateTableCommandInput[] {
  const resources = TemplateSchema.parse(template).Resources ?? {};
  const inputs: CreateTableCommandInput[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::DynamoDB::Table' && resource.Type !== 'AWS::DynamoDB::GlobalTable') continue;
    const parsed = TablePropertiesSchema.safeParse(resource.Properties);
    if (!parsed.success) throw new TableTemplateError(logicalId, { cause: parsed.error });
    const properties = parsed.data;
    const rawProperties = (resource.Properties ?? {}) as Record<string, unknown>;
    const tableName =
      typeof properties.TableName === 'string' ? properties.TableName : resolveName(logicalId, rawProperties);
    inputs.push({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: properties.KeySchema,
      AttributeDefinitions: properties.AttributeDefinitions,
      ...(properties.GlobalSecondaryIndexes !== undefined && {
        GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes.map(toIndex),
      }),
      ...(properties.LocalSecondaryIndexes !== undefined && {
        LocalSecondaryIndexes: properties.LocalSecondaryIndexes.map(toIndex),
      }),
    });
  }
  return inputs;
}

// --- dynalite (CommonJS, untyped) --------------------------------------------------------------

interface DynaliteOptions {
  readonly path: string;
  readonly createTableMs: number;
  readonly deleteTableMs: number;
  readonly updateTableMs: number;
}

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: DynaliteOptions) => Server;

// --- template parsing --------------------------------------------------------------------------

const KeySchemaSchema = z
  .array(z.object({ AttributeName: z.string().min(1), KeyType: z.enum(['HASH', 'RANGE']) }))
  .min(1)
  .max(2);

// Only what CreateTable takes: throughput, contributor insights, replicas' settings and the like
// (which dynalite rejects or ignores) are dropped by zod's default key stripping.
const IndexSchema = z.object({
  IndexName: z.string().min(1),
  KeySchema: KeySchemaSchema,
  Projection: z.object({
    ProjectionType: z.enum(['ALL', 'KEYS_ONLY', 'INCLUDE']).optional(),
    NonKeyAttributes: z.array(z.string()).optional(),
  }),
});

const TablePropertiesSchema = z.object({
  TableName: z.unknown().optional(),
  KeySchema: KeySchemaSchema,
  AttributeDefinitions: z.array(
    z.object({ AttributeName: z.string().min(1), AttributeType: z.enum(['S', 'N', 'B']) }),
  ),
  GlobalSecondaryIndexes: z.array(IndexSchema).optional(),
  LocalSecondaryIndexes: z.array(IndexSchema).optional(),
});

const TemplateSchema = z.object({
  Resources: z
    .record(z.string(), z.object({ Type: z.string(), Properties: z.unknown().optional() }))
    .optional(),
});

function toIndex(index: z.infer<typeof IndexSchema>): {
  IndexName: string;
  KeySchema: KeySchemaElement[];
  Projection: z.infer<typeof IndexSchema>['Projection'];
} {
  return { IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection };
}

// --- table state -------------------------------------------------------------------------------

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<TableDescription> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const table = await describeTable(client, tableName);
    const indexesActive = (table?.GlobalSecondaryIndexes ?? []).every(
      (index: GlobalSecondaryIndexDescription) => index.IndexStatus === 'ACTIVE',
    );
    if (table?.TableStatus === 'ACTIVE' && indexesActive) return table;
    if (Date.now() > deadline) throw new TableNotActiveError(tableName);
    await sleep(10);
  }
}

function compareTable(expected: CreateTableCommandInput, actual: TableDescription): string[] {
  const differences: string[] = [];
  const keys = (schema: readonly KeySchemaElement[] | undefined) =>
    (schema ?? []).map((element) => `${element.AttributeName}:${element.KeyType}`).join(',');
  if (keys(expected.KeySchema) !== keys(actual.KeySchema)) {
    differences.push(`key schema ${keys(actual.KeySchema)}, template ${keys(expected.KeySchema)}`);
  }
  const indexes = (list: ReadonlyArray<{ IndexName?: string; KeySchema?: KeySchemaElement[] }> | undefined) =>
    new Map((list ?? []).map((index) => [index.IndexName ?? '', keys(index.KeySchema)]));
  for (const [kind, want, have] of [
    ['global', indexes(expected.GlobalSecondaryIndexes), indexes(actual.GlobalSecondaryIndexes)],
    ['local', indexes(expected.LocalSecondaryIndexes), indexes(actual.LocalSecondaryIndexes)],
  ] as const) {
    for (const [name, schema] of want) {
      if (!have.has(name)) differences.push(`${kind} index ${name} missing`);
      else if (have.get(name) !== schema)
        differences.push(`${kind} index ${name} has keys ${have.get(name)}`);
    }
    for (const name of have.keys())
      if (!want.has(name)) differences.push(`${kind} index ${name} not in template`);
  }
  return differences;
}

/**
 * Puts back the global secondary index entries a `kill -9` of the local DynamoDB lost.
 *
 * dynalite writes an item and its index entries as separate LevelDB writes, so a process killed
 * between them can leave an item that no index query finds (an in-flight job the sweeper could
 * never see). Real DynamoDB has no such state. At start-up, before anything else uses the table,
 * each item is compared with each index; an item an index should hold but does not is written
 * again unchanged (`SET k = k`), which makes dynalite write its index entries anew.
 *
 * @returns the number of items written again.
 */
export async function repairIndexes(client: DynamoDBClient, tableName: string): Promise<number> {
  const table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  const tableKeys = (table?.KeySchema ?? []).map((key) => key.AttributeName ?? '');
  const indexes = (table?.GlobalSecondaryIndexes ?? []).map((index) => ({
    name: index.IndexName ?? '',
    keys: (index.KeySchema ?? []).map((key) => key.AttributeName ?? ''),
  }));
  if (indexes.length === 0) return 0;
  const keyOf = (item: Record<string, AttributeValue>) =>
    JSON.stringify(tableKeys.map((name) => item[name] ?? null));
  const items = await scanAll(client, { TableName: tableName });
  const stale = new Map<string, { item: Record<string, AttributeValue>; attribute: string }>();
  for (const index of indexes) {
    const indexed = new Set(
      (await scanAll(client, { TableName: tableName, IndexName: index.name })).map(keyOf),
    );
    for (const item of items) {
      if (!index.keys.every((name) => item[name] !== undefined)) continue;
      if (!indexed.has(keyOf(item))) stale.set(keyOf(item), { item, attribute: index.keys[0] ?? '' });
    }
  }
  for (const { item, attribute } of stale.values()) {
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: Object.fromEntries(tableKeys.map((name) => [name, item[name] as AttributeValue])),
        UpdateExpression: 'SET #a = #a',
        ExpressionAttributeNames: { '#a': attribute },
      }),
    );
  }
  return stale.size;
}

async function scanAll(
  client: DynamoDBClient,
  input: ScanCommandInput,
): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  for await (const page of paginateScan({ client }, input)) items.push(...(page.Items ?? []));
  return items;
}
