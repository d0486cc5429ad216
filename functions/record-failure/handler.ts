/**
 * record-failure: the state machine caught an error; record on the job why it ended.
 */
import { createDependencies, type Overrides } from '../adapters/dependencies.js';
import { instrumentHandler } from '../adapters/observability.js';
import { type CaughtError, decodeCaughtError } from '../adapters/step-functions-error.js';
import { type Env, loadConfig } from '../config/config.js';
import { type RecordFailureDeps, recordFailure } from '../domain/record-failure.js';

export interface RecordFailureInput {
  readonly jobId: string;
  readonly error?: CaughtError;
}

export interface RecordFailureOutput {
  readonly jobId: string;
  readonly status: string;
}

export function createRecordFailureHandler(
  env: Env,
  overrides: Overrides = {},
): (input: RecordFailureInput) => Promise<RecordFailureOutput> {
  const d = createDependencies(loadConfig(env), overrides);
  const deps: RecordFailureDeps = {
    jobs: d.jobs(),
    admission: d.admission(),
    events: d.events(),
    metrics: d.metrics,
    clock: d.clock,
    logger: d.logger,
  };
  return instrumentHandler(d.observability, 'record-failure', async (input: RecordFailureInput) => {
    const job = await recordFailure(deps, input.jobId, decodeCaughtError(input.error ?? {}));
    return { jobId: job.jobId, status: job.status };
  });
}

let instance: ((input: RecordFailureInput) => Promise<RecordFailureOutput>) | undefined;

export const handler = async (input: RecordFailureInput): Promise<RecordFailureOutput> => {
  instance ??= createRecordFailureHandler(process.env);
  return instance(input);
};
