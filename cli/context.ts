/**
 * Where the CLI's commands find vidflow: the local runtime (its `<dataDir>/endpoints.json`) by
 * default, or a deployed stack (its CloudFormation outputs, see `stack.ts`) with `--stack`.
 * Either way the commands get the same context: SDK clients, the job store, an events sink.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { DynamoAdmissionStore } from '../functions/adapters/admission-store.js';
import { EventBridgeJobEvents, FileJobEvents } from '../functions/adapters/events.js';
import { CloudFrontInputUrls } from '../functions/adapters/input-urls.js';
import { DynamoJobStore } from '../functions/adapters/job-store.js';
import { S3ObjectStore } from '../functions/adapters/object-store.js';
import { type Config, type Env, loadConfig } from '../functions/config/config.js';
import type { AdmissionSettings } from '../functions/domain/admission.js';
import {
  type Clock,
  type JobEvents,
  type Logger,
  type ObjectRef,
  silentLogger,
  systemClock,
} from '../functions/domain/ports.js';
import { createLocalDynamoDbClient, createLocalS3Client, LOCAL_CREDENTIALS } from '../local/aws-clients.js';
import { type CliOutput, processOutput } from './format.js';

/**
 * The local runtime's default data directory. The same value as `DEFAULT_DATA_DIR` in
 * `local/runtime.ts` (a test keeps them equal); not imported, because loading the runtime module
 * pulls in the CDK and would slow every command down by a second.
 */
export const DEFAULT_DATA_DIR = '.vidflow';

/** The CLI's exit codes (README "Machine-readable output and exit codes"). */
export const ExitCode = {
  ok: 0,
  /** A failure: no runtime, unknown job, AWS refused, or a followed job that did not complete. */
  failed: 1,
  /** A usage error: unknown flag, bad value, parameters the pipeline would refuse. */
  usage: 2,
  /** `submit --wait --timeout` ran out before the job ended (as timeout(1) does); the job goes on. */
  timedOut: 124,
} as const;

/** A problem the user can fix; printed without a stack trace. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What the commands work against, however it was found. */
export interface CliTarget {
  readonly kind: 'local' | 'stack';
  /** For messages: `the local runtime in .vidflow`, `stack Vidflow (eu-west-1)`. */
  readonly description: string;
  readonly region: string;
  readonly inputBucket: string;
  readonly outputBucket: string;
  readonly jobsTable: string;
  readonly stateMachineArn: string;
  /** Local runtime: the JSON-lines file of terminal events. */
  readonly eventsFile?: string;
  /** Deployed stack: the EventBridge bus of terminal events. */
  readonly eventBusName?: string;
  /** Deployed stack: the secret holding the provider key (for `retry`). */
  readonly providerSecretArn?: string;
  /** Local runtime: the provider URL and whether it is the emulator (for `retry`). */
  readonly provider?: { readonly url: string; readonly emulated: boolean };
  /** Deployed stack: its in-flight cap and credit budget (output `AdmissionLimits`, for `retry`). */
  readonly admission?: AdmissionSettings;
  /**
   * The submit function's environment (local runtime: from `endpoints.json`, without its keys),
   * for `retry`, which submits through the same composition root (`createSubmissionDeps`).
   */
  readonly submitEnvironment?: Env;
  /** The submit function's configuration, read from `submitEnvironment` (the console's upload limit). */
  readonly submitConfig?: Config;
  /** Local runtime: the input CDN stand-in (for `retry`, which signs input URLs as submit does). */
  readonly inputCdn?: { readonly url: string; readonly keyPairId: string; readonly privateKeyFile: string };
}

export interface CliClients {
  readonly s3: S3Client;
  readonly dynamo: DynamoDBClient;
  readonly sfn: SFNClient;
  /** Deployed stacks only. */
  readonly eventBridge?: EventBridgeClient;
  readonly secrets?: SecretsManagerClient;
}

export interface CliContext {
  readonly target: CliTarget;
  readonly clients: CliClients;
  readonly jobs: DynamoJobStore;
  /** The in-flight slots and credit reservations (a cancelled job gives its slot back). */
  readonly admission: DynamoAdmissionStore;
  readonly objects: S3ObjectStore;
  /** Where `cancel` and `retry` publish the terminal events they cause. */
  readonly events: JobEvents;
  readonly out: CliOutput;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * Deployed stack: reads its submit function's environment (cli/submit-function.ts), for `retry`;
   * undefined when the caller may not read it.
   */
  readonly submitFunctionEnvironment?: () => Promise<Env | undefined>;
  close(): void;
}

