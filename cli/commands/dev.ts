/**
 * `vidflow dev`: the local runtime in the foreground until Ctrl-C.
 */

import { rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startLocalConsole } from '../../console/server/start-local.js';
import {
  DEFAULT_PORTS,
  type Endpoints,
  PORT_ENV_NAMES,
  type Runtime,
  startRuntime,
} from '../../local/runtime.js';
import { CliError, DEFAULT_DATA_DIR, LOCAL_ENDPOINT_ENV } from '../context.js';

/** How `dev` names its servers in its banner and errors. */
const SERVICE_LABELS: Readonly<Record<keyof typeof DEFAULT_PORTS, string>> = {
  s3: 'S3 (s3rver)',
  dynamodb: 'DynamoDB (dynalite)',
  stepFunctions: 'Step Functions',
  provider: 'the provider emulator',
};

/**
 * A port `dev` wanted is taken: which server could not start, and how to move it.
 *
 * @returns the explanation, or `undefined` when `error` (or its causes) is no EADDRINUSE.
 */
export function explainBusyPort(
  error: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
): CliError | undefined {
  let current: unknown = error;
  while (current instanceof Error && (current as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
    current = current.cause;
  }
  if (!(current instanceof Error)) return undefined;
  const busy = (current as NodeJS.ErrnoException & { port?: unknown }).port;
  const services = Object.keys(DEFAULT_PORTS) as (keyof typeof DEFAULT_PORTS)[];
  const service = services.find((name) => {
    const configured = env[PORT_ENV_NAMES[name]];
    return (configured ? Number(configured) : DEFAULT_PORTS[name]) === busy;
  });
  const what = service === undefined ? 'a local server' : SERVICE_LABELS[service];
  const move =
    service === undefined
      ? Object.values(PORT_ENV_NAMES).join(', ')
      : `${PORT_ENV_NAMES[service]}=<port> vidflow dev`;
  return new CliError(
    `port ${String(busy ?? '?')} is already in use, so ${what} cannot start (another \`vidflow dev\`?): stop what holds it, or choose another port with ${move}, or run \`vidflow dev --random-ports\``,
    1,
    { cause: error },
  );
}

export interface DevOptions {
  readonly dataDir: string;
  readonly randomPorts?: boolean;
  readonly quiet?: boolean;
}

/** The file `dev` writes beside `endpoints.json`: `source .vidflow/env` points any AWS tool at the runtime. */
export const ENV_FILE_NAME = 'env';

/**
 * The standard AWS variables that lead any SDK, the AWS CLI and other tools to the local runtime
 * (service-specific endpoints, `AWS_ENDPOINT_URL_<SERVICE>`), plus `VIDFLOW_DATA_DIR`, so
 * `vidflow` finds the runtime from any directory.
 */
export function localAwsEnvironment(endpoints: Endpoints, dataDir: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: endpoints.accessKeyId,
    AWS_SECRET_ACCESS_KEY: endpoints.secretAccessKey,
    AWS_REGION: endpoints.region,
    AWS_DEFAULT_REGION: endpoints.region,
    [LOCAL_ENDPOINT_ENV.s3]: endpoints.s3,
    [LOCAL_ENDPOINT_ENV.dynamodb]: endpoints.dynamodb,
    [LOCAL_ENDPOINT_ENV.stepFunctions]: endpoints.stepfunctions,
    VIDFLOW_DATA_DIR: resolve(dataDir),
  };
}

/** `export NAME='value'` lines for a POSIX shell (values single-quoted). */
export function shellExports(variables: Readonly<Record<string, string>>): string {
  return Object.entries(variables)
    .map(([name, value]) => `export ${name}='${value.replace(/'/g, `'\\''`)}'`)
    .join('\n');
}

/**
 * Start the local runtime, write `<dataDir>/env`, and print what runs where and how to use it.
 *
 * @throws CliError when a port is taken (which server, and how to move it); the runtime's own
 * errors otherwise.
 */
export async function runDev(options: DevOptions): Promise<Runtime> {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const providerKey = process.env.AIMLAPI_KEY;
  let runtime: Runtime;
  try {
    runtime = await startRuntime({
      dataDir: options.dataDir,
      ...(options.randomPorts ? { ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 } } : {}),
      ...(providerKey
        ? {
            provider: {
              apiKey: providerKey,
              ...(process.env.AIMLAPI_BASE_URL ? { baseUrl: process.env.AIMLAPI_BASE_URL } : {}),
            },
          }
        : {}),
      ...(options.quiet ? {} : { echo: print }),
    });
  } catch (error) {
    throw explainBusyPort(error) ?? error;
  }
  const consoleServer = await startLocalConsole({
    dataDir: options.dataDir,
    ...(options.randomPorts ? { port: 0 } : {}),
    onError: (error) => runtime.logger.error('console request failed', { error: String(error) }),
  }).catch(async (error: unknown) => {
    await runtime.stop();
    throw error;
  });
  const e = runtime.endpoints;
  const envFile = join(runtime.dataDir, ENV_FILE_NAME);
  const environment = localAwsEnvironment(e, runtime.dataDir);
  // Written aside and renamed: a reader (or a `source`) never sees half a file.
  await writeFile(
    `${envFile}.tmp`,
    `# The vidflow local runtime: \`source ${envFile}\` and the AWS CLI, any AWS SDK and vidflow reach it.\n${shellExports(environment)}\n`,
  );
  await rename(`${envFile}.tmp`, envFile);
  // The commands to copy name this runtime's data directory unless it is the default one.
  const vidflow =
    resolve(options.dataDir) === resolve(DEFAULT_DATA_DIR)
      ? 'vidflow'
      : `vidflow --data-dir ${quoteArg(options.dataDir)}`;
  print(
    [
      'vidflow local runtime is ready',
      `  Console                 ${consoleServer.url}`,
      `  S3 (s3rver)             ${e.s3}    buckets ${e.inputBucket}, ${e.outputBucket}`,
      `  DynamoDB (dynalite)     ${e.dynamodb}    table ${e.jobsTable}`,
      `  Step Functions          ${e.stepfunctions}    ${e.stateMachineArn}`,
      `  Provider ${runtime.emulator ? '(emulator)' : '(real API)  '}     ${e.provider}`,
      `  Data, logs, events      ${runtime.dataDir}  (endpoints.json, env, runtime.log, events.jsonl)`,
      `  Webhooks                ${join(runtime.dataDir, 'webhooks')}  (${vidflow} webhooks list; attempts per endpoint)`,
      '',
      'Point the AWS CLI or any AWS SDK at it (AWS_ENDPOINT_URL_S3, _DYNAMODB, _SFN and credentials):',
      `  source ${quoteArg(envFile)}`,
      `  aws s3 cp clip.mp4 "s3://${e.inputBucket}/trips/clip.mp4" --metadata prompt="turn the scene into a watercolor painting"`,
      'or drop a video with vidflow:',
      `  ${vidflow} submit clip.mp4 --prompt "turn the scene into a watercolor painting" --wait`,
      'Follow, list and inspect jobs:',
      `  ${vidflow} watch`,
      `  ${vidflow} list`,
      `  ${vidflow} events --follow`,
      '',
      'Ctrl-C stops it; jobs in flight resume on the next start.',
    ].join('\n'),
  );
  return {
    ...runtime,
    stop: async () => {
      await consoleServer.close();
      await runtime.stop();
    },
  };
}

/** A shell word: as it is when plain, else single-quoted. */
function quoteArg(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
