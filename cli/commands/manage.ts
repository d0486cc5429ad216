/**
 * `vidflow retry <jobId>` and `vidflow cancel <jobId>`: the CLI runs the domain use cases itself,
 * against the same table, buckets, provider and state machine the pipeline uses.
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { ExecutionDoesNotExist, type SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { StepFunctionsExecutions } from '../../functions/adapters/executions.js';
import { HttpProviderClient } from '../../functions/adapters/provider-client.js';
import {
  cancelJob,
  type ExecutionStopper,
  JobNotCancellableError,
} from '../../functions/domain/cancel-job.js';
import { JobNotFoundError } from '../../functions/domain/errors.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { JobNotRetryableError, retryJob } from '../../functions/domain/retry-job.js';
import type { SubmitDeps, SubmitSettings } from '../../functions/domain/submit-job.js';
import { type CliContext, CliError } from '../context.js';
import { describeJob, printJson, publicJob } from '../format.js';
import { getJob } from './jobs.js';

/** The default key of the local provider emulator (`local/emulator/cli.ts`). */
const EMULATOR_API_KEY = 'local-dev-key';

/** The pipeline's defaults (`functions/config/config.ts`), for stacks whose settings the CLI cannot read. */
const PIPELINE_DEFAULTS = {
  jobTimeoutSeconds: 1800,
  firstWaitSeconds: 60,
  presignExpiresSeconds: 3600,
  maxInputBytes: 16 * 1024 * 1024,
  admission: { maxInFlight: 10, creditsPerJobEstimate: 40 },
} as const;

export async function retryCommand(
  ctx: CliContext,
  jobId: string,
  options: { readonly json?: boolean },
): Promise<number> {
  const job = await retryJobOf(ctx, jobId);
  if (options.json) printJson(ctx.out.stdout, publicJob(job));
  else if (job.status === JobStatus.failed) {
    ctx.out.stdout.write(`${describeJob(job)}\n`);
    ctx.out.stderr.write(`attempt ${job.attempt} of job ${jobId} could not be submitted\n`);
  } else {
    ctx.out.stdout.write(
      `job ${jobId}: attempt ${job.attempt} is ${job.status}${job.generationId ? ` (generation ${job.generationId})` : ''}; follow it with \`vidflow watch ${jobId}\`\n`,
    );
  }
  return job.status === JobStatus.failed || job.status === JobStatus.rejected ? 1 : 0;
}

/**
 * Start a new attempt of a job (what `retry` does); the record after resubmission.
 * @throws CliError for an unknown job or one that cannot be retried.
 */
export async function retryJobOf(ctx: CliContext, jobId: string): Promise<Job> {
  const before = await getJob(ctx, jobId);
  try {
    return await retryJob(await submitDepsOf(ctx, before), jobId);
  } catch (error) {
    throw asCliError(error);
  }
}

/**
 * Cancel a job in flight (what `cancel` does).
 * @throws CliError for an unknown job or one that cannot be cancelled.
 */
export async function cancelJobOf(
  ctx: CliContext,
  jobId: string,
  reason?: string,
): Promise<Awaited<ReturnType<typeof cancelJob>>> {
  try {
    return await cancelJob(
      {
        jobs: ctx.jobs,
        admission: ctx.admission,
        executions: new StepFunctionsStopper(ctx.clients.sfn),
        events: ctx.events,
        clock: ctx.clock,
        logger: ctx.logger,
        creditsPerJobEstimate: (ctx.target.admission ?? PIPELINE_DEFAULTS.admission).creditsPerJobEstimate,
      },
      jobId,
      reason === undefined ? {} : { reason },
    );
  } catch (error) {
    throw asCliError(error);
  }
}

export async function cancelCommand(
  ctx: CliContext,
  jobId: string,
  options: { readonly json?: boolean; readonly reason?: string },
): Promise<number> {
  const result = await cancelJobOf(ctx, jobId, options.reason);
  if (options.json) printJson(ctx.out.stdout, publicJob(result.job));
  else {
    const stopped = result.executionStopped ? '; its execution was stopped' : '';
    // A job cancelled before it had a prompt has nothing `vidflow retry` could send.
    const next =
      result.job.request === undefined
        ? 'it had no prompt, so there is nothing to retry: upload the video again with a prompt'
        : `\`vidflow retry ${jobId}\` starts it again`;
    ctx.out.stdout.write(`job ${jobId} cancelled (it was ${result.cancelledFrom})${stopped}; ${next}\n`);
  }
  return 0;
}

