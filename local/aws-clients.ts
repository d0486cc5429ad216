/**
 * SDK clients for the local runtime's protocol servers, configured once so every caller
 * (runtime, CLI, tests) talks to them the same way.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';

/** The only credentials s3rver accepts; dynalite accepts any, so the runtime uses these for both. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** The region the local runtime reports in endpoints.json and in S3 event records. */
export const LOCAL_REGION = 'us-east-1';

export interface LocalClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:4568`. */
  readonly endpoint: string;
  /** @default LOCAL_REGION */
  readonly region?: string;
}

/**
 * An S3 client for the local S3 server: path-style addressing (no bucket subdomains on
 * 127.0.0.1) and checksums only when an operation requires them. With the SDK's default
 * (`WHEN_SUPPORTED`) a streamed body is sent `aws-chunked` with a trailing checksum; the local
 * server decodes that too, but not every S3 emulator does, so the runtime's own clients avoid it.
 */
export function createLocalS3Client(options: LocalClientOptions): S3Client {
  return new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A DynamoDB client for the local DynamoDB server. */
export function createLocalDynamoDbClient(options: LocalClientOptions): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: options.endpoint,
    region: options.region ?? LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
}
