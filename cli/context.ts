/**
 * Where the CLI's commands find vidflow: the local runtime's `.vidflow/endpoints.json`.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoJobStore } from '../functions/adapters/job-store.js';
import { S3ObjectStore } from '../functions/adapters/object-store.js';
import { createLocalDynamoDbClient, createLocalS3Client } from '../local/aws-clients.js';
import { DEFAULT_DATA_DIR, type Endpoints } from '../local/runtime.js';

/** A problem the user can fix; printed without a stack trace. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface CliContext {
  readonly endpoints: Endpoints;
  readonly s3: S3Client;
  readonly jobs: DynamoJobStore;
  readonly objects: S3ObjectStore;
  close(): void;
}

/**
 * Connect to the local runtime described by `<dataDir>/endpoints.json`.
 * @throws CliError when no runtime is running there.
 */
export async function connectLocal(
  dataDir = process.env.VIDFLOW_DATA_DIR ?? DEFAULT_DATA_DIR,
): Promise<CliContext> {
  const path = join(resolve(dataDir), 'endpoints.json');
  let endpoints: Endpoints;
  try {
    endpoints = JSON.parse(await readFile(path, 'utf8')) as Endpoints;
  } catch {
    throw new CliError(
      `no local runtime found (${path} is missing): start one with \`npm start\` (vidflow dev)`,
    );
  }
  try {
    const health = await fetch(`${endpoints.dynamodb}`, { method: 'GET', signal: AbortSignal.timeout(2000) });
    await health.body?.cancel();
  } catch {
    throw new CliError(
      `the local runtime at ${endpoints.dynamodb} is not answering: start it with \`npm start\``,
    );
  }
  const s3 = createLocalS3Client({ endpoint: endpoints.s3 });
  const dynamo = createLocalDynamoDbClient({ endpoint: endpoints.dynamodb });
  const documents = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoints,
    s3,
    jobs: new DynamoJobStore(documents, endpoints.jobsTable),
    objects: new S3ObjectStore(s3),
    close: () => {
      s3.destroy();
      dynamo.destroy();
    },
  };
}