/** Assemble a context over clients built elsewhere (tests pass instrumented ones). */
export function createContext(
  target: CliTarget,
  clients: CliClients,
  options: {
    readonly out?: CliOutput;
    readonly logger?: Logger;
    readonly clock?: Clock;
    readonly submitFunctionEnvironment?: () => Promise<Env | undefined>;
  } = {},
): CliContext {
  const documents = DynamoDBDocumentClient.from(clients.dynamo, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const clock = options.clock ?? systemClock;
  return {
    target,
    clients,
    jobs: new DynamoJobStore(documents, target.jobsTable, clock),
    admission: new DynamoAdmissionStore(documents, target.jobsTable),
    objects: new S3ObjectStore(clients.s3, inputUrlsOf(target)),
    events: eventsOf(target, clients),
    out: options.out ?? processOutput,
    clock,
    logger: options.logger ?? silentLogger,
    ...(options.submitFunctionEnvironment === undefined
      ? {}
      : { submitFunctionEnvironment: options.submitFunctionEnvironment }),
    close: () => {
      for (const client of [clients.s3, clients.dynamo, clients.sfn, clients.eventBridge, clients.secrets]) {
        client?.destroy();
      }
    },
  };
}

function eventsOf(target: CliTarget, clients: CliClients): JobEvents {
  if (target.eventsFile !== undefined) return new FileJobEvents(target.eventsFile);
  if (target.eventBusName !== undefined && clients.eventBridge !== undefined) {
    return new EventBridgeJobEvents(clients.eventBridge, target.eventBusName);
  }
  throw new CliError(`${target.description} names no events destination`);
}

/** The local runtime's target, with the URLs of its protocol servers. */
export interface LocalTarget extends CliTarget {
  readonly urls: { readonly s3: string; readonly dynamodb: string; readonly stepFunctions: string };
}

/** What the CLI reads of `endpoints.json` (written by `local/runtime.ts`, type `Endpoints`). */
const endpointsSchema = z.looseObject({
  region: z.string(),
  s3: z.url(),
  dynamodb: z.url(),
  stepfunctions: z.url(),
  provider: z.url(),
  inputBucket: z.string(),
  outputBucket: z.string(),
  jobsTable: z.string(),
  stateMachineArn: z.string(),
  eventsFile: z.string(),
  providerEmulated: z.boolean().optional(),
  inputCdn: z.object({ url: z.url(), keyPairId: z.string(), privateKeyFile: z.string() }).optional(),
  submitEnvironment: z.record(z.string(), z.string()).optional(),
});

/**
 * The target described by `<dataDir>/endpoints.json`; the standard `AWS_ENDPOINT_URL_S3`,
 * `_DYNAMODB` and `_SFN` variables (as `source .vidflow/env` sets them) override its URLs.
 * @throws CliError when the file is missing or malformed, or such a variable is not a URL.
 */
export async function readLocalTarget(
  dataDir: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<LocalTarget> {
  const path = join(resolve(dataDir), 'endpoints.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new CliError(
      `no local runtime found (${path} is missing): start one with \`vidflow dev\`, or pass --data-dir or --stack`,
    );
  }
  let endpoints: z.infer<typeof endpointsSchema>;
  try {
    endpoints = endpointsSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new CliError(`${path} is not a vidflow endpoints file; restart the runtime to rewrite it`, 1, {
      cause: error,
    });
  }
  return {
    kind: 'local',
    description: `the local runtime in ${dataDir}`,
    region: endpoints.region,
    inputBucket: endpoints.inputBucket,
    outputBucket: endpoints.outputBucket,
    jobsTable: endpoints.jobsTable,
    stateMachineArn: endpoints.stateMachineArn,
    eventsFile: endpoints.eventsFile,
    provider: {
      url: endpoints.provider,
      // Files written before the flag existed: the emulator listens on loopback, a real provider does not.
      emulated:
        endpoints.providerEmulated ?? /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(endpoints.provider),
    },
    ...submitTargetOf(endpoints.submitEnvironment, path),
    ...(endpoints.inputCdn === undefined ? {} : { inputCdn: endpoints.inputCdn }),
    urls: {
      s3: endpointFromEnv(env, LOCAL_ENDPOINT_ENV.s3) ?? endpoints.s3,
      dynamodb: endpointFromEnv(env, LOCAL_ENDPOINT_ENV.dynamodb) ?? endpoints.dynamodb,
      stepFunctions: endpointFromEnv(env, LOCAL_ENDPOINT_ENV.stepFunctions) ?? endpoints.stepfunctions,
    },
  };
}

/**
 * The submit function's environment and the configuration it reads as, validated by the
 * functions' own `loadConfig`.
 * @throws CliError when the environment is not a valid configuration.
 */
export function submitTargetOf(
  environment: Env | undefined,
  where: string,
): Pick<CliTarget, 'submitEnvironment' | 'submitConfig'> {
  if (environment === undefined) return {};
  try {
    return { submitEnvironment: environment, submitConfig: loadConfig(environment) };
  } catch (error) {
    throw new CliError(`the submit function's environment in ${where} is not valid: ${messageOf(error)}`, 1, {
      cause: error,
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A standard `AWS_ENDPOINT_URL_<SERVICE>` variable, when set.
 * @throws CliError when it is set but not an http(s) URL.
 */
function endpointFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): string | undefined {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return undefined;
  if (!/^https?:\/\/[^\s]+$/.test(value)) throw new CliError(`${name} is not an http(s) URL: "${value}"`, 2);
  return value;
}

/**
 * Where the local runtime of `dataDir` writes its events (`events.jsonl`), whether or not it runs:
 * from its `endpoints.json` when there is one, else the runtime's default file name.
 *
 * @throws CliError when `endpoints.json` exists but is malformed.
 */
export async function localEventsTarget(dataDir: string): Promise<CliTarget> {
  try {
    return await readLocalTarget(dataDir);
  } catch (error) {
    const missing = await readFile(join(resolve(dataDir), 'endpoints.json')).then(
      () => false,
      () => true,
    );
    if (!missing) throw error;
    return {
      kind: 'local',
      description: `the local runtime in ${dataDir}`,
      region: '',
      inputBucket: '',
      outputBucket: '',
      jobsTable: '',
      stateMachineArn: '',
      eventsFile: join(resolve(dataDir), LOCAL_EVENTS_FILE),
    };
  }
}

/**
 * The standard AWS variables naming a service's endpoint (`vidflow dev` writes them to
 * `<dataDir>/env`); in local mode they override the URLs of `endpoints.json`.
 */
export const LOCAL_ENDPOINT_ENV = {
  s3: 'AWS_ENDPOINT_URL_S3',
  dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB',
  stepFunctions: 'AWS_ENDPOINT_URL_SFN',
} as const;

/** The local runtime's events file in its data directory (`local/runtime.ts` writes it). */
export const LOCAL_EVENTS_FILE = 'events.jsonl';

/**
 * Connect to the local runtime described by `<dataDir>/endpoints.json`.
 * @throws CliError when no runtime is running there.
 */
export async function connectLocal(
  dataDir = process.env.VIDFLOW_DATA_DIR ?? DEFAULT_DATA_DIR,
  options: { readonly out?: CliOutput; readonly logger?: Logger } = {},
): Promise<CliContext> {
  const target = await readLocalTarget(dataDir);
  const { urls, region } = target;
  try {
    const health = await fetch(urls.dynamodb, { method: 'GET', signal: AbortSignal.timeout(2000) });
    await health.body?.cancel();
  } catch {
    throw new CliError(
      `the local runtime in ${dataDir} is not answering (${urls.dynamodb}): start it with \`vidflow dev\``,
    );
  }
  return createContext(
    target,
    {
      s3: createLocalS3Client({ endpoint: urls.s3, region }),
      dynamo: createLocalDynamoDbClient({ endpoint: urls.dynamodb, region }),
      sfn: new SFNClient({ endpoint: urls.stepFunctions, region, credentials: LOCAL_CREDENTIALS }),
    },
    options,
  );
}

/** The clients of a deployed stack's region, with the standard credential chain (and profile). */
export function createAwsClients(options: {
  readonly region: string;
  readonly profile?: string;
}): CliClients {
  const config = {
    region: options.region,
    ...(options.profile === undefined ? {} : { profile: options.profile }),
  };
  return {
    s3: new S3Client(config),
    dynamo: new DynamoDBClient(config),
    sfn: new SFNClient(config),
    eventBridge: new EventBridgeClient(config),
    secrets: new SecretsManagerClient(config),
  };
}

/** Input URLs signed for the local input CDN stand-in, as the submit function signs them. */
function inputUrlsOf(target: CliTarget) {
  const cdn = target.inputCdn;
  if (cdn === undefined) return undefined;
  const urls = new CloudFrontInputUrls({
    baseUrl: cdn.url,
    keyPairId: cdn.keyPairId,
    privateKey: () => readFile(cdn.privateKeyFile, 'utf8'),
  });
  return { bucket: target.inputBucket, sign: (ref: ObjectRef, seconds: number) => urls.sign(ref, seconds) };
}
