/**
 * The embedded local runtime (contract section 7): the whole pipeline on one machine.
 *
 * - S3 (s3rver) and DynamoDB (dynalite) protocol servers on loopback, data under `dataDir`;
 *   buckets and the jobs table come from the synthesized CDK template.
 * - The stack's own state machine definition, tokens resolved, run by aws-local-stepfunctions
 *   behind a Step Functions API on loopback.
 * - The four functions, in-process, each with the environment the template gives it
 *   (resolved to local resources); S3 events reach submit through the stack's notification
 *   filters and a durable async-invocation queue with Lambda's retries and a dead-letter file.
 * - The provider emulator, unless a real provider key is given.
 *
 * Restart safety: the S3 event is queued durably before the upload is acknowledged,
 * executions are persisted and resumed from the start (every step is idempotent), and the
 * emulator keeps its generations on disk.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { S3Event } from 'aws-lambda';
import { createCheckHandler } from '../functions/check/handler.js';
import { EnvName } from '../functions/config/env-names.js';
import { DEFAULT_TYPICAL_SECONDS } from '../functions/domain/poll-policy.js';
import type { Logger } from '../functions/domain/ports.js';
import type { SubmitSettings } from '../functions/domain/submit-job.js';
import { WebhookEndpointError } from '../functions/domain/webhook-endpoints.js';
import { createFinalizeHandler } from '../functions/finalize/handler.js';
import { createRecordFailureHandler } from '../functions/record-failure/handler.js';
import { createSubmitDeps, createSubmitHandler } from '../functions/submit/handler.js';
import { createSweepHandler } from '../functions/sweep/handler.js';
import { type CfnTemplate, synthesizeTemplate } from '../infra/synth.js';
import { VidflowFunctionName } from '../infra/vidflow-function.js';
import { AsyncInvoker } from './async-invoker.js';
import {
  createLocalDynamoDbClient,
  createLocalS3Client,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
} from './aws-clients.js';
import { ensureTablesFromTemplate, repairIndexes, startDynamoDbServer } from './dynamodb-server.js';
import { DEFAULT_EMULATOR_API_KEY } from './emulator/cli.js';
import { LOCAL_INPUT_REFUSED_RETRY_SECONDS, type RunningEmulator, startEmulator } from './emulator/index.js';
import { createFileLogger } from './file-logger.js';
import { loadOrCreateSigningKey, startInputCdn } from './input-cdn.js';
import { startS3Server } from './s3-server.js';
import { startStepFunctionsApi } from './step-functions/api-server.js';
import { StateMachineHost } from './step-functions/host.js';
import { LocalName, LocalTemplate, localFunctionArn, localStateMachineArn } from './template-resources.js';
import { type LocalWebhookRelay, startLocalWebhooks } from './webhook-relay.js';

export const DEFAULT_DATA_DIR = '.vidflow';
export const DEFAULT_TIME_SCALE = 0.05;

/** Fixed ports for `vidflow dev`, so copy-pasted commands keep working across restarts. */
export const DEFAULT_PORTS = { s3: 4569, dynamodb: 4567, stepFunctions: 4583, provider: 4010 } as const;

/**
 * Environment variables that move one server off its default port (between the defaults and
 * `RuntimeOptions.ports`): for a second runtime beside a running one, or a test that must
 * restart a runtime on the same ports, as a user restarting `vidflow dev` would.
 */
export const PORT_ENV_NAMES: Readonly<Record<keyof typeof DEFAULT_PORTS, string>> = {
  s3: 'VIDFLOW_PORT_S3',
  dynamodb: 'VIDFLOW_PORT_DYNAMODB',
  stepFunctions: 'VIDFLOW_PORT_STEPFUNCTIONS',
  provider: 'VIDFLOW_PORT_PROVIDER',
};

export class PortConfigError extends Error {
  override readonly name = 'PortConfigError';
}

