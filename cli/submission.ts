/**
 * What `vidflow retry` submits with: the submit function's own environment, through the
 * functions' composition root (`createSubmissionDeps`), over the CLI's clients. A retried job is
 * then admitted, submitted and polled exactly as a dropped one (functions/domain/submission.ts).
 *
 * - Local runtime: the environment `endpoints.json` keeps (`submitEnvironment`), with the keys
 *   it leaves out added back: the emulator's key or `AIMLAPI_KEY`, the input CDN key from its file.
 * - Deployed stack: the submit function's own environment (cli/submit-function.ts), whose key
 *   comes from the stack's secret; where the caller may not read the function, the environment
 *   the stack's outputs imply (the pipeline's defaults for the rest).
 */
import { readFile } from 'node:fs/promises';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClients } from '../functions/adapters/aws-clients.js';
import { createSubmissionDeps } from '../functions/adapters/dependencies.js';
import { createObservability } from '../functions/adapters/observability.js';
import { type Config, type Env, loadConfig } from '../functions/config/config.js';
import { EnvName } from '../functions/config/env-names.js';
import type { Job } from '../functions/domain/job.js';
import type { SubmissionDeps } from '../functions/domain/submission.js';
import { type CliContext, CliError, type CliTarget } from './context.js';

/** The default key of the local provider emulator (`local/emulator/cli.ts`). */
export const EMULATOR_API_KEY = 'local-dev-key';

/**
 * The submission protocol's collaborators for a new attempt of `job`.
 * @throws CliError when the target lacks what a submission needs (a provider key, the secret output).
 */
export async function submissionDepsOf(ctx: CliContext, job: Job): Promise<SubmissionDeps> {
  const environment = await submitEnvironmentOf(ctx, job);
  return createSubmissionDeps(environment, {
    clients: awsClientsOf(ctx),
    logger: ctx.logger,
    clock: ctx.clock,
    // The CLI neither traces nor prints metric lines: its output is the user's.
    observability: createObservability({ tracingEnabled: false, metricsEnabled: false }),
  });
}

/**
 * The submit function's configuration as far as the target tells, without its keys.
 * @throws ConfigError when the target's names do not make a configuration.
 */
export function submitConfigOf(target: CliTarget): Config {
  return target.submitConfig ?? loadConfig(stackEnvironment(target));
}

/**
 * The submit function's environment for `target`.
 * @throws CliError when no provider key can be found for it.
 */
export async function submitEnvironmentOf(ctx: CliContext, job?: Job): Promise<Env> {
  const { target } = ctx;
  if (target.kind === 'local') return localSubmitEnvironment(target);
  const secretArn = target.providerSecretArn;
  if (secretArn === undefined) {
    throw new CliError(
      `${target.description} has no ProviderSecretArn output: deploy the current version of the stack to use \`vidflow retry\``,
    );
  }
  const deployed = await ctx.submitFunctionEnvironment?.();
  if (deployed !== undefined) return deployed;
  ctx.logger.warn('could not read the submit function; the stack outputs and the defaults apply', {
    stack: target.description,
  });
  return {
    ...stackEnvironment(target, job),
    [EnvName.providerSecretArn]: secretArn,
    ...(process.env.AIMLAPI_BASE_URL === undefined
      ? {}
      : { [EnvName.providerBaseUrl]: process.env.AIMLAPI_BASE_URL }),
  };
}

/**
 * What a stack's outputs say of its submit function's environment: the names of its resources,
 * its admission limits, presigned input URLs, and the job timeout the previous attempt was given
 * (its deadline minus its submission); the pipeline's defaults for the rest.
 */
export function stackEnvironment(target: CliTarget, job?: Job): Env {
  const previousTimeout =
    job?.deadlineAt !== undefined && job.submittedAt !== undefined
      ? Math.round((Date.parse(job.deadlineAt) - Date.parse(job.submittedAt)) / 1000)
      : undefined;
  const admission = target.admission;
  return {
    [EnvName.inputBucket]: target.inputBucket,
    [EnvName.outputBucket]: target.outputBucket,
    [EnvName.jobsTable]: target.jobsTable,
    [EnvName.stateMachineArn]: target.stateMachineArn,
    [EnvName.videoUrlMode]: 'presigned',
    ...(target.eventBusName === undefined ? {} : { [EnvName.eventBusName]: target.eventBusName }),
    ...(target.eventsFile === undefined ? {} : { [EnvName.eventsFile]: target.eventsFile }),
    ...(previousTimeout !== undefined && previousTimeout > 0
      ? { [EnvName.jobTimeoutSeconds]: String(previousTimeout) }
      : {}),
    ...(admission === undefined
      ? {}
      : {
          [EnvName.maxInFlight]: String(admission.maxInFlight),
          [EnvName.creditsPerJobEstimate]: String(admission.creditsPerJobEstimate),
          ...(admission.dailyCreditBudget === undefined
            ? {}
            : { [EnvName.dailyCreditBudget]: String(admission.dailyCreditBudget) }),
        }),
  };
}

/** The local submit function's environment, with the keys `endpoints.json` leaves out. */
async function localSubmitEnvironment(target: CliTarget): Promise<Env> {
  const provider = target.provider;
  if (provider === undefined) throw new CliError(`${target.description} names no provider`);
  const key = provider.emulated ? EMULATOR_API_KEY : process.env.AIMLAPI_KEY;
  if (key === undefined || key === '') {
    throw new CliError('the local runtime calls the real provider: set AIMLAPI_KEY for `vidflow retry` too');
  }
  // A file written before the runtime kept the environment: what the outputs imply.
  const environment = target.submitEnvironment ?? {
    ...stackEnvironment(target),
    [EnvName.providerBaseUrl]: provider.url,
  };
  const cdnKey =
    target.inputCdn !== undefined && environment[EnvName.inputCdnUrl] !== undefined
      ? await readFile(target.inputCdn.privateKeyFile, 'utf8')
      : undefined;
  return {
    ...environment,
    [EnvName.providerApiKey]: key,
    ...(cdnKey === undefined ? {} : { [EnvName.inputCdnPrivateKey]: cdnKey }),
  };
}

/** The functions' clients over the CLI's: the same endpoints, credentials and instrumentation. */
function awsClientsOf(ctx: CliContext): AwsClients {
  const { clients } = ctx;
  const dynamo = DynamoDBDocumentClient.from(clients.dynamo, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    s3: clients.s3,
    dynamo,
    sfn: clients.sfn,
    // Only a stack publishes to EventBridge and keeps its key in Secrets Manager; its context has both.
    get eventBridge() {
      return clients.eventBridge ?? new EventBridgeClient({ region: ctx.target.region });
    },
    get secrets() {
      return clients.secrets ?? new SecretsManagerClient({ region: ctx.target.region });
    },
  };
}
