/**
 * A DynamoDB protocol server (dynalite) on loopback for one test file, in a data directory of
 * its own, and the jobs table exactly as the stack's `JobsTable` construct declares it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { JobsTable } from '../../infra/jobs-table.js';
import { createLocalDynamoDbClient } from '../../local/aws-clients.js';
import { ensureTablesFromTemplate, startDynamoDbServer } from '../../local/dynamodb-server.js';

export interface LocalDynamo {
  readonly dynamo: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  /** Stops the server and removes its data directory. */
  close(): Promise<void>;
}

/** Start dynalite in a fresh temporary directory named after `name`. */
export async function startLocalDynamo(name: string): Promise<LocalDynamo> {
  const dataDir = await mkdtemp(join(tmpdir(), `vidflow-${name}-`));
  const server = await startDynamoDbServer({ dataDir });
  const dynamo = createLocalDynamoDbClient({ endpoint: server.url });
  return {
    dynamo,
    documents: DynamoDBDocumentClient.from(dynamo),
    close: async () => {
      dynamo.destroy();
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The synthesized template of a stack holding only the `JobsTable` construct. */
export function jobsTableTemplate(stackName: string): Record<string, unknown> {
  const stack = new Stack(new App(), stackName);
  new JobsTable(stack, 'JobsTable', { removalPolicy: RemovalPolicy.DESTROY });
  return Template.fromStack(stack).toJSON();
}

/** Create the construct's jobs table (named `jobs`) on the server; returns its name. */
export async function createJobsTable(dynamo: DynamoDBClient, stackName: string): Promise<string> {
  const [table] = await ensureTablesFromTemplate(dynamo, jobsTableTemplate(stackName), () => 'jobs');
  if (table === undefined) throw new Error('the JobsTable construct declared no table');
  return table;
}