export interface RuntimeOptions {
  /** @default '.vidflow' */
  readonly dataDir?: string;
  /** Ports; 0 picks a free one. @default the `PORT_ENV_NAMES` variables, else DEFAULT_PORTS */
  readonly ports?: Partial<Record<keyof typeof DEFAULT_PORTS, number>>;
  /**
   * A real provider: `{ apiKey, baseUrl }`. The clip then travels as a data URI, since local
   * buckets are not reachable from the internet.
   * @default - the provider emulator
   */
  readonly provider?: { readonly apiKey: string; readonly baseUrl?: string };
  /** Emulator settings (contract section 8). */
  readonly emulator?: {
    readonly timeScale?: number;
    readonly faults?: string;
    readonly seed?: number;
    /** The account's credit balance (see the emulator's `credits`). @default env VIDFLOW_EMULATOR_CREDITS, else unlimited */
    readonly credits?: number;
  };
  /**
   * Delays between Lambda async-invocation retries of submit.
   * @default scaled from Lambda's one and two minutes by the time scale, at least 1 s
   */
  readonly asyncRetryDelaysMs?: readonly number[];
  /** Extra environment for every function (tuning knobs, e.g. `VIDFLOW_JOB_TIMEOUT_SECONDS`). */
  readonly functionEnvironment?: Readonly<Record<string, string>>;
  /**
   * How long an in-flight job may sit unchanged before the sweeper resolves it; also the
   * sweep interval.
   * @default 600 s scaled by the time scale, at least 5 s
   */
  readonly sweepGraceSeconds?: number;
  /** Where runtime log lines go besides `<dataDir>/runtime.log`. */
  readonly echo?: (line: string) => void;
  /**
   * Called with each S3 event queued for submit (after the stack's notification filters), once
   * it is on disk. With `Runtime.deliverS3Event`, a test seam for duplicate notifications.
   */
  readonly onS3Event?: (event: S3Event) => void;
  /**
   * Whether the input bucket is versioned from the start, as the AWS stack's own input bucket.
   * Off by default: the local bucket behaves as an adopted bucket without versioning, where
   * re-uploads are told apart by the event sequencer (docs/architecture.md "Job identity").
   * `aws s3api put-bucket-versioning` switches it either way at any time.
   * @default false
   */
  readonly versionedInput?: boolean;
  /**
   * Webhook delivery to the endpoints under `<dataDir>/webhooks/` (`vidflow webhooks add`);
   * `url` and `secret` make (or update) endpoint `ep_default`, as `VIDFLOW_WEBHOOK_URL` and
   * `VIDFLOW_WEBHOOK_SECRET` do. `timeScale` multiplies the retry schedule and the 5-day rule.
   * @default from the environment (`VIDFLOW_WEBHOOK_URL`, `VIDFLOW_WEBHOOK_SECRET`, `VIDFLOW_WEBHOOK_TIME_SCALE`)
   */
  readonly webhook?: {
    readonly url?: string;
    readonly secret?: string;
    /** @default 1 */
    readonly timeScale?: number;
    readonly timeoutMs?: number;
    /** How often the relay looks for new events and due retries. @default 100 */
    readonly pollIntervalMs?: number;
  };
}

export interface Endpoints {
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly s3: string;
  readonly dynamodb: string;
  readonly stepfunctions: string;
  readonly provider: string;
  readonly inputBucket: string;
  readonly outputBucket: string;
  readonly jobsTable: string;
  readonly stateMachineArn: string;
  readonly eventsFile: string;
  /** Whether `provider` is the emulator (the CLI then knows its key). */
  readonly providerEmulated?: boolean;
  /** The submit function's settings, for `vidflow retry` (which submits from the CLI). */
  readonly submitSettings?: SubmitSettings;
  /** The input CDN stand-in, for `vidflow retry` to sign input URLs as submit does. */
  readonly inputCdn?: { readonly url: string; readonly keyPairId: string; readonly privateKeyFile: string };
  /** The console's URL, added by whoever serves it beside the runtime (`vidflow dev`, the demo). */
  readonly console?: string;
}

