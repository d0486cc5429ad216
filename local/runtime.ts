/**
 * The embedded local runtime (README "Local runtime"): the whole pipeline on one machine.
 *
 * - S3 (s3rver) and DynamoDB (dynalite) protocol servers on loopback, data under `dataDir`;
 *   buckets and the jobs table come from the synthesized CDK template.
 * - The stack's own state machine definition, tokens resolved, run by aws-local-stepfunctions
 *   behind a Step Functions API on loopback.
 * - The five functions, in-process, each with the environment the template gives it
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
import type { Logger } from '../functions/domain/ports.js';
import { createFinalizeHandler } from '../functions/finalize/handler.js';
import { createRecordFailureHandler } from '../functions/record-failure/handler.js';
import { createSubmitHandler } from '../functions/submit/handler.js';
import { createSweepHandler, type SweepOutput } from '../functions/sweep/handler.js';
import { type CfnTemplate, synthesizeTemplate } from '../infra/synth.js';
import { VidflowFunctionName } from '../infra/vidflow-function.js';
import { AsyncInvoker } from './async-invoker.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-clients.js';
import type { RunningEmulator } from './emulator/index.js';
import { createFileLogger } from './file-logger.js';
import {
  functionEnvironment,
  type LocalFunctionEnvironment,
  shareableSubmitEnvironment,
} from './function-environment.js';
import {
  DEFAULT_PORTS,
  DEFAULT_TIME_SCALE,
  envNumber,
  inputCdnPort,
  portsFromEnv,
  type RuntimePorts,
  type RuntimeWebhookOptions,
} from './runtime-options.js';
import {
  type Stops,
  startDynamoDb,
  startLocalInputCdn,
  startProvider,
  startStateMachine,
  startWebhookRelay,
} from './runtime-services.js';
import { startS3Server } from './s3-server.js';
import { LocalName, LocalTemplate, localFunctionArn, localStateMachineArn } from './template-resources.js';
import type { LocalWebhookRelay } from './webhook-relay.js';

export { DEFAULT_PORTS, DEFAULT_TIME_SCALE, PORT_ENV_NAMES, PortConfigError } from './runtime-options.js';

export const DEFAULT_DATA_DIR = '.vidflow';
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
  /** Emulator settings (README "The provider emulator"). */
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
  readonly webhook?: RuntimeWebhookOptions;
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
  /**
   * The submit function's environment without its keys, for `vidflow retry`, which submits
   * from the CLI through the same composition root (`createSubmissionDeps`).
   */
  readonly submitEnvironment?: Readonly<Record<string, string>>;
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
  const ports: RuntimePorts = { ...DEFAULT_PORTS, ...portsFromEnv(), ...options.ports };
  const timeScale =
    options.emulator?.timeScale ?? envNumber('VIDFLOW_EMULATOR_TIME_SCALE') ?? DEFAULT_TIME_SCALE;
  const graceSeconds = options.sweepGraceSeconds ?? Math.max(5, Math.round(600 * timeScale));
  const stops: Stops = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };

  try {
    synthesized ??= synthesizeTemplate({ bundle: false });
    const template = new LocalTemplate(synthesized);
    const dynamodbUrl = await startDynamoDb(template, dataDir, ports.dynamodb, logger, stops);
    const provider = await startProvider(options, dataDir, ports.provider, timeScale, stops);
    // The Step Functions API's port must be known before the functions' environment is.
    const invokers = new Map<string, (payload: unknown) => Promise<unknown>>();
    const { host, url: stepFunctionsUrl } = await startStateMachine(
      template,
      dataDir,
      ports,
      invokers,
      logger,
      stops,
    );

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
    const cdn =
      provider.emulator === undefined
        ? undefined
        : await startLocalInputCdn(dataDir, s3.url, inputCdnPort(ports.s3), stops);

    const eventsFile = join(dataDir, 'events.jsonl');
    const local: LocalFunctionEnvironment = {
      template,
      provider: { url: provider.url, apiKey: provider.apiKey, emulated: provider.emulator !== undefined },
      urls: { s3: s3.url, dynamodb: dynamodbUrl, stepFunctions: stepFunctionsUrl },
      eventsFile,
      inputCdn: cdn?.environment ?? {},
      timeScale,
      sweepGraceSeconds: graceSeconds,
      ...(options.functionEnvironment === undefined ? {} : { extra: options.functionEnvironment }),
    };
    const environmentOf = (name: VidflowFunctionName) => functionEnvironment(name, local);
    const sweepFunction = registerFunctions(invokers, environmentOf, logger);
    const invoker = await startSubmitInvoker(
      template,
      environmentOf,
      dataDir,
      options,
      timeScale,
      logger,
      stops,
    );
    submitInvoker = invoker;
    await host.resumeRunning();
    startSweeper(sweepFunction, graceSeconds, logger, stops);
    const webhookRelay = await startWebhookRelay(options, dataDir, eventsFile, logger, stops);

    const endpoints: Endpoints = {
      region: LOCAL_REGION,
      accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
      secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
      s3: s3.url,
      dynamodb: dynamodbUrl,
      stepfunctions: stepFunctionsUrl,
      provider: provider.url,
      inputBucket: LocalName.inputBucket,
      outputBucket: LocalName.outputBucket,
      jobsTable: LocalName.jobsTable,
      stateMachineArn: localStateMachineArn,
      eventsFile,
      providerEmulated: provider.emulator !== undefined,
      ...(cdn === undefined ? {} : { inputCdn: cdn.endpoint }),
    };
    const submitEnvironment = shareableSubmitEnvironment(environmentOf(VidflowFunctionName.submit));
    await writeFile(
      join(dataDir, 'endpoints.json'),
      `${JSON.stringify({ ...endpoints, submitEnvironment }, null, 2)}\n`,
    );
    logger.info('runtime ready', { ...endpoints });
    return {
      endpoints: { ...endpoints, submitEnvironment },
      dataDir,
      ...(provider.emulator === undefined ? {} : { emulator: provider.emulator }),
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

/** The functions the state machine invokes, each with its own environment; returns sweep. */
function registerFunctions(
  invokers: Map<string, (payload: unknown) => Promise<unknown>>,
  environmentOf: (name: VidflowFunctionName) => Record<string, string>,
  logger: Logger,
): (event: unknown) => Promise<SweepOutput> {
  const overrides = { logger };
  const sweep = createSweepHandler(environmentOf(VidflowFunctionName.sweep), overrides);
  const functions: [VidflowFunctionName, (payload: unknown) => Promise<unknown>][] = [
    [
      VidflowFunctionName.check,
      asInvoke(createCheckHandler(environmentOf(VidflowFunctionName.check), overrides)),
    ],
    [
      VidflowFunctionName.finalize,
      asInvoke(createFinalizeHandler(environmentOf(VidflowFunctionName.finalize), overrides)),
    ],
    [VidflowFunctionName.sweep, sweep],
    [
      VidflowFunctionName.recordFailure,
      asInvoke(createRecordFailureHandler(environmentOf(VidflowFunctionName.recordFailure), overrides)),
    ],
  ];
  for (const [name, invoke] of functions) invokers.set(localFunctionArn(name), invoke);
  return sweep;
}

/** Submit behind a durable async-invocation queue with the template's retries (Lambda's). */
async function startSubmitInvoker(
  template: LocalTemplate,
  environmentOf: (name: VidflowFunctionName) => Record<string, string>,
  dataDir: string,
  options: RuntimeOptions,
  timeScale: number,
  logger: Logger,
  stops: Stops,
): Promise<AsyncInvoker<S3Event>> {
  const asyncConfig = template.asyncInvokeConfig(VidflowFunctionName.submit);
  const invoker = new AsyncInvoker<S3Event>({
    name: 'vidflow-submit',
    handler: createSubmitHandler(environmentOf(VidflowFunctionName.submit), { logger }),
    dataDir: join(dataDir, 'lambda', 'submit'),
    retryAttempts: asyncConfig.retryAttempts,
    maxEventAgeMs: asyncConfig.maxEventAgeSeconds * 1000,
    retryDelaysMs:
      options.asyncRetryDelaysMs ?? [60_000, 120_000].map((ms) => Math.max(1000, Math.round(ms * timeScale))),
    logger,
  });
  stops.push(() => invoker.close());
  await invoker.start();
  return invoker;
}

/**
 * The sweeper resolves what a crash left without a next step (see sweep-jobs.ts) and lets
 * waiting jobs in, at start-up and then periodically (EventBridge's schedule in AWS), at the
 * emulator's time scale.
 */
function startSweeper(
  sweepFunction: (event: unknown) => Promise<SweepOutput>,
  graceSeconds: number,
  logger: Logger,
  stops: Stops,
): void {
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
}

/** What an EventBridge schedule hands the sweep function (it reads nothing of it). */
const SCHEDULED_EVENT = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} } as const;

function asInvoke<I, O>(handler: (input: I) => Promise<O>): (payload: unknown) => Promise<unknown> {
  return (payload) => handler(payload as I);
}
