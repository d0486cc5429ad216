/**
 * submit: the S3 trigger. Decodes each notification record exactly as real S3 sends it and
 * hands it to the submit use case.
 */
import type { S3Event } from 'aws-lambda';
import { createSubmissionDeps, type Overrides } from '../adapters/dependencies.js';
import { createObservability, instrumentHandler } from '../adapters/observability.js';
import { decodeS3Key } from '../adapters/s3-event.js';
import { type Env, loadConfig } from '../config/config.js';
import { handleObjectCreated } from '../domain/submit-job.js';

export { decodeS3Key };

export function createSubmitHandler(env: Env, overrides: Overrides = {}): (event: S3Event) => Promise<void> {
  const observability = overrides.observability ?? createObservability(loadConfig(env).observability);
  const deps = createSubmissionDeps(env, { ...overrides, observability });
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
