/**
 * check: one status check of the job's generation, from the state machine's loop.
 */
import { createDependencies, type Overrides } from '../adapters/dependencies.js';
import { instrumentHandler } from '../adapters/observability.js';
import { asStateMachineTask } from '../adapters/step-functions-error.js';
import { type Env, loadConfig } from '../config/config.js';
import { type CheckDeps, type CheckResult, checkGeneration } from '../domain/check-generation.js';

export interface CheckInput {
  readonly jobId: string;
}

export function createCheckHandler(
  env: Env,
  overrides: Overrides = {},
): (input: CheckInput) => Promise<CheckResult> {
  const d = createDependencies(loadConfig(env), overrides);
  const deps: CheckDeps = {
    jobs: d.jobs(),
    provider: d.provider(),
    clock: d.clock,
    logger: d.logger,
    history: d.history(),
    settings: d.config.poll,
  };
  return instrumentHandler(d.observability, 'check', (input: CheckInput) =>
    asStateMachineTask(() => checkGeneration(deps, input.jobId)),
  );
}

let instance: ((input: CheckInput) => Promise<CheckResult>) | undefined;

export const handler = async (input: CheckInput): Promise<CheckResult> => {
  instance ??= createCheckHandler(process.env);
  return instance(input);
};
