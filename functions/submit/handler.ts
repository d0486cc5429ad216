/**
 * submit: the S3 trigger. Decodes each notification record exactly as real S3 sends it and
 * hands it to the submit use case.
 */
import type { S3Event } from 'aws-lambda';
import { createDependencies, type Overrides } from '../adapters/dependencies.js';
import { createObservability, instrumentHandler } from '../adapters/observability.js';
import { decodeS3Key } from '../adapters/s3-event.js';
import { type Env, loadConfig, requireSetting } from '../config/config.js';
import { EnvName } from '../config/env-names.js';

export { decodeS3Key };

import { pollPolicySettingsOf, pollSettingsFrom } from '../domain/check-generation.js';
import { withPlannedFirstWait } from '../domain/poll-policy.js';
import { handleObjectCreated, type SubmitDeps } from '../domain/submit-job.js';

/** The submit use case's collaborators, from an environment map. */
export function createSubmitDeps(env: Env, overrides: Overrides = {}): SubmitDeps {
  const d = createDependencies(loadConfig(env), overrides);
  const jobs = d.jobs();
  // The first wait comes from the polling policy, planned for the job being started.
  const executions = withPlannedFirstWait(d.executions(), {
    jobs,
    history: d.history(),
    clock: d.clock,
    logger: d.logger,
    settingsFor: (job) => pollPolicySettingsOf(pollSettingsFrom(d.config.poll), job),
  });
  return {
    objects: d.objects(),
    jobs,
    admission: d.admission(),
    provider: d.provider(),
    executions,
    events: d.events(),
    metrics: d.metrics,
    clock: d.clock,
    logger: d.logger,
    settings: {
      inputBucket: requireSetting(d.config.inputBucket, EnvName.inputBucket),
      maxInputBytes: d.config.maxInputBytes,
      videoUrlMode: d.config.videoUrlMode,
      presignExpiresSeconds: d.config.presignExpiresSeconds,
      jobTimeoutSeconds: d.config.jobTimeoutSeconds,
      firstWaitSeconds: d.config.poll.initialSeconds,
      presetLookbackDays: 30,
      admission: d.config.admission,
      models: d.config.models,
    },
  };
}

export function createSubmitHandler(env: Env, overrides: Overrides = {}): (event: S3Event) => Promise<void> {
  const observability = overrides.observability ?? createObservability(loadConfig(env).observability);
  const deps = createSubmitDeps(env, { ...overrides, observability });
  return instrumentHandler(observability, 'submit', async (event: S3Event) => {
    for (const record of event.Records ?? []) {
      if (!record.eventName?.startsWith('ObjectCreated:')) continue;
      await handleObjectCreated(deps, {
        bucket: record.s3.bucket.name,
        key: decodeS3Key(record.s3.object.key),
        ...(record.s3.object.versionId ? { versionId: record.s3.object.versionId } : {}),
        ...(record.s3.object.eTag ? { eTag: record.s3.object.eTag } : {}),
        ...(record.s3.object.size === undefined ? {} : { size: record.s3.object.size }),
        ...(record.s3.object.sequencer ? { sequencer: record.s3.object.sequencer } : {}),
      });
    }
  });
}

let instance: ((event: S3Event) => Promise<void>) | undefined;

export const handler = async (event: S3Event): Promise<void> => {
  instance ??= createSubmitHandler(process.env);
  await instance(event);
};
