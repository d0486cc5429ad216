/**
 * What both webhook functions (fan-out and delivery) build from their environment: the
 * configuration, the stores over the webhooks table and Secrets Manager, and the parsing of the
 * EventBridge envelope of a job event.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { Env } from '../config/config.js';
import { EnvName } from '../config/env-names.js';
import { ConfigError } from '../domain/errors.js';
import { type Clock, type Logger, systemClock } from '../domain/ports.js';
import { DEFAULT_WEBHOOK_RETENTION_MS, type WebhookEndpointSecrets } from '../domain/webhook-endpoints.js';
import { EVENT_SOURCE, type JobEvent } from './events.js';
import { SecretCache } from './secret-cache.js';
import type { WebhookSecretStore } from './webhook-attempts.js';
import {
  DynamoWebhookDeliveryLog,
  DynamoWebhookEndpointStore,
  SecretsManagerWebhookSecretStore,
} from './webhook-aws.js';
import type { DispatchDeps } from './webhook-dispatch.js';

/** How long a function reuses a signing secret it read: a rotation reaches every function within it. */
export const WEBHOOK_SECRET_CACHE_MS = 60 * 1000;

export interface WebhookFunctionConfig {
  readonly tableName: string;
  readonly queueUrl: string;
  readonly secretPrefix: string;
  /** The stack's `webhookUrl` and its secret: endpoint `ep_default`. */
  readonly defaultEndpoint?: { readonly url: string; readonly secretArn: string };
}

const configSchema = z.object({
  [EnvName.webhooksTableName]: z.string().min(1),
  [EnvName.webhookQueueUrl]: z.url(),
  [EnvName.webhookSecretPrefix]: z.string().min(1),
  [EnvName.webhookUrl]: z.url({ protocol: /^https?$/ }).optional(),
  [EnvName.webhookSecretArn]: z.string().min(1).optional(),
});

/**
 * Reads a webhook function's configuration.
 * @throws ConfigError naming every missing or invalid variable.
 */
export function loadWebhookFunctionConfig(env: Env): WebhookFunctionConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new ConfigError(`invalid webhook configuration: ${problems}`);
  }
  const url = parsed.data[EnvName.webhookUrl];
  const secretArn = parsed.data[EnvName.webhookSecretArn];
  if ((url === undefined) !== (secretArn === undefined)) {
    throw new ConfigError(`set both ${EnvName.webhookUrl} and ${EnvName.webhookSecretArn}, or neither`);
  }
  return {
    tableName: parsed.data[EnvName.webhooksTableName],
    queueUrl: parsed.data[EnvName.webhookQueueUrl],
    secretPrefix: parsed.data[EnvName.webhookSecretPrefix],
    ...(url !== undefined && secretArn !== undefined ? { defaultEndpoint: { url, secretArn } } : {}),
  };
}

/** Secrets read through a short cache, so a busy endpoint costs one read a minute. */
export class CachedWebhookSecretStore implements WebhookSecretStore {
  private readonly cache = new Map<string, { value: WebhookEndpointSecrets | undefined; at: number }>();

  constructor(
    private readonly inner: WebhookSecretStore,
    private readonly clock: Clock,
    private readonly ttlMs = WEBHOOK_SECRET_CACHE_MS,
  ) {}

  async get(endpointId: string): Promise<WebhookEndpointSecrets | undefined> {
    const now = this.clock.now().getTime();
    const hit = this.cache.get(endpointId);
    if (hit !== undefined && now - hit.at < this.ttlMs) return hit.value;
    const value = await this.inner.get(endpointId);
    this.cache.set(endpointId, { value, at: now });
    return value;
  }

  async put(endpointId: string, secrets: WebhookEndpointSecrets): Promise<void> {
    this.cache.delete(endpointId);
    await this.inner.put(endpointId, secrets);
  }

