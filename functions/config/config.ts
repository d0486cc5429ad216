/**
 * Configuration: read once per process from an environment map, validated, failing fast
 * with a named `ConfigError`. Handlers pass `process.env`; the local runtime passes the
 * environment the synthesized template gives each function, resolved to local resources.
 */
import { z } from 'zod';
import { ConfigError } from '../domain/errors.js';
import { EnvName } from './env-names.js';

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_PROVIDER_BASE_URL = 'https://api.aimlapi.com';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  [EnvName.inputBucket]: z.string().min(1).optional(),
  [EnvName.outputBucket]: z.string().min(1).optional(),
  [EnvName.jobsTable]: z.string().min(1),
  [EnvName.stateMachineArn]: z.string().min(1).optional(),
  [EnvName.providerBaseUrl]: z.url().default(DEFAULT_PROVIDER_BASE_URL),
  [EnvName.providerApiKey]: z.string().min(1).optional(),
  [EnvName.providerSecretArn]: z.string().min(1).optional(),
  [EnvName.maxInputBytes]: positiveInt(16 * 1024 * 1024),
  [EnvName.maxOutputBytes]: positiveInt(1024 * 1024 * 1024),
  [EnvName.videoUrlMode]: z.enum(['presigned', 'data-uri']).default('presigned'),
  [EnvName.presignExpiresSeconds]: z.coerce.number().int().min(60).max(3600).default(3600),
  [EnvName.jobTimeoutSeconds]: positiveInt(1800),
  [EnvName.pollInitialSeconds]: positiveInt(60),
  [EnvName.pollMinSeconds]: positiveInt(5),
  [EnvName.pollMaxSeconds]: positiveInt(60),
  [EnvName.pollCheckCostSeconds]: z.coerce.number().positive().optional(),
  [EnvName.providerTimeoutMs]: positiveInt(30_000),
  [EnvName.downloadAllowedOrigins]: z.string().default(''),
  [EnvName.eventBusName]: z.string().min(1).optional(),
  [EnvName.eventsFile]: z.string().min(1).optional(),
  [EnvName.s3Endpoint]: z.url().optional(),
  [EnvName.dynamodbEndpoint]: z.url().optional(),
  [EnvName.stepFunctionsEndpoint]: z.url().optional(),
});

export interface Config {
  readonly inputBucket?: string;
  readonly outputBucket?: string;
  readonly jobsTable: string;
  readonly stateMachineArn?: string;
  readonly provider: {
    readonly baseUrl: string;
    readonly apiKey?: string;
    readonly secretArn?: string;
    readonly timeoutMs: number;
  };
  readonly maxInputBytes: number;
  readonly maxOutputBytes: number;
  readonly videoUrlMode: 'presigned' | 'data-uri';
  readonly presignExpiresSeconds: number;
  readonly jobTimeoutSeconds: number;
  readonly poll: {
    readonly initialSeconds: number;
    readonly minSeconds: number;
    readonly maxSeconds: number;
    /** The lag one check is worth. @default the policy's DEFAULT_CHECK_COST_SECONDS (4) */
    readonly checkCostSeconds?: number;
  };
  /** Origins (`http://127.0.0.1:4010`) the output download may reach though not public HTTPS. */
  readonly downloadAllowedOrigins: readonly string[];
  readonly eventBusName?: string;
  readonly eventsFile?: string;
  readonly endpoints: { readonly s3?: string; readonly dynamodb?: string; readonly stepFunctions?: string };
  /** Explicit credentials, when the environment map names them (the local runtime). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly region?: string;
}

/**
 * Read and validate the configuration.
 * @throws ConfigError naming every invalid or missing variable.
 */
export function loadConfig(env: Env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    inputBucket: e[EnvName.inputBucket],
    outputBucket: e[EnvName.outputBucket],
    jobsTable: e[EnvName.jobsTable],
    stateMachineArn: e[EnvName.stateMachineArn],
    provider: {
      baseUrl: e[EnvName.providerBaseUrl].replace(/\/+$/, ''),
      apiKey: e[EnvName.providerApiKey],
      secretArn: e[EnvName.providerSecretArn],
      timeoutMs: e[EnvName.providerTimeoutMs],
    },
    maxInputBytes: e[EnvName.maxInputBytes],
    maxOutputBytes: e[EnvName.maxOutputBytes],
    videoUrlMode: e[EnvName.videoUrlMode],
    presignExpiresSeconds: e[EnvName.presignExpiresSeconds],
    jobTimeoutSeconds: e[EnvName.jobTimeoutSeconds],
    poll: {
      initialSeconds: e[EnvName.pollInitialSeconds],
      minSeconds: e[EnvName.pollMinSeconds],
      maxSeconds: Math.max(e[EnvName.pollMaxSeconds], e[EnvName.pollMinSeconds]),
      ...(e[EnvName.pollCheckCostSeconds] === undefined
        ? {}
        : { checkCostSeconds: e[EnvName.pollCheckCostSeconds] }),
    },
    downloadAllowedOrigins: e[EnvName.downloadAllowedOrigins]
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin.length > 0),
    eventBusName: e[EnvName.eventBusName],
    eventsFile: e[EnvName.eventsFile],
    endpoints: {
      s3: e[EnvName.s3Endpoint],
      dynamodb: e[EnvName.dynamodbEndpoint],
      stepFunctions: e[EnvName.stepFunctionsEndpoint],
    },
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    ...(region ? { region } : {}),
  };
}

/**
 * A setting a function cannot work without.
 * @throws ConfigError naming the environment variable.
 */
export function requireSetting<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new ConfigError(`${name} is not set`);
  return value;
}
