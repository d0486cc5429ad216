/**
 * finalize: copy the finished output into the output bucket and complete the job.
 */
import { createDependencies, type Overrides } from '../adapters/dependencies.js';
import { instrumentHandler } from '../adapters/observability.js';
import { asStateMachineTask } from '../adapters/step-functions-error.js';
import { type Env, loadConfig, requireSetting } from '../config/config.js';
import { EnvName } from '../config/env-names.js';
import { type FinalizeDeps, finalizeJob } from '../domain/finalize-job.js';

export interface FinalizeInput {
  readonly jobId: string;
  readonly videoUrl?: string;
}

export interface FinalizeOutput {
  readonly jobId: string;
  readonly status: string;
}

export function createFinalizeHandler(
  env: Env,
  overrides: Overrides = {},
): (input: FinalizeInput) => Promise<FinalizeOutput> {
  const d = createDependencies(loadConfig(env), overrides);
  const deps: FinalizeDeps = {
    jobs: d.jobs(),
    admission: d.admission(),
    objects: d.objects(),
    provider: d.provider(),
    fetcher: d.fetcher(),
    events: d.events(),
    metrics: d.metrics,
    clock: d.clock,
    logger: d.logger,
    settings: { outputBucket: requireSetting(d.config.outputBucket, EnvName.outputBucket) },
  };
  return instrumentHandler(d.observability, 'finalize', (input: FinalizeInput) =>
    asStateMachineTask(async () => {
      const job = await finalizeJob(deps, input.jobId, input.videoUrl);
      return { jobId: job.jobId, status: job.status };
    }),
  );
}

let instance: ((input: FinalizeInput) => Promise<FinalizeOutput>) | undefined;

export const handler = async (input: FinalizeInput): Promise<FinalizeOutput> => {
  instance ??= createFinalizeHandler(process.env);
  return instance(input);
};