export interface Runtime {
  readonly endpoints: Endpoints;
  readonly dataDir: string;
  readonly emulator?: RunningEmulator;
  readonly logger: Logger;
  /** Resolves when no S3 event waits for submit. */
  drainSubmissions(): Promise<void>;
  /**
   * Queues an S3 event for submit exactly as an upload's notification is queued (durably,
   * with Lambda's retries): S3 delivers at least once, so a test re-delivers a notification
   * recorded by `RuntimeOptions.onS3Event` with this. Resolves once the event is on disk.
   */
  deliverS3Event(event: S3Event): Promise<void>;
  /** The webhook relay (always running: endpoints may be added at any time). */
  readonly webhookRelay: LocalWebhookRelay;
  stop(): Promise<void>;
}

/**
 * The stack's template, synthesized once per process: it depends only on the code and
 * `cdk.json`, is only read, and takes seconds to build (a test starts many runtimes).
 */
let synthesized: CfnTemplate | undefined;

/**
 * Start everything and write `<dataDir>/endpoints.json`.
 * @throws when a port is taken or the template cannot be read.
 */
export async function startRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const dataDir = resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  await mkdir(dataDir, { recursive: true });
  const logger = createFileLogger(join(dataDir, 'runtime.log'), options.echo);
  const ports = { ...DEFAULT_PORTS, ...portsFromEnv(), ...options.ports };
  const timeScale =
    options.emulator?.timeScale ?? envNumber('VIDFLOW_EMULATOR_TIME_SCALE') ?? DEFAULT_TIME_SCALE;
  const graceSeconds = options.sweepGraceSeconds ?? Math.max(5, Math.round(600 * timeScale));
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };

  try {
    synthesized ??= synthesizeTemplate({ bundle: false });
    const template = new LocalTemplate(synthesized);

    const dynamo = await startDynamoDbServer({ dataDir: join(dataDir, 'dynamodb'), port: ports.dynamodb });
    stops.push(() => dynamo.close());
    const dynamoClient = createLocalDynamoDbClient({ endpoint: dynamo.url });
    const tables = await ensureTablesFromTemplate(dynamoClient, template.template, (logicalId) =>
      template.resolve({ Ref: logicalId }),
    );
    for (const table of tables) {
      const repaired = await repairIndexes(dynamoClient, table);
      if (repaired > 0) logger.warn('rewrote items a crash left missing from an index', { table, repaired });
    }
    dynamoClient.destroy();

    let emulator: RunningEmulator | undefined;
    let providerUrl: string;
    let providerKey: string;
    if (options.provider === undefined) {
      emulator = await startEmulator({
        dataDir: join(dataDir, 'emulator'),
        apiKey: DEFAULT_EMULATOR_API_KEY,
        port: ports.provider,
        timeScale,
        // Generations resumed from a previous run fetch their input before S3 below listens again.
        inputRefusedRetrySeconds: LOCAL_INPUT_REFUSED_RETRY_SECONDS,
        ...(options.emulator?.faults === undefined ? {} : { faults: options.emulator.faults }),
        ...(options.emulator?.seed === undefined ? {} : { seed: options.emulator.seed }),
        ...(options.emulator?.credits === undefined ? {} : { credits: options.emulator.credits }),
      });
      const running = emulator;
      stops.push(() => running.stop());
      providerUrl = emulator.url;
      providerKey = DEFAULT_EMULATOR_API_KEY;
    } else {
      providerUrl = options.provider.baseUrl ?? 'https://api.aimlapi.com';
      providerKey = options.provider.apiKey;
    }

    // The Step Functions API's port must be known before the functions' environment is.
    const eventsFile = join(dataDir, 'events.jsonl');
    const invokers = new Map<string, (payload: unknown) => Promise<unknown>>();
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
    const sfnApi = await startStepFunctionsApi({ port: ports.stepFunctions, machines: [host] });
    stops.push(() => sfnApi.close());

    let s3Url = '';
    let inputCdnEnvironment: Record<string, string> = {};
    let inputCdn: Endpoints['inputCdn'];
    const environmentOf = (name: VidflowFunctionName): Record<string, string> => ({
      ...template.functionEnvironment(name),
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      [EnvName.providerBaseUrl]: providerUrl,
      [EnvName.providerApiKey]: providerKey,
      [EnvName.eventsFile]: eventsFile,
      [EnvName.s3Endpoint]: s3Url,
      [EnvName.dynamodbEndpoint]: dynamo.url,
      [EnvName.stepFunctionsEndpoint]: sfnApi.url,
      // No X-Ray daemon here, and EMF metric lines are for CloudWatch.
      [EnvName.tracingEnabled]: 'false',
      [EnvName.metricsDisabled]: 'true',
      ...inputCdnEnvironment,
      ...(emulator === undefined
        ? { [EnvName.videoUrlMode]: 'data-uri' }
        : { [EnvName.downloadAllowedOrigins]: new URL(emulator.url).origin }),
      // Poll at the emulator's time scale: its generations take seconds, not minutes.
      [EnvName.pollInitialSeconds]: String(Math.max(1, Math.round(60 * timeScale))),
      [EnvName.pollMinSeconds]: String(Math.max(1, Math.round(5 * timeScale))),
      [EnvName.pollMaxSeconds]: String(Math.max(1, Math.round(30 * timeScale))),
      // The policy's prior, at the emulator's time scale (unless the runtime's environment sets it).
      [EnvName.pollTypicalSeconds]:
        process.env[EnvName.pollTypicalSeconds] ?? String(DEFAULT_TYPICAL_SECONDS * timeScale),
      [EnvName.sweepGraceSeconds]: String(graceSeconds),
      // Sweep names the state machine by an ARN built from its deployed name (see the stack).
      ...(template.functionEnvironment(name)[EnvName.stateMachineArn] === undefined
        ? {}
        : { [EnvName.stateMachineArn]: localStateMachineArn }),
      // The admission knobs may come from the runtime's own environment (`VIDFLOW_MAX_IN_FLIGHT=0 vidflow dev`).
      ...admissionEnvironment(process.env),
      ...options.functionEnvironment,
    });

    // S3 comes last among the servers: once it listens, uploads may trigger submit.
    let submitInvoker: AsyncInvoker<S3Event> | undefined;
    const notifications = template.notificationFilter(LocalName.inputBucket);
    const submitArn = localFunctionArn(VidflowFunctionName.submit);
    const s3 = await startS3Server({
      dataDir: join(dataDir, 's3'),
      port: ports.s3,
      buckets: [LocalName.inputBucket, LocalName.outputBucket],
      eventBuckets: [LocalName.inputBucket],
      ...(options.versionedInput ? { versionedBuckets: [LocalName.inputBucket] } : {}),
      onEvent: async (event) => {
        if (!notifications(event).includes(submitArn)) return;
        if (submitInvoker === undefined) throw new Error('the runtime is not ready for uploads yet');
        await submitInvoker.enqueue(event);
        options.onS3Event?.(event);
      },
    });
    stops.push(() => s3.close());
    if (emulator !== undefined) {
      const cdn = await startLocalInputCdn(dataDir, s3.url, inputCdnPort(ports.s3));
      stops.push(() => cdn.close());
      inputCdnEnvironment = cdn.environment;
      inputCdn = {
        url: cdn.url,
        keyPairId: cdn.keyPairId,
        privateKeyFile: join(dataDir, INPUT_CDN_KEY_FILE),
      };
    }
    s3Url = s3.url;

    const overrides = { logger };
    const submit = createSubmitHandler(environmentOf(VidflowFunctionName.submit), overrides);
    const sweepDeps = createSubmitDeps(environmentOf(VidflowFunctionName.submit), overrides);
    invokers.set(
      localFunctionArn(VidflowFunctionName.check),
      asInvoke(createCheckHandler(environmentOf(VidflowFunctionName.check), overrides)),
    );
    invokers.set(
      localFunctionArn(VidflowFunctionName.finalize),
      asInvoke(createFinalizeHandler(environmentOf(VidflowFunctionName.finalize), overrides)),
    );
    const sweepFunction = createSweepHandler(environmentOf(VidflowFunctionName.sweep), overrides);
    invokers.set(localFunctionArn(VidflowFunctionName.sweep), sweepFunction);
    invokers.set(
      localFunctionArn(VidflowFunctionName.recordFailure),
      asInvoke(createRecordFailureHandler(environmentOf(VidflowFunctionName.recordFailure), overrides)),
    );

    const asyncConfig = template.asyncInvokeConfig(VidflowFunctionName.submit);
    const invoker = new AsyncInvoker<S3Event>({
      name: 'vidflow-submit',
      handler: submit,
      dataDir: join(dataDir, 'lambda', 'submit'),
      retryAttempts: asyncConfig.retryAttempts,
      maxEventAgeMs: asyncConfig.maxEventAgeSeconds * 1000,
      retryDelaysMs:
        options.asyncRetryDelaysMs ??
        [60_000, 120_000].map((ms) => Math.max(1000, Math.round(ms * timeScale))),
      logger,
    });
    submitInvoker = invoker;
    stops.push(() => invoker.close());
    await invoker.start();
    await host.resumeRunning();

    // The sweeper resolves what a crash left without a next step (see sweep-jobs.ts) and lets
    // waiting jobs in, at start-up and then periodically (EventBridge's schedule in AWS), at the
    // emulator's time scale.
    const sweep = () =>
      sweepFunction(SCHEDULED_EVENT).catch((error: unknown) => logger.warn('sweep failed', { error }));
    let sweeping = sweep();
    const sweepTimer = setInterval(() => {
      sweeping = sweeping.then(sweep);
    }, graceSeconds * 1000);
    sweepTimer.unref();
    stops.push(async () => {
      clearInterval(sweepTimer);
      await sweeping;
    });

    const webhook = options.webhook ?? webhookFromEnv();
    const defaultEndpoint =
      webhook.url !== undefined && webhook.secret !== undefined
        ? { url: webhook.url, secret: webhook.secret }
        : undefined;
    const webhookRelay = await startLocalWebhooks({
      dataDir,
      eventsFile,
      logger,
      ...(defaultEndpoint === undefined ? {} : { defaultEndpoint }),
      ...(webhook.timeScale === undefined ? {} : { timeScale: webhook.timeScale }),
      ...(webhook.timeoutMs === undefined ? {} : { timeoutMs: webhook.timeoutMs }),
      ...(webhook.pollIntervalMs === undefined ? {} : { pollIntervalMs: webhook.pollIntervalMs }),
    });
    stops.push(() => webhookRelay.stop());

    const endpoints: Endpoints = {
      region: LOCAL_REGION,
      accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
      secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
      s3: s3.url,
      dynamodb: dynamo.url,
      stepfunctions: sfnApi.url,
      provider: providerUrl,
      inputBucket: LocalName.inputBucket,
      outputBucket: LocalName.outputBucket,
      jobsTable: LocalName.jobsTable,
      stateMachineArn: localStateMachineArn,
      eventsFile,
      providerEmulated: emulator !== undefined,
      submitSettings: sweepDeps.settings,
      ...(inputCdn === undefined ? {} : { inputCdn }),
    };
    await writeFile(join(dataDir, 'endpoints.json'), `${JSON.stringify(endpoints, null, 2)}\n`);
    logger.info('runtime ready', { ...endpoints });
    return {
      endpoints,
      dataDir,
      ...(emulator === undefined ? {} : { emulator }),
      logger,
      drainSubmissions: () => invoker.drain(),
      deliverS3Event: async (event) => {
        await invoker.enqueue(event);
      },
      webhookRelay,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** What an EventBridge schedule hands the sweep function (it reads nothing of it). */
const SCHEDULED_EVENT = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} } as const;

