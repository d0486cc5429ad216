/**
 * The servers the local runtime (runtime.ts) starts besides S3 and the functions: DynamoDB with
 * the stack's tables, the provider emulator, the state machine behind its Step Functions API,
 * the input CDN stand-in and the webhook relay. Each registers its stop in `stops`.
 */
import { join } from 'node:path';
import { DEFAULT_PROVIDER_BASE_URL } from '../functions/config/config.js';
import { EnvName } from '../functions/config/env-names.js';
import type { Logger } from '../functions/domain/ports.js';
import { createLocalDynamoDbClient, createLocalS3Client } from './aws-clients.js';
import { ensureTablesFromTemplate, repairIndexes, startDynamoDbServer } from './dynamodb-server.js';
import { DEFAULT_EMULATOR_API_KEY } from './emulator/cli.js';
import { LOCAL_INPUT_REFUSED_RETRY_SECONDS, type RunningEmulator, startEmulator } from './emulator/index.js';
import { loadOrCreateSigningKey, startInputCdn } from './input-cdn.js';
import type { RuntimeOptions } from './runtime.js';
import { type RuntimePorts, webhookFromEnv } from './runtime-options.js';
import { startStepFunctionsApi } from './step-functions/api-server.js';
import { StateMachineHost } from './step-functions/host.js';
import { LocalName, type LocalTemplate, localStateMachineArn } from './template-resources.js';
import { type LocalWebhookRelay, startLocalWebhooks } from './webhook-relay.js';

/** Stops what was started, last first; a stop that fails does not keep the others running. */
export type Stops = (() => Promise<void>)[];

/** DynamoDB with the template's tables, their indexes repaired after a crash; its URL. */
export async function startDynamoDb(
  template: LocalTemplate,
  dataDir: string,
  port: number,
  logger: Logger,
  stops: Stops,
): Promise<string> {
  const dynamo = await startDynamoDbServer({ dataDir: join(dataDir, 'dynamodb'), port });
  stops.push(() => dynamo.close());
  const dynamoClient = createLocalDynamoDbClient({ endpoint: dynamo.url });
  try {
    const tables = await ensureTablesFromTemplate(dynamoClient, template.template, (logicalId) =>
      template.resolve({ Ref: logicalId }),
    );
    for (const table of tables) {
      const repaired = await repairIndexes(dynamoClient, table);
      if (repaired > 0) logger.warn('rewrote items a crash left missing from an index', { table, repaired });
    }
  } finally {
    dynamoClient.destroy();
  }
  return dynamo.url;
}

/** The provider emulator, unless a real provider is given. */
export async function startProvider(
  options: Pick<RuntimeOptions, 'provider' | 'emulator'>,
  dataDir: string,
  port: number,
  timeScale: number,
  stops: Stops,
): Promise<{ readonly url: string; readonly apiKey: string; readonly emulator?: RunningEmulator }> {
  if (options.provider !== undefined) {
    return { url: options.provider.baseUrl ?? DEFAULT_PROVIDER_BASE_URL, apiKey: options.provider.apiKey };
  }
  const emulator = await startEmulator({
    dataDir: join(dataDir, 'emulator'),
    apiKey: DEFAULT_EMULATOR_API_KEY,
    port,
    timeScale,
    // Generations resumed from a previous run fetch their input before S3 listens again.
    inputRefusedRetrySeconds: LOCAL_INPUT_REFUSED_RETRY_SECONDS,
    ...(options.emulator?.faults === undefined ? {} : { faults: options.emulator.faults }),
    ...(options.emulator?.seed === undefined ? {} : { seed: options.emulator.seed }),
    ...(options.emulator?.credits === undefined ? {} : { credits: options.emulator.credits }),
  });
  stops.push(() => emulator.stop());
  return { url: emulator.url, apiKey: DEFAULT_EMULATOR_API_KEY, emulator };
}

/** The stack's state machine behind a Step Functions API; its tasks call `invokers`. */
export async function startStateMachine(
  template: LocalTemplate,
  dataDir: string,
  ports: RuntimePorts,
  invokers: ReadonlyMap<string, (payload: unknown) => Promise<unknown>>,
  logger: Logger,
  stops: Stops,
): Promise<{ readonly host: StateMachineHost; readonly url: string }> {
  const host = new StateMachineHost({
    stateMachineArn: localStateMachineArn,
    name: LocalName.stateMachine,
    definition: template.stateMachineDefinition(),
    dataDir: join(dataDir, 'stepfunctions'),
    invokeLambda: async (functionArn, payload) => {
      const invoke = invokers.get(functionArn);
      if (invoke === undefined) throw new Error(`no local function ${functionArn}`);
      return invoke(payload);
    },
    logger,
  });
  stops.push(async () => host.close());
  const api = await startStepFunctionsApi({ port: ports.stepFunctions, machines: [host] });
  stops.push(() => api.close());
  return { host, url: api.url };
}

/** The webhook relay, with the default endpoint of the options or the environment. */
export async function startWebhookRelay(
  options: Pick<RuntimeOptions, 'webhook'>,
  dataDir: string,
  eventsFile: string,
  logger: Logger,
  stops: Stops,
): Promise<LocalWebhookRelay> {
  const webhook = options.webhook ?? webhookFromEnv();
  const defaultEndpoint =
    webhook.url !== undefined && webhook.secret !== undefined
      ? { url: webhook.url, secret: webhook.secret }
      : undefined;
  const relay = await startLocalWebhooks({
    dataDir,
    eventsFile,
    logger,
    ...(defaultEndpoint === undefined ? {} : { defaultEndpoint }),
    ...(webhook.timeScale === undefined ? {} : { timeScale: webhook.timeScale }),
    ...(webhook.timeoutMs === undefined ? {} : { timeoutMs: webhook.timeoutMs }),
    ...(webhook.pollIntervalMs === undefined ? {} : { pollIntervalMs: webhook.pollIntervalMs }),
  });
  stops.push(() => relay.stop());
  return relay;
}

const INPUT_CDN_KEY_FILE = 'input-cdn-key.pem';

/**
 * Starts the stand-in for the CloudFront distribution in front of the input bucket, with a
 * signing key kept under the data directory, and returns the functions' environment for it:
 * input URLs then answer HEAD and GET like CloudFront signed URLs (the emulator, like Runway,
 * sends both), which S3 presigned GETs cannot.
 */
export async function startLocalInputCdn(dataDir: string, s3Url: string, port: number, stops: Stops) {
  const privateKeyFile = join(dataDir, INPUT_CDN_KEY_FILE);
  const { privateKeyPem, publicKeyPem } = await loadOrCreateSigningKey(privateKeyFile);
  const s3 = createLocalS3Client({ endpoint: s3Url });
  const keyPairId = 'KVIDFLOWLOCAL';
  const cdn = await startInputCdn({ s3, bucket: LocalName.inputBucket, publicKeyPem, keyPairId, port });
  stops.push(async () => {
    await cdn.close();
    s3.destroy();
  });
  return {
    endpoint: { url: cdn.url, keyPairId, privateKeyFile },
    environment: {
      [EnvName.inputCdnUrl]: cdn.url,
      [EnvName.inputCdnKeyPairId]: keyPairId,
      [EnvName.inputCdnPrivateKey]: privateKeyPem,
      // Always a URL through the stand-in: what the emulator fetches is then logged by object.
      [EnvName.videoUrlMode]: 'presigned',
    },
  };
}
