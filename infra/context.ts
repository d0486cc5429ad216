/**
 * The deployment knobs given as CDK context (`cdk.json` or `cdk deploy -c key=value`), read once
 * and validated here so the stack itself only ever sees typed props.
 */
import { readFileSync } from 'node:fs';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Node } from 'constructs';
import { isHttpUrl } from '../functions/adapters/provider-wire.js';
import { DEFAULT_MODEL_ID, modelSettingsProblems } from '../functions/domain/models/catalog.js';
import { DEFAULT_STACK_NAME, stackNameProblem } from './physical-names.js';
import type { VidflowStackProps } from './vidflow-stack.js';

/** The context keys the app reads. Values given with `-c` arrive as strings. */
export const ContextKey = {
  /**
   * The stack's name (default `Vidflow`); every physical name is derived from it
   * (physical-names.ts), so two deployments can share an account and region.
   */
  stackName: 'stackName',
  inputBucketName: 'inputBucketName',
  outputBucketName: 'outputBucketName',
  jobTimeoutMinutes: 'jobTimeoutMinutes',
  maxInputMiB: 'maxInputMiB',
  providerBaseUrl: 'providerBaseUrl',
  providerSecretArn: 'providerSecretArn',
  eventBusName: 'eventBusName',
  /** An https URL: turns on webhook delivery of terminal job events (absent: nothing is created). */
  webhookUrl: 'webhookUrl',
  /** Complete ARN of an existing signing secret for `webhookUrl` (absent: `vidflow/webhook-secret` is created). */
  webhookSecretArn: 'webhookSecretArn',
  removalPolicy: 'removalPolicy',
  /** An email address subscribed to the alarm topic (absent: no subscription; add one yourself). */
  alarmEmail: 'alarmEmail',
  /** `true`: the created buckets are encrypted with a customer-managed KMS key (default: SSE-S3). */
  bucketKms: 'bucketKms',
  /** Days after which input videos move to S3 Glacier Instant Retrieval (absent: never). */
  archiveInputsAfterDays: 'archiveInputsAfterDays',
  /** Generations in flight at once (default 10; 0: no cap). */
  maxInFlight: 'maxInFlight',
  /** Credits the jobs admitted on one UTC day may use (absent: no budget). */
  dailyCreditBudget: 'dailyCreditBudget',
  /** Credits reserved per job until its real cost is known (default 40). */
  creditsPerJobEstimate: 'creditsPerJobEstimate',
  /**
   * Path of a PEM public key file (relative to the working directory): turns on the input
   * CloudFront distribution (absent: none). A file, since `-c key=value` cuts a value at its
   * second `=`, and base64 PEM bodies end in `=`.
   */
  inputCdnPublicKeyFile: 'inputCdnPublicKeyFile',
  /** The catalog model of a drop that names none (default `runway/gen4_aleph`). */
  defaultModel: 'defaultModel',
  /** The only catalog models drops may use: a JSON array or a comma-separated list (default: all). */
  allowedModels: 'allowedModels',
} as const;

/** A context value is missing its expected shape; raised before any construct is built. */
export class StackContextError extends Error {
  override readonly name = 'StackContextError';
  constructor(key: string, message: string) {
    super(`context "${key}": ${message}`);
  }
}

const MIB = 1024 * 1024;
/** A complete Secrets Manager ARN ends in `-` plus six random characters; grants need it. */
/** Deliberately loose: one `@`, a dotted domain, no spaces; SNS confirms the address itself. */
const EMAIL_ADDRESS = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const COMPLETE_SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;

/**
 * The stack name: the `stackName` context key, or `Vidflow`.
 *
 * @throws StackContextError when it is not a valid stack name (letters, digits, hyphens, a
 * letter first, at most 75 characters).
 */
export function readStackNameFromContext(node: Node): string {
  const stackName = readString(node, ContextKey.stackName) ?? DEFAULT_STACK_NAME;
  const problem = stackNameProblem(stackName);
  if (problem !== undefined) throw new StackContextError(ContextKey.stackName, problem);
  return stackName;
}

