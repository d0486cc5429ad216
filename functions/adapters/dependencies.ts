/**
 * The composition root: turns a configuration into the collaborators the use cases take.
 * Each handler calls it once per process (cold start); the local runtime calls it with
 * each function's own environment.
 */

import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../config/config.js';
import { requireSetting } from '../config/config.js';
import { EnvName } from '../config/env-names.js';
import { ConfigError } from '../domain/errors.js';
import { type Clock, type JobEvents, type Logger, type ObjectRef, systemClock } from '../domain/ports.js';
import { DynamoAdmissionStore } from './admission-store.js';
import { type AwsClients, createAwsClients } from './aws-clients.js';
import { DynamoCompletionHistoryStore } from './completion-history-store.js';
import { EventBridgeJobEvents, FileJobEvents, LoggedJobEvents } from './events.js';
import { StepFunctionsExecutions } from './executions.js';
import { CloudFrontInputUrls } from './input-urls.js';
import { DynamoJobStore } from './job-store.js';
import { createLogger } from './logger.js';
import { S3ObjectStore } from './object-store.js';
import { createObservability, type Observability } from './observability.js';
import { HttpOutputFetcher } from './output-fetcher.js';
import { HttpProviderClient } from './provider-client.js';

/** How long a secret read from Secrets Manager is reused before it is read again. */
const SECRET_CACHE_MS = 5 * 60 * 1000;

export interface Overrides {
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly clients?: AwsClients;
  /** The Tracer and the job metrics; the default follows `config.observability`. */
  readonly observability?: Observability;
}

export { createLogger };

/** Everything any function may need, built lazily so each function pays only for what it uses. */
export function createDependencies(config: Config, overrides: Overrides = {}) {
  const observability = overrides.observability ?? createObservability(config.observability);
  const clients =
    overrides.clients ??
    createAwsClients(config, (client) => observability.tracer.captureAWSv3Client(client));
  const logger = overrides.logger ?? createLogger();
  const clock = overrides.clock ?? systemClock;
  return {
    config,
    logger,
    clock,
    /** The SDK clients, captured by the Tracer. */
    clients,
    observability,
    /** Where use cases record the figures of jobs that end. */
    metrics: observability.metrics,
    jobs: () => new DynamoJobStore(clients.dynamo, config.jobsTable, clock),
    /** The in-flight slots and credit reservations, in the jobs table. */
    admission: () => new DynamoAdmissionStore(clients.dynamo, config.jobsTable),
    objects: () => new S3ObjectStore(clients.s3, inputUrlsOf(config, clients)),
    provider: () =>
      new HttpProviderClient({
        baseUrl: config.provider.baseUrl,
        apiKey: providerKeySource(config, clients),
        timeoutMs: config.provider.timeoutMs,
        logger,
      }),
    executions: () =>
      new StepFunctionsExecutions(
        clients.sfn,
        requireSetting(config.stateMachineArn, EnvName.stateMachineArn),
      ),
    events: (): JobEvents => {
      if (config.eventBusName !== undefined)
        return new EventBridgeJobEvents(clients.eventBridge, config.eventBusName);
      if (config.eventsFile !== undefined) return new FileJobEvents(config.eventsFile);
      return new LoggedJobEvents(logger);
    },
    /** The polling policy's history of finished generations, in the jobs table. */
    history: () => new DynamoCompletionHistoryStore(clients.dynamo, config.jobsTable),
    fetcher: () =>
      new HttpOutputFetcher({
        maxBytes: config.maxOutputBytes,
        allowedOrigins: config.downloadAllowedOrigins,
      }),
  };
}

export type Dependencies = ReturnType<typeof createDependencies>;

/** CloudFront signed input URLs when an input CDN is configured (and the input bucket known). */
function inputUrlsOf(config: Config, clients: AwsClients) {
  const cdn = config.inputCdn;
  if (cdn === undefined || config.inputBucket === undefined) return undefined;
  const secretArn = cdn.privateKeySecretArn;
  const privateKey =
    cdn.privateKey ??
    (async () => {
      if (secretArn === undefined) {
        throw new ConfigError(
          `set ${EnvName.inputCdnPrivateKeySecretArn} (AWS) or ${EnvName.inputCdnPrivateKey} (local)`,
        );
      }
      const result = await clients.secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
      const value = result.SecretString?.trim();
      if (!value) throw new ConfigError('the input URL signing key secret is empty');
      return value;
    });
  const urls = new CloudFrontInputUrls({ baseUrl: cdn.url, keyPairId: cdn.keyPairId, privateKey });
  return { bucket: config.inputBucket, sign: (ref: ObjectRef, seconds: number) => urls.sign(ref, seconds) };
}

/** The provider key: plain from the environment locally, from Secrets Manager (cached) in AWS. */
function providerKeySource(config: Config, clients: AwsClients): string | (() => Promise<string>) {
  if (config.provider.apiKey !== undefined) return config.provider.apiKey;
  const secretArn = config.provider.secretArn;
  if (secretArn === undefined) {
    throw new ConfigError(`set ${EnvName.providerSecretArn} (AWS) or ${EnvName.providerApiKey} (local)`);
  }
  let cached: { value: string; at: number } | undefined;
  return async () => {
    if (cached !== undefined && Date.now() - cached.at < SECRET_CACHE_MS) return cached.value;
    const result = await clients.secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const value = result.SecretString?.trim();
    if (!value) throw new ConfigError('the provider API key secret is empty');
    cached = { value, at: Date.now() };
    return value;
  };
}