/** Stops executions through the Step Functions API; an execution that no longer exists is fine. */
export class StepFunctionsStopper implements ExecutionStopper {
  constructor(private readonly sfn: SFNClient) {}

  async stop(
    executionArn: string,
    reason: { readonly error: string; readonly cause: string },
  ): Promise<void> {
    try {
      await this.sfn.send(
        new StopExecutionCommand({ executionArn, error: reason.error, cause: reason.cause }),
      );
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return;
      throw error;
    }
  }
}

function asCliError(error: unknown): unknown {
  if (error instanceof JobNotFoundError) return new CliError(error.message, 1, { cause: error });
  if (error instanceof JobNotRetryableError || error instanceof JobNotCancellableError) {
    return new CliError(error.message, 1, { cause: error });
  }
  return error;
}

/** What the submission of a new attempt needs, from the target (and, for a stack, its secret). */
async function submitDepsOf(ctx: CliContext, job: Job): Promise<SubmitDeps> {
  const { target } = ctx;
  let baseUrl: string;
  let apiKey: string | (() => Promise<string>);
  let settings: SubmitSettings;
  if (target.kind === 'local') {
    const provider = target.provider;
    if (provider === undefined) throw new CliError(`${target.description} names no provider`);
    baseUrl = provider.url;
    const key = provider.emulated ? EMULATOR_API_KEY : process.env.AIMLAPI_KEY;
    if (key === undefined || key === '') {
      throw new CliError(
        'the local runtime calls the real provider: set AIMLAPI_KEY for `vidflow retry` too',
      );
    }
    apiKey = key;
    settings = target.submitSettings ?? stackSettings(ctx, job);
  } else {
    const secretArn = target.providerSecretArn;
    const secrets = ctx.clients.secrets;
    if (secretArn === undefined || secrets === undefined) {
      throw new CliError(
        `${target.description} has no ProviderSecretArn output: deploy the current version of the stack to use \`vidflow retry\``,
      );
    }
    baseUrl = process.env.AIMLAPI_BASE_URL ?? 'https://api.aimlapi.com';
    let cached: string | undefined;
    apiKey = async () => {
      if (cached === undefined) {
        const secret = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
        cached = secret.SecretString?.trim();
        if (!cached) throw new CliError(`the provider key secret ${secretArn} is empty`);
      }
      return cached;
    };
    settings = stackSettings(ctx, job);
  }
  return {
    objects: ctx.objects,
    jobs: ctx.jobs,
    admission: ctx.admission,
    provider: new HttpProviderClient({ baseUrl, apiKey, logger: ctx.logger }),
    executions: new StepFunctionsExecutions(ctx.clients.sfn, target.stateMachineArn),
    events: ctx.events,
    clock: ctx.clock,
    logger: ctx.logger,
    settings,
  };
}

/**
 * Settings of a deployed stack's submit function, which the CLI cannot read: the pipeline's
 * defaults, with the job timeout the previous attempt was given (its deadline minus its submission).
 */
function stackSettings(ctx: CliContext, job: Job): SubmitSettings {
  const previousTimeout =
    job.deadlineAt !== undefined && job.submittedAt !== undefined
      ? Math.round((Date.parse(job.deadlineAt) - Date.parse(job.submittedAt)) / 1000)
      : undefined;
  return {
    inputBucket: ctx.target.inputBucket,
    maxInputBytes: PIPELINE_DEFAULTS.maxInputBytes,
    videoUrlMode: 'presigned',
    presignExpiresSeconds: PIPELINE_DEFAULTS.presignExpiresSeconds,
    jobTimeoutSeconds:
      previousTimeout !== undefined && previousTimeout > 0
        ? previousTimeout
        : PIPELINE_DEFAULTS.jobTimeoutSeconds,
    firstWaitSeconds: PIPELINE_DEFAULTS.firstWaitSeconds,
    presetLookbackDays: 30,
    admission: ctx.target.admission ?? PIPELINE_DEFAULTS.admission,
  };
}
