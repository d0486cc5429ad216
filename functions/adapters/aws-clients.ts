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

/** Instruments one SDK client, e.g. the Powertools Tracer's `captureAWSv3Client`. */
export type CaptureClient = <Client extends object>(client: Client) => Client;

/**
 * Build the clients lazily, so a function pays only for those it uses; each one passes
 * through `capture` once (the Tracer in a Lambda).
 */
export function createAwsClients(config: Config, capture: CaptureClient = (client) => client): AwsClients {
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
      return once('s3', () =>
        capture(
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
        ),
      );
    },
    get dynamo() {
      return once('dynamo', () =>
        // The document client shares the captured client's middleware stack.
        DynamoDBDocumentClient.from(
          capture(
            new DynamoDBClient({
              ...common,
              ...(config.endpoints.dynamodb ? { endpoint: config.endpoints.dynamodb } : {}),
            }),
          ),
          { marshallOptions: { removeUndefinedValues: true } },
        ),
      );
    },
    get sfn() {
      return once('sfn', () =>
        capture(
          new SFNClient({
            ...common,
            ...(config.endpoints.stepFunctions ? { endpoint: config.endpoints.stepFunctions } : {}),
          }),
        ),
      );
    },
    get eventBridge() {
      return once('eventBridge', () => capture(new EventBridgeClient(common)));
    },
    get secrets() {
      return once('secrets', () => capture(new SecretsManagerClient(common)));
    },
  };
}