/** The admission variables (in-flight cap, credit budget) set in `env`. */
function admissionEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
  const names = [
    EnvName.maxInFlight,
    EnvName.dailyCreditBudget,
    EnvName.creditsPerJobEstimate,
    EnvName.defaultModel,
    EnvName.allowedModels,
  ];
  return Object.fromEntries(names.flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
}

function asInvoke<I, O>(handler: (input: I) => Promise<O>): (payload: unknown) => Promise<unknown> {
  return (payload) => handler(payload as I);
}

/** @throws PortConfigError when a port variable is set to something other than a port number. */
const INPUT_CDN_KEY_FILE = 'input-cdn-key.pem';

/** The input CDN stand-in listens beside S3: `VIDFLOW_PORT_INPUT_CDN`, else S3's port + 1 (any free port when S3's is). */
function inputCdnPort(s3Port: number): number {
  const value = process.env.VIDFLOW_PORT_INPUT_CDN;
  if (value !== undefined && value !== '') {
    const port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new PortConfigError(
        `VIDFLOW_PORT_INPUT_CDN must be a port number from 0 to 65535, got "${value}"`,
      );
    }
    return port;
  }
  return s3Port === 0 ? 0 : s3Port + 1;
}

/**
 * Starts the stand-in for the CloudFront distribution in front of the input bucket, with a
 * signing key kept under the data directory, and returns the functions' environment for it:
 * input URLs then answer HEAD and GET like CloudFront signed URLs (the emulator, like Runway,
 * sends both), which S3 presigned GETs cannot.
 */