/**
 * Reads and validates the stack's context knobs (the stack name aside: {@link readStackNameFromContext}).
 *
 * @returns only the props that were given; the stack applies its documented defaults to the rest.
 * @throws StackContextError when a value is present but malformed (e.g. `jobTimeoutMinutes=abc`).
 */
export function readStackPropsFromContext(node: Node): VidflowStackProps {
  const inputBucketName = readString(node, ContextKey.inputBucketName);
  const outputBucketName = readString(node, ContextKey.outputBucketName);
  const jobTimeoutMinutes = readNumber(node, ContextKey.jobTimeoutMinutes, {
    integer: true,
    min: 1,
    max: 24 * 60,
  });
  const maxInputMiB = readNumber(node, ContextKey.maxInputMiB, { integer: false, min: 0.001, max: 5 * 1024 });
  const providerBaseUrl = readString(node, ContextKey.providerBaseUrl);
  const providerSecretArn = readString(node, ContextKey.providerSecretArn);
  const eventBusName = readString(node, ContextKey.eventBusName);
  const removalPolicy = readString(node, ContextKey.removalPolicy);
  const webhookUrl = readString(node, ContextKey.webhookUrl);
  const inputCdnPublicKey = readPublicKeyFile(readString(node, ContextKey.inputCdnPublicKeyFile));
  const webhookSecretArn = readString(node, ContextKey.webhookSecretArn);
  const alarmEmail = readString(node, ContextKey.alarmEmail);
  const bucketKms = readString(node, ContextKey.bucketKms);
  const archiveInputsAfterDays = readNumber(node, ContextKey.archiveInputsAfterDays, {
    integer: true,
    min: 1,
    max: 3650,
  });
  const maxInFlight = readNumber(node, ContextKey.maxInFlight, { integer: true, min: 0, max: 100_000 });
  const dailyCreditBudget = readNumber(node, ContextKey.dailyCreditBudget, {
    integer: false,
    min: 0,
    max: 1e12,
  });
  const creditsPerJobEstimate = readNumber(node, ContextKey.creditsPerJobEstimate, {
    integer: false,
    min: 0.001,
    max: 1e9,
  });

  if (providerBaseUrl !== undefined && !isHttpUrl(providerBaseUrl)) {
    throw new StackContextError(ContextKey.providerBaseUrl, `"${providerBaseUrl}" is not an http(s) URL`);
  }
  if (providerSecretArn !== undefined && !COMPLETE_SECRET_ARN.test(providerSecretArn)) {
    throw new StackContextError(
      ContextKey.providerSecretArn,
      'expected a complete secret ARN (ending in -XXXXXX), e.g. arn:aws:secretsmanager:eu-west-1:123456789012:secret:vidflow/key-AbCdEf',
    );
  }
  if (webhookUrl !== undefined && !isHttpsUrl(webhookUrl)) {
    throw new StackContextError(ContextKey.webhookUrl, `"${webhookUrl}" is not an https URL`);
  }
  if (webhookSecretArn !== undefined && !COMPLETE_SECRET_ARN.test(webhookSecretArn)) {
    throw new StackContextError(
      ContextKey.webhookSecretArn,
      'expected a complete secret ARN (ending in -XXXXXX), e.g. arn:aws:secretsmanager:eu-west-1:123456789012:secret:vidflow/webhook-AbCdEf',
    );
  }
  if (webhookSecretArn !== undefined && webhookUrl === undefined) {
    throw new StackContextError(
      ContextKey.webhookSecretArn,
      `only used with "${ContextKey.webhookUrl}"; set it too`,
    );
  }
  if (alarmEmail !== undefined && !EMAIL_ADDRESS.test(alarmEmail)) {
    throw new StackContextError(ContextKey.alarmEmail, `"${alarmEmail}" is not an email address`);
  }
  if (bucketKms !== undefined && bucketKms !== 'true' && bucketKms !== 'false') {
    throw new StackContextError(ContextKey.bucketKms, `expected "true" or "false", got "${bucketKms}"`);
  }
  const defaultModel = readString(node, ContextKey.defaultModel);
  const allowedModels = readModelList(node, ContextKey.allowedModels);
  const modelProblems = modelSettingsProblems({
    defaultModel: defaultModel ?? DEFAULT_MODEL_ID,
    ...(allowedModels === undefined ? {} : { allowedModels }),
  });
  if (modelProblems.length > 0) {
    const key =
      defaultModel !== undefined && allowedModels === undefined
        ? ContextKey.defaultModel
        : ContextKey.allowedModels;
    throw new StackContextError(key, modelProblems.join('; '));
  }
  if (removalPolicy !== undefined && removalPolicy !== 'retain' && removalPolicy !== 'destroy') {
    throw new StackContextError(
      ContextKey.removalPolicy,
      `expected "retain" or "destroy", got "${removalPolicy}"`,
    );
  }

  return {
    ...(inputBucketName !== undefined && { inputBucketName }),
    ...(outputBucketName !== undefined && { outputBucketName }),
    ...(jobTimeoutMinutes !== undefined && { jobTimeout: Duration.minutes(jobTimeoutMinutes) }),
    ...(maxInputMiB !== undefined && { maxInputBytes: Math.floor(maxInputMiB * MIB) }),
    ...(providerBaseUrl !== undefined && { providerBaseUrl }),
    ...(providerSecretArn !== undefined && { providerSecretArn }),
    ...(eventBusName !== undefined && { eventBusName }),
    ...(webhookUrl !== undefined && { webhookUrl }),
    ...(inputCdnPublicKey !== undefined && { inputCdnPublicKey }),
    ...(webhookSecretArn !== undefined && { webhookSecretArn }),
    ...(alarmEmail !== undefined && { alarmEmail }),
    ...(bucketKms !== undefined && { bucketKms: bucketKms === 'true' }),
    ...(archiveInputsAfterDays !== undefined && {
      archiveInputsAfter: Duration.days(archiveInputsAfterDays),
    }),
    ...(maxInFlight !== undefined && { maxInFlight }),
    ...(dailyCreditBudget !== undefined && { dailyCreditBudget }),
    ...(creditsPerJobEstimate !== undefined && { creditsPerJobEstimate }),
    ...(defaultModel !== undefined && { defaultModel }),
    ...(allowedModels !== undefined && { allowedModels }),
    ...(removalPolicy !== undefined && {
      removalPolicy: removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    }),
  };
}

