/**
 * The composition root: turns a configuration into the collaborators the use cases take.
 * Each handler calls it once per process (cold start); the local runtime calls it with
 * each function's own environment, and `vidflow retry` with the submit function's
 * (`createSubmissionDeps`), so a retried job is submitted exactly as a dropped one.
 */

import type { Config, Env } from '../config/config.js';
import { loadConfig, requireSetting } from '../config/config.js';
import { EnvName } from '../config/env-names.js';
import { ConfigError } from '../domain/errors.js';
import { type Clock, type JobEvents, type Logger, type ObjectRef, systemClock } from '../domain/ports.js';
import type { SubmissionDeps } from '../domain/submission.js';
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
import { SecretCache } from './secret-cache.js';

/** How far back a new `_defaults.json` looks for videos waiting for a prompt (submit-job.ts). */
const PRESET_LOOKBACK_DAYS = 30;

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
  const secrets = new SecretCache(() => clients.secrets);
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
    objects: () => new S3ObjectStore(clients.s3, inputUrlsOf(config, secrets)),
    provider: () =>
      new HttpProviderClient({
        baseUrl: config.provider.baseUrl,
        apiKey: providerKeySource(config, secrets),
        timeoutMs: config.provider.timeoutMs,
        readTimeoutMs: config.provider.readTimeoutMs,
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

/**
 * The submission protocol's collaborators (functions/domain/submission.ts) from one environment:
 * the submit and sweep functions', and what `vidflow retry` reads of the submit function.
 * @throws ConfigError naming every invalid or missing variable.
 */
export function createSubmissionDeps(env: Env, overrides: Overrides = {}): SubmissionDeps {
  return submissionDepsOf(createDependencies(loadConfig(env), overrides));
}

/** The submission protocol's collaborators from built dependencies. */
export function submissionDepsOf(d: Dependencies): SubmissionDeps {
  return {
    objects: d.objects(),
    jobs: d.jobs(),
    admission: d.admission(),
    provider: d.provider(),
    executions: d.executions(),
    events: d.events(),
    metrics: d.metrics,
    history: d.history(),
    clock: d.clock,
    logger: d.logger,
    settings: {
      inputBucket: requireSetting(d.config.inputBucket, EnvName.inputBucket),
      maxInputBytes: d.config.maxInputBytes,
      videoUrlMode: d.config.videoUrlMode,
      presignExpiresSeconds: d.config.presignExpiresSeconds,
      jobTimeoutSeconds: d.config.jobTimeoutSeconds,
      poll: d.config.poll,
      presetLookbackDays: PRESET_LOOKBACK_DAYS,
      admission: d.config.admission,
      models: d.config.models,
    },
  };
}

/** CloudFront signed input URLs when an input CDN is configured (and the input bucket known). */
function inputUrlsOf(config: Config, secrets: SecretCache) {
  const cdn = config.inputCdn;
  if (cdn === undefined || config.inputBucket === undefined) return undefined;
  const secretArn = cdn.privateKeySecretArn;
  const privateKey =
    cdn.privateKey ??
    (secretArn === undefined
      ? () =>
          Promise.reject(
            new ConfigError(
              `set ${EnvName.inputCdnPrivateKeySecretArn} (AWS) or ${EnvName.inputCdnPrivateKey} (local)`,
            ),
          )
      : secrets.reader(secretArn, 'the input URL signing key secret is empty'));
  const urls = new CloudFrontInputUrls({ baseUrl: cdn.url, keyPairId: cdn.keyPairId, privateKey });
  return { bucket: config.inputBucket, sign: (ref: ObjectRef, seconds: number) => urls.sign(ref, seconds) };
}

/** The provider key: plain from the environment locally, from Secrets Manager (cached) in AWS. */
function providerKeySource(config: Config, secrets: SecretCache): string | (() => Promise<string>) {
  if (config.provider.apiKey !== undefined) return config.provider.apiKey;
  const secretArn = config.provider.secretArn;
  if (secretArn === undefined) {
    throw new ConfigError(`set ${EnvName.providerSecretArn} (AWS) or ${EnvName.providerApiKey} (local)`);
  }
  return secrets.reader(secretArn, 'the provider API key secret is empty');
}
