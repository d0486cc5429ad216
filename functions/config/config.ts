/**
 * Configuration: read once per process from an environment map, validated, failing fast
 * with a named `ConfigError`. Handlers pass `process.env`; the local runtime passes the
 * environment the synthesized template gives each function, resolved to local resources.
 */
import { ConfigError } from '../domain/errors.js';
import { DEFAULT_MODEL_ID, type ModelSettings, modelSettingsProblems } from '../domain/models/catalog.js';
import {
  DEFAULT_CHECK_COST_SECONDS,
  DEFAULT_INITIAL_WAIT_SECONDS,
  type PollSettings,
  type TypicalTimes,
} from '../domain/poll-policy.js';
import { EnvName } from './env-names.js';

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_PROVIDER_BASE_URL = 'https://api.aimlapi.com';

const VIDEO_URL_MODES = ['auto', 'presigned', 'data-uri'] as const;

/**
 * Reads variables one by one, collecting a problem per invalid one instead of stopping at the
 * first. Hand-written rather than a schema library: zod was 444 KB of every Lambda bundle.
 * Values are echoed in messages only for numbers and enumerations (never keys or URLs).
 */
class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  /** A non-empty string, or undefined when unset. */
  text(name: string): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    if (value.length === 0) return this.fail(name, 'must not be empty');
    return value;
  }

  requiredText(name: string): string {
    if (this.env[name] === undefined) {
      this.fail(name, 'is required but not set');
      return '';
    }
    return this.text(name) ?? '';
  }

  url(name: string): string | undefined {
    const value = this.env[name];
    if (value === undefined) return undefined;
    try {
      new URL(value);
      return value;
    } catch {
      return this.fail(name, 'is not a valid URL');
    }
  }

  /** A number within bounds (`min` inclusive; `positive` means greater than 0), or undefined when unset. */
  number(
    name: string,
    rule: {
      readonly integer: boolean;
      readonly min?: number;
      readonly max?: number;
      readonly positive?: boolean;
    },
  ): number | undefined {
    const raw = this.env[name];
    if (raw === undefined) return undefined;
    const value = raw.trim() === '' ? Number.NaN : Number(raw);
    const valid =
      Number.isFinite(value) &&
      (!rule.integer || Number.isInteger(value)) &&
      (!rule.positive || value > 0) &&
      (rule.min === undefined || value >= rule.min) &&
      (rule.max === undefined || value <= rule.max);
    if (valid) return value;
    const kind = rule.integer ? 'an integer' : 'a number';
    const expected =
      rule.min !== undefined && rule.max !== undefined
        ? `${kind} from ${rule.min} to ${rule.max}`
        : rule.positive
          ? `a positive ${rule.integer ? 'integer' : 'number'}`
          : kind;
    return this.fail(name, `must be ${expected}, got "${truncate(raw, 40)}"`);
  }

  positiveInt(name: string, fallback: number): number {
    return this.number(name, { integer: true, positive: true }) ?? fallback;
  }

  oneOf<const T extends string>(name: string, values: readonly T[], fallback: T): T {
    const value = this.env[name];
    if (value === undefined) return fallback;
    if ((values as readonly string[]).includes(value)) return value as T;
    this.fail(name, `must be one of ${values.join(', ')}, got "${truncate(value, 40)}"`);
    return fallback;
  }

  /** Typical times: `210`, or `default=210,runway/gen4_aleph@848:480=150,<model>=<seconds>`. */
  typicalTimes(name: string): TypicalTimes {
    const raw = this.env[name];
    // Unset: each model's typical time from the catalog (typicalSecondsOf).
    const fallback = {};
    if (raw === undefined) return fallback;
    const entries = raw.split(',').map((part) => part.trim());
    const bySeconds: Record<string, number> = {};
    let defaultSeconds: number | undefined;
    for (const entry of entries) {
      const separator = entry.lastIndexOf('=');
      const key = separator < 0 ? 'default' : entry.slice(0, separator).trim();
      const seconds = Number(separator < 0 ? entry : entry.slice(separator + 1));
      if (key === '' || entry === '' || !Number.isFinite(seconds) || seconds <= 0) {
        this.fail(
          name,
          `must be seconds or a list of <model>[@<frame size>]=<seconds>, got "${truncate(raw, 40)}"`,
        );
        return fallback;
      }
      if (key === 'default') defaultSeconds = seconds;
      else bySeconds[key] = seconds;
    }
    return {
      ...(defaultSeconds === undefined ? {} : { defaultSeconds }),
      ...(Object.keys(bySeconds).length === 0 ? {} : { bySeconds }),
    };
  }

  private fail(name: string, why: string): undefined {
    this.problems.push(`${name}: ${why}`);
    return undefined;
  }
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

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
    /** Status reads' timeout (idempotent GETs); default the create's `timeoutMs`. */
    readonly readTimeoutMs: number;
  };
  readonly maxInputBytes: number;
  readonly maxOutputBytes: number;
  readonly videoUrlMode: 'auto' | 'presigned' | 'data-uri';
  readonly presignExpiresSeconds: number;
  /** CloudFront (or its local stand-in) in front of the input bucket; absent: S3 presigned GETs. */
  readonly inputCdn?: {
    readonly url: string;
    readonly keyPairId: string;
    readonly privateKey?: string;
    readonly privateKeySecretArn?: string;
  };
  readonly jobTimeoutSeconds: number;
  /**
   * The polling policy's settings (functions/domain/poll-policy.ts), defaults applied: the one
   * poll-settings type of the check and the submission protocol's first wait.
   */
  readonly poll: PollSettings;
  /** The sweeper's periods (functions/domain/sweep-jobs.ts). */
  readonly sweep: {
    readonly graceSeconds: number;
    readonly lookbackSeconds: number;
    /** Twice the provider timeout plus 10 s: a POST and its quick retries never last longer. */
    readonly claimTimeoutSeconds: number;
  };
  /** The in-flight cap and the daily credit budget (functions/domain/admission.ts). */
  readonly admission: {
    /** 0 means no cap. */
    readonly maxInFlight: number;
    readonly dailyCreditBudget?: number;
    readonly creditsPerJobEstimate: number;
  };
  /** The default model and the allowed ones (functions/domain/models/catalog.ts). */
  readonly models: ModelSettings;
  /** Origins (`http://127.0.0.1:4010`) the output download may reach though not public HTTPS. */
  readonly downloadAllowedOrigins: readonly string[];
  readonly eventBusName?: string;
  readonly eventsFile?: string;
  readonly endpoints: { readonly s3?: string; readonly dynamodb?: string; readonly stepFunctions?: string };
  /** Explicit credentials, when the environment map names them (the local runtime). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly region?: string;
  /** Powertools Tracer and Metrics: on unless the environment turns them off (the local runtime does). */
  readonly observability: {
    readonly tracingEnabled: boolean;
    readonly metricsEnabled: boolean;
    /** The `service` dimension and annotation: the stack's prefix (`vidflow` by default). */
    readonly serviceName: string;
  };
}

