/**
 * The AWS SDK clients of one process, built in one place from the configuration. With
 * endpoints configured (the local runtime) they speak to the loopback protocol servers.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../config/config.js';

export interface AwsClients {
  readonly s3: S3Client;
  readonly dynamo: DynamoDBDocumentClient;
  readonly sfn: SFNClient;
  readonly eventBridge: EventBridgeClient;
  readonly secrets: SecretsManagerClient;
}

/** Build the clients lazily, so a function pays only for those it uses. */
export function createAwsClients(config: Config): AwsClients {
  const common = {
    ...(config.region ? { region: config.region } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
  };
  const cache = new Map<string, unknown>();
  const once = <T>(name: string, build: () => T): T => {
    if (!cache.has(name)) cache.set(name, build());
    return cache.get(name) as T;
  };
  return {
    get s3() {
      return once(
        's3',
        () =>
          new S3Client({
            ...common,
            ...(config.endpoints.s3
              ? {
                  endpoint: config.endpoints.s3,
                  forcePathStyle: true,
                  // s3rver stores streamed uploads corrupted when the SDK adds its checksum framing.
                  requestChecksumCalculation: 'WHEN_REQUIRED' as const,
                  responseChecksumValidation: 'WHEN_REQUIRED' as const,
                }
              : {}),
          }),
      );
    },
    get dynamo() {
      return once('dynamo', () =>
        DynamoDBDocumentClient.from(
          new DynamoDBClient({
            ...common,
            ...(config.endpoints.dynamodb ? { endpoint: config.endpoints.dynamodb } : {}),
          }),
          { marshallOptions: { removeUndefinedValues: true } },
        ),
      );
    },
    get sfn() {
      return once(
        'sfn',
        () =>
          new SFNClient({
            ...common,
            ...(config.endpoints.stepFunctions ? { endpoint: config.endpoints.stepFunctions } : {}),
          }),
      );
    },
    get eventBridge() {
      return once('eventBridge', () => new EventBridgeClient(common));
    },
    get secrets() {
      return once('secrets', () => new SecretsManagerClient(common));
    },
  };
}