  async remove(endpointId: string): Promise<void> {
    this.cache.delete(endpointId);
    await this.inner.remove(endpointId);
  }
}

export interface WebhookFunctionOverrides {
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly dynamo?: DynamoDBClient;
  readonly secrets?: SecretsManagerClient;
  /** @default the global fetch */
  readonly fetch?: typeof fetch;
  /** @default DNS */
  readonly resolve?: (hostname: string) => Promise<string[]>;
  readonly random?: () => number;
}

/** The dispatch collaborators of a webhook function. */
export function createDispatchDeps(
  config: WebhookFunctionConfig,
  overrides: WebhookFunctionOverrides,
): DispatchDeps {
  const clock = overrides.clock ?? systemClock;
  const documents = DynamoDBDocumentClient.from(overrides.dynamo ?? new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const secretsClient = overrides.secrets ?? new SecretsManagerClient({});
  const defaultEndpoint = config.defaultEndpoint;
  const secretCache = new SecretCache(() => secretsClient, {
    ttlMs: WEBHOOK_SECRET_CACHE_MS,
    now: () => clock.now().getTime(),
  });
  return {
    endpoints: new DynamoWebhookEndpointStore(documents, config.tableName),
    secrets: new CachedWebhookSecretStore(
      new SecretsManagerWebhookSecretStore(secretsClient, config.secretPrefix),
      clock,
    ),
    log: new DynamoWebhookDeliveryLog(documents, config.tableName, DEFAULT_WEBHOOK_RETENTION_MS, clock),
    logger: overrides.logger,
    settings: {
      clock,
      timeScale: 1,
      // In AWS no private, loopback or link-local target (the output fetcher's SSRF rules).
      allowPrivateTargets: false,
      ...(overrides.fetch === undefined ? {} : { fetch: overrides.fetch }),
      ...(overrides.resolve === undefined ? {} : { resolve: overrides.resolve }),
      ...(overrides.random === undefined ? {} : { random: overrides.random }),
    },
    ...(defaultEndpoint === undefined
      ? {}
      : {
          defaultEndpoint: {
            url: defaultEndpoint.url,
            secret: secretCache.reader(defaultEndpoint.secretArn, 'the webhook signing secret is empty'),
          },
        }),
  };
}

/** A message is not what a webhook function expects (not JSON, not a vidflow job event). */
export class WebhookMessageError extends Error {
  override readonly name = 'WebhookMessageError';
}

/** The EventBridge envelope SQS carries; `detail` is the job event's detail, schema version 1. */
const envelopeSchema = z.object({
  source: z.literal(EVENT_SOURCE),
  'detail-type': z.string().min(1),
  time: z.string().min(1),
  detail: z.looseObject({
    schemaVersion: z.number().int(),
    jobId: z.string().min(1),
    status: z.string().min(1),
    attempt: z.number().int().positive(),
  }),
});

/**
 * Rebuilds the {@link JobEvent} the local events file holds from the EventBridge envelope, with
 * its keys in the same order, so `JSON.stringify` gives the body the local relay posts.
 * @throws WebhookMessageError when it is not a vidflow job event.
 */
export function jobEventFromEnvelope(json: unknown): JobEvent {
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    throw new WebhookMessageError(`the message is not a vidflow job event: ${parsed.error.message}`);
  }
  const time = new Date(parsed.data.time);
  if (Number.isNaN(time.getTime()))
    throw new WebhookMessageError(`the event time "${parsed.data.time}" is not a date`);
  return {
    source: parsed.data.source,
    detailType: parsed.data['detail-type'],
    // EventBridge writes whole seconds (`...:00Z`); the local file has `toISOString()`'s form.
    time: time.toISOString(),
    // As published, key order included (zod's copy would put the checked keys first): the fields
    // checked above are the ones delivery relies on, the rest is the job record as the stack wrote it.
    detail: (json as { readonly detail: JobEvent['detail'] }).detail,
  };
}
