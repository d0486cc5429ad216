/**
 * sweep: the pipeline's housekeeping, two ways in.
 *
 * - On a schedule (an EventBridge rule, every minute in AWS; a timer in the local runtime): one
 *   sweep (functions/domain/sweep-jobs.ts) resolves jobs nothing is moving any more, gives back
 *   slots held by ended jobs, and lets waiting jobs in.
 * - From the state machine, as each execution ends (`{ "admit": true }`): lets waiting jobs in
 *   now, so a freed in-flight slot is taken at once instead of at the next sweep.
 */

import { createSubmissionDeps, type Overrides } from '../adapters/dependencies.js';
import { createObservability, instrumentHandler } from '../adapters/observability.js';
import { type Env, loadConfig } from '../config/config.js';
import { admitWaitingJobs } from '../domain/admission.js';
import { resumeSubmission } from '../domain/submission.js';
import { sweepStuckJobs } from '../domain/sweep-jobs.js';

/** What the state machine sends when an execution ends. */
export interface AdmitRequest {
  readonly admit: true;
}

export interface SweepOutput {
  /** Jobs resolved by a sweep (always 0 for an admit request). */
  readonly resolved: number;
  /** Waiting jobs let in. */
  readonly admitted: number;
}

export function isAdmitRequest(event: unknown): event is AdmitRequest {
  return typeof event === 'object' && event !== null && (event as { admit?: unknown }).admit === true;
}

export function createSweepHandler(
  env: Env,
  overrides: Overrides = {},
): (event: unknown) => Promise<SweepOutput> {
  const config = loadConfig(env);
  // Jobs a sweep ends are counted in the job metrics, published when the invocation ends.
  const observability = overrides.observability ?? createObservability(config.observability);
  const deps = createSubmissionDeps(env, { ...overrides, observability });
  return instrumentHandler(observability, 'sweep', async (event: unknown) => {
    if (isAdmitRequest(event)) {
      return { resolved: 0, admitted: await admitWaitingJobs(deps, (job) => resumeSubmission(deps, job)) };
    }
    const report = await sweepStuckJobs(deps, config.sweep);
    return { resolved: report.resolved.length, admitted: report.admitted };
  });
}

let instance: ((event: unknown) => Promise<SweepOutput>) | undefined;

export const handler = async (event: unknown): Promise<SweepOutput> => {
  instance ??= createSweepHandler(process.env);
  return instance(event);
};