/**
 * Read and validate the configuration.
 * @throws ConfigError naming every invalid or missing variable.
 */
export function loadConfig(env: Env): Config {
  const read = new EnvReader(env);
  const inputBucket = read.text(EnvName.inputBucket);
  const outputBucket = read.text(EnvName.outputBucket);
  const jobsTable = read.requiredText(EnvName.jobsTable);
  const stateMachineArn = read.text(EnvName.stateMachineArn);
  const providerBaseUrl = read.url(EnvName.providerBaseUrl) ?? DEFAULT_PROVIDER_BASE_URL;
  const providerApiKey = read.text(EnvName.providerApiKey);
  const providerSecretArn = read.text(EnvName.providerSecretArn);
  const maxInputBytes = read.positiveInt(EnvName.maxInputBytes, 16 * 1024 * 1024);
  const maxOutputBytes = read.positiveInt(EnvName.maxOutputBytes, 1024 * 1024 * 1024);
  const videoUrlMode = read.oneOf(EnvName.videoUrlMode, VIDEO_URL_MODES, 'auto');
  const presignExpiresSeconds =
    read.number(EnvName.presignExpiresSeconds, { integer: true, min: 60, max: 3600 }) ?? 3600;
  const inputCdnUrl = read.url(EnvName.inputCdnUrl);
  const inputCdnKeyPairId = read.text(EnvName.inputCdnKeyPairId);
  const inputCdnPrivateKey = read.text(EnvName.inputCdnPrivateKey);
  const inputCdnPrivateKeySecretArn = read.text(EnvName.inputCdnPrivateKeySecretArn);
  const jobTimeoutSeconds = read.positiveInt(EnvName.jobTimeoutSeconds, 1800);
  const initialWaitSeconds = read.positiveInt(EnvName.pollInitialSeconds, DEFAULT_INITIAL_WAIT_SECONDS);
  const pollMinSeconds = read.positiveInt(EnvName.pollMinSeconds, 5);
  const pollMaxSeconds = read.positiveInt(EnvName.pollMaxSeconds, 60);
  const pollCheckCostSeconds = read.number(EnvName.pollCheckCostSeconds, { integer: false, positive: true });
  const pollTypicalSeconds = read.typicalTimes(EnvName.pollTypicalSeconds);
  const providerTimeoutMs = read.positiveInt(EnvName.providerTimeoutMs, 30_000);
  const providerReadTimeoutMs = read.positiveInt(EnvName.providerReadTimeoutMs, providerTimeoutMs);
  const sweepGraceSeconds = read.positiveInt(EnvName.sweepGraceSeconds, 600);
  const sweepLookbackSeconds = read.positiveInt(EnvName.sweepLookbackSeconds, 2 * 86_400);
  const maxInFlight = read.number(EnvName.maxInFlight, { integer: true, min: 0, max: 100_000 }) ?? 10;
  const dailyCreditBudget = read.number(EnvName.dailyCreditBudget, { integer: false, min: 0, max: 1e12 });
  const creditsPerJobEstimate =
    read.number(EnvName.creditsPerJobEstimate, { integer: false, positive: true }) ?? 40;
  const models = readModelSettings(read, env);
  const downloadAllowedOrigins = env[EnvName.downloadAllowedOrigins] ?? '';
  const eventBusName = read.text(EnvName.eventBusName);
  const eventsFile = read.text(EnvName.eventsFile);
  const s3Endpoint = read.url(EnvName.s3Endpoint);
  const dynamodbEndpoint = read.url(EnvName.dynamodbEndpoint);
  const stepFunctionsEndpoint = read.url(EnvName.stepFunctionsEndpoint);
  if (read.problems.length > 0) {
    throw new ConfigError(`invalid configuration: ${read.problems.join('; ')}`);
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return {
    inputBucket,
    outputBucket,
    jobsTable,
    stateMachineArn,
    provider: {
      baseUrl: providerBaseUrl.replace(/\/+$/, ''),
      apiKey: providerApiKey,
      secretArn: providerSecretArn,
      timeoutMs: providerTimeoutMs,
      readTimeoutMs: providerReadTimeoutMs,
    },
    maxInputBytes,
    maxOutputBytes,
    videoUrlMode,
    presignExpiresSeconds,
    ...(inputCdnUrl !== undefined && inputCdnKeyPairId !== undefined
      ? {
          inputCdn: {
            url: inputCdnUrl.replace(/\/+$/, ''),
            keyPairId: inputCdnKeyPairId,
            ...(inputCdnPrivateKey === undefined ? {} : { privateKey: inputCdnPrivateKey }),
            ...(inputCdnPrivateKeySecretArn === undefined
              ? {}
              : { privateKeySecretArn: inputCdnPrivateKeySecretArn }),
          },
        }
      : {}),
    jobTimeoutSeconds,
    poll: {
      initialWaitSeconds,
      minWaitSeconds: pollMinSeconds,
      maxWaitSeconds: Math.max(pollMaxSeconds, pollMinSeconds),
      checkCostSeconds: pollCheckCostSeconds ?? DEFAULT_CHECK_COST_SECONDS,
      typicalTimes: pollTypicalSeconds,
    },
    sweep: {
      graceSeconds: sweepGraceSeconds,
      lookbackSeconds: sweepLookbackSeconds,
      claimTimeoutSeconds: Math.ceil((2 * providerTimeoutMs) / 1000) + 10,
    },
    admission: {
      maxInFlight,
      ...(dailyCreditBudget === undefined ? {} : { dailyCreditBudget }),
      creditsPerJobEstimate,
    },
    models,
    downloadAllowedOrigins: downloadAllowedOrigins
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin.length > 0),
    eventBusName,
    eventsFile,
    endpoints: {
      s3: s3Endpoint,
      dynamodb: dynamodbEndpoint,
      stepFunctions: stepFunctionsEndpoint,
    },
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    ...(region ? { region } : {}),
    observability: {
      // The same readings as Powertools' own (`false`; `true`, `1`, `yes`, `on`).
      tracingEnabled: env[EnvName.tracingEnabled]?.trim().toLowerCase() !== 'false',
      metricsEnabled: !['true', '1', 'yes', 'on'].includes(
        env[EnvName.metricsDisabled]?.trim().toLowerCase() ?? '',
      ),
      // The stack sets it to its prefix (infra/physical-names.ts); `vidflow` is the default stack's.
      serviceName: env[EnvName.serviceName]?.trim() || 'vidflow',
    },
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

/** `VIDFLOW_DEFAULT_MODEL` and `VIDFLOW_ALLOWED_MODELS`, checked against the catalog. */
function readModelSettings(read: EnvReader, env: Env): ModelSettings {
  const defaultModel = read.text(EnvName.defaultModel)?.trim() ?? DEFAULT_MODEL_ID;
  const allowed = env[EnvName.allowedModels];
  const allowedModels =
    allowed === undefined
      ? undefined
      : allowed
          .split(',')
          .map((id) => id.trim())
          .filter((id) => id.length > 0);
  const settings: ModelSettings = { defaultModel, ...(allowedModels === undefined ? {} : { allowedModels }) };
  for (const problem of modelSettingsProblems(settings))
    read.problems.push(`${EnvName.defaultModel}/${EnvName.allowedModels}: ${problem}`);
  return settings;
}