function readString(node: Node, key: string): string | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') throw new StackContextError(key, `expected a string, got ${typeof value}`);
  return value.trim();
}

function readNumber(
  node: Node,
  key: string,
  limits: { readonly integer: boolean; readonly min: number; readonly max: number },
): number | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  const parsed =
    typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
  if (!Number.isFinite(parsed) || (limits.integer && !Number.isInteger(parsed))) {
    throw new StackContextError(
      key,
      `expected ${limits.integer ? 'an integer' : 'a number'}, got "${String(value)}"`,
    );
  }
  if (parsed < limits.min || parsed > limits.max) {
    throw new StackContextError(key, `expected between ${limits.min} and ${limits.max}, got ${parsed}`);
  }
  return parsed;
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}

/** A list of model ids: a JSON array (`cdk.json`) or a comma-separated string (`-c allowedModels=a,b`). */
function readModelList(node: Node, key: string): string[] | undefined {
  const raw: unknown = node.tryGetContext(key);
  if (raw === undefined) return undefined;
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (items === undefined || !items.every((item): item is string => typeof item === 'string')) {
    throw new StackContextError(key, 'expected a list of model ids');
  }
  const ids = items.map((id) => id.trim()).filter((id) => id.length > 0);
  if (ids.length === 0) throw new StackContextError(key, 'expected at least one model id');
  return ids;
}

/** The PEM public key in `path`, or undefined without a path. */
function readPublicKeyFile(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new StackContextError(ContextKey.inputCdnPublicKeyFile, `cannot read ${path}: ${String(error)}`);
  }
  if (!/^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----\s*$/.test(pem)) {
    throw new StackContextError(
      ContextKey.inputCdnPublicKeyFile,
      `${path} is not a PEM public key (-----BEGIN PUBLIC KEY----- ...)`,
    );
  }
  return pem.trim();
}