async function startLocalInputCdn(dataDir: string, s3Url: string, port: number) {
  const { privateKeyPem, publicKeyPem } = await loadOrCreateSigningKey(join(dataDir, INPUT_CDN_KEY_FILE));
  const s3 = createLocalS3Client({ endpoint: s3Url });
  const keyPairId = 'KVIDFLOWLOCAL';
  const cdn = await startInputCdn({ s3, bucket: LocalName.inputBucket, publicKeyPem, keyPairId, port });
  return {
    url: cdn.url,
    keyPairId,
    environment: {
      [EnvName.inputCdnUrl]: cdn.url,
      [EnvName.inputCdnKeyPairId]: keyPairId,
      [EnvName.inputCdnPrivateKey]: privateKeyPem,
      // Always a URL through the stand-in: what the emulator fetches is then logged by object.
      [EnvName.videoUrlMode]: 'presigned',
    },
    close: async () => {
      await cdn.close();
      s3.destroy();
    },
  };
}

function portsFromEnv(): Partial<Record<keyof typeof DEFAULT_PORTS, number>> {
  const ports: Partial<Record<keyof typeof DEFAULT_PORTS, number>> = {};
  for (const [service, name] of Object.entries(PORT_ENV_NAMES) as [keyof typeof DEFAULT_PORTS, string][]) {
    const value = process.env[name];
    if (value === undefined || value === '') continue;
    const port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new PortConfigError(`${name} must be a port number from 0 to 65535, got "${value}"`);
    }
    ports[service] = port;
  }
  return ports;
}

/** The webhook settings of `VIDFLOW_WEBHOOK_URL`, `VIDFLOW_WEBHOOK_SECRET` and `VIDFLOW_WEBHOOK_TIME_SCALE`. */
function webhookFromEnv(): NonNullable<RuntimeOptions['webhook']> {
  const url = process.env[EnvName.webhookUrl];
  const secret = process.env[EnvName.webhookSecret];
  const timeScale = envNumber(EnvName.webhookTimeScale);
  if (!url !== !secret) {
    throw new WebhookEndpointError(`set both ${EnvName.webhookUrl} and ${EnvName.webhookSecret}, or neither`);
  }
  return { ...(url && secret ? { url, secret } : {}), ...(timeScale === undefined ? {} : { timeScale }) };
}

function envNumber(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? number : undefined;
}
