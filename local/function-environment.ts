/**
 * The environment each function runs with in the local runtime: what the synthesized template
 * gives it (as in AWS), resolved to the loopback servers, the provider (emulator or real) and the
 * runtime's time scale. The submit function's is also what `vidflow retry` submits with
 * (`shareableSubmitEnvironment`, written to `endpoints.json`).
 */
import { EnvName } from '../functions/config/env-names.js';
import { DEFAULT_INITIAL_WAIT_SECONDS, DEFAULT_TYPICAL_SECONDS } from '../functions/domain/poll-policy.js';
import type { VidflowFunctionName } from '../infra/vidflow-function.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-clients.js';
import { type LocalTemplate, localStateMachineArn } from './template-resources.js';

export interface LocalFunctionEnvironment {
  readonly template: LocalTemplate;
  readonly provider: { readonly url: string; readonly apiKey: string; readonly emulated: boolean };
  readonly urls: { readonly s3: string; readonly dynamodb: string; readonly stepFunctions: string };
  readonly eventsFile: string;
  /** The input CDN stand-in's variables (emulator only), see `startLocalInputCdn`. */
  readonly inputCdn: Readonly<Record<string, string>>;
  readonly timeScale: number;
  readonly sweepGraceSeconds: number;
  /** `RuntimeOptions.functionEnvironment`: set last, over everything else. */
  readonly extra?: Readonly<Record<string, string>>;
}

/** The environment of function `name`, as its Lambda would have it, resolved to local resources. */
export function functionEnvironment(
  name: VidflowFunctionName,
  local: LocalFunctionEnvironment,
): Record<string, string> {
  const fromTemplate = local.template.functionEnvironment(name);
  const scaled = (seconds: number) => String(Math.max(1, Math.round(seconds * local.timeScale)));
  return {
    ...fromTemplate,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    [EnvName.providerBaseUrl]: local.provider.url,
    [EnvName.providerApiKey]: local.provider.apiKey,
    [EnvName.eventsFile]: local.eventsFile,
    [EnvName.s3Endpoint]: local.urls.s3,
    [EnvName.dynamodbEndpoint]: local.urls.dynamodb,
    [EnvName.stepFunctionsEndpoint]: local.urls.stepFunctions,
    // No X-Ray daemon here, and EMF metric lines are for CloudWatch.
    [EnvName.tracingEnabled]: 'false',
    [EnvName.metricsDisabled]: 'true',
    ...local.inputCdn,
    ...(local.provider.emulated
      ? { [EnvName.downloadAllowedOrigins]: new URL(local.provider.url).origin }
      : { [EnvName.videoUrlMode]: 'data-uri' }),
    // Poll at the emulator's time scale: its generations take seconds, not minutes.
    [EnvName.pollInitialSeconds]: scaled(DEFAULT_INITIAL_WAIT_SECONDS),
    [EnvName.pollMinSeconds]: scaled(5),
    [EnvName.pollMaxSeconds]: scaled(30),
    // The policy's prior, at the emulator's time scale: the emulator draws every model's time
    // from one distribution (unless the runtime's own environment sets it).
    [EnvName.pollTypicalSeconds]:
      process.env[EnvName.pollTypicalSeconds] ?? String(DEFAULT_TYPICAL_SECONDS * local.timeScale),
    [EnvName.sweepGraceSeconds]: String(local.sweepGraceSeconds),
    // Sweep names the state machine by an ARN built from its deployed name (see the stack).
    ...(fromTemplate[EnvName.stateMachineArn] === undefined
      ? {}
      : { [EnvName.stateMachineArn]: localStateMachineArn }),
    // The admission knobs may come from the runtime's own environment (`VIDFLOW_MAX_IN_FLIGHT=0 vidflow dev`).
    ...admissionEnvironment(process.env),
    ...local.extra,
  };
}

/** Variables that carry a key: never written to disk or a log by the runtime. */
const SECRET_VARIABLES: readonly string[] = [EnvName.providerApiKey, EnvName.inputCdnPrivateKey];

/**
 * The submit function's environment as `endpoints.json` keeps it for `vidflow retry`: without
 * its keys (a real provider key stays the user's `AIMLAPI_KEY`; the input CDN key stays in its
 * file), which the CLI adds back.
 */
export function shareableSubmitEnvironment(
  environment: Readonly<Record<string, string>>,
): Record<string, string> {
  return Object.fromEntries(Object.entries(environment).filter(([name]) => !SECRET_VARIABLES.includes(name)));
}

/** The admission and model variables set in `env`. */
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
