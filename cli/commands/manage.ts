/**
 * `vidflow retry <jobId>` and `vidflow cancel <jobId>`: the CLI runs the domain use cases itself,
 * against the same table, buckets, provider and state machine the pipeline uses.
 */
import { ExecutionDoesNotExist, type SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import {
  cancelJob,
  type ExecutionStopper,
  JobNotCancellableError,
} from '../../functions/domain/cancel-job.js';
import { JobNotFoundError } from '../../functions/domain/errors.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { JobNotRetryableError, retryJob } from '../../functions/domain/retry-job.js';
import { type CliContext, CliError } from '../context.js';
import { describeJob, printJson, publicJob } from '../format.js';
import { submissionDepsOf, submitConfigOf } from '../submission.js';
import { getJob } from './jobs.js';

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
    return await retryJob(await submissionDepsOf(ctx, before), jobId);
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
    // The estimate a reservation was made with, as the submit function reads it.
    const { admission } = submitConfigOf(ctx.target);
    return await cancelJob(
      {
        jobs: ctx.jobs,
        admission: ctx.admission,
        executions: new StepFunctionsStopper(ctx.clients.sfn),
        events: ctx.events,
        clock: ctx.clock,
        logger: ctx.logger,
        creditsPerJobEstimate: admission.creditsPerJobEstimate,
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
