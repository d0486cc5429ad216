/**
 * Drop intake: an object landed in the input bucket; decide whether it starts a job, create the
 * job record exactly once, and hand a job that has its request to the submission protocol
 * (submission.ts), which pays for exactly one generation.
 *
 * The job id is derived from the triggering object version (job-identity.ts), so duplicate
 * notifications of one PUT name the same record; the record is created with a conditional put.
 * Every input problem found here ends as one `REJECTED` record (`orReject`).
 */
import {
  classifyDrop,
  isSafeManifestVideoKey,
  isSidecarKeyOf,
  presetKeysFor,
  sidecarKeyOf,
} from './drops.js';
import { InputRejectedError, RejectionCode, StaleTransitionError } from './errors.js';
import { type Job, JobStatus, type JobTrigger, outputKeyProblem, type SourceObject } from './job.js';
import { chooseJobId, createForWrite, IdentityTakenError } from './job-identity.js';
import {
  hasPrompt,
  MAX_PARAMS_DOCUMENT_BYTES,
  mergeParams,
  PARAMS_DOCUMENT_REJECTION,
  type ParamsDocumentKind,
  type ParamsSource,
  parseManifest,
  parseMetadataParams,
  parseParamsDocument,
  validateDropRequest,
} from './params.js';
import type { ObjectInfo, ObjectRef } from './ports.js';
import {
  endAtSubmission,
  jobErrorOf,
  resumeSubmission,
  type SubmissionDeps,
  submitJob,
} from './submission.js';
import { publishTerminalEventOnce } from './terminal-event.js';
import { inspectVideo } from './video-inspection.js';

/** One object-created notification, already decoded from the S3 event. */
export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  readonly eTag?: string;
  readonly size?: number;
  /** The event's `sequencer`: tells two writes of the same bytes within one second apart. */
  readonly sequencer?: string;
}

/**
 * Handle one created object. Returns the job it created or moved, if any.
 * Throws only for failures a later delivery may fix (provider briefly unavailable before
 * the POST was sent, AWS errors), so the async invocation retries it.
 */
export async function handleObjectCreated(
  deps: SubmissionDeps,
  created: ObjectCreated,
): Promise<Job | undefined> {
  try {
    return await handleDrop(deps, created);
  } catch (error) {
    if (!(error instanceof IdentityTakenError)) throw error;
    // Another write of the same bytes took the eTag@lastModified id meanwhile: this one now
    // resolves to its sequencer-named id (job-identity.ts).
    return handleDrop(deps, created);
  }
}

async function handleDrop(deps: SubmissionDeps, created: ObjectCreated): Promise<Job | undefined> {
  const drop = classifyDrop(created.key);
  switch (drop.kind) {
    case 'video':
      return onVideo(deps, created);
    case 'sidecar':
      return onSidecar(deps, created.bucket, drop.videoKey);
    case 'manifest':
      return onManifest(deps, created);
    case 'preset':
      await onPreset(deps, created.bucket, drop.folder);
      return undefined;
    case 'ignored':
      deps.logger.info('ignoring object that is not a drop', { key: created.key });
      return undefined;
  }
}

async function onVideo(deps: SubmissionDeps, created: ObjectCreated): Promise<Job | undefined> {
  const ref: ObjectRef = withVersion({ bucket: created.bucket, key: created.key }, created.versionId);
  const info = await deps.objects.head(ref);
  if (info === undefined) {
    deps.logger.warn('video vanished before it could be read', { key: created.key });
    return undefined;
  }
  const trigger: JobTrigger = withVersion(
    withSequencer({ kind: 'upload' as const, bucket: ref.bucket, key: ref.key, eTag: info.eTag }, created),
    info.versionId,
  );
  const { jobId, existing } = await chooseJobId(deps.jobs, trigger, info.lastModified);
  if (existing !== undefined) return resumeSubmission(deps, existing);

  const source = sourceOf(ref, info);
  const base = newJob(deps, jobId, source, trigger);
  const checked = await orReject(
    async () => {
      checkOutputKeys(source, jobId);
      await checkVideo(deps, source);
      return resolveVideoParams(deps, source, info);
    },
    (error) => createRejected(deps, base, error),
  );
  if ('rejected' in checked) return checked.rejected;
  const params = checked.value;
  if (!hasPrompt(params, deps.settings.models)) {
    const created = await createForWrite(deps.jobs, { ...base, status: JobStatus.awaitingPrompt });
    if (!created) return undefined;
    deps.logger.info('video waits for a prompt', { jobId, key: source.key });
    // The sidecar may have landed while we looked: its own notification may have missed
    // this record, so look once more now that the record exists.
    return onSidecar(deps, source.bucket, source.key, jobId);
  }
  return startJob(deps, base, params);
}

/**
 * A sidecar (or a video that found none yet) promotes the jobs of the video waiting for a prompt.
 * They are found through the `bySource` index, not by re-deriving an id from a HEAD: two writes of
 * the same bytes within a second are two jobs, and the HEAD cannot tell them apart. Where the
 * bucket is versioned only the current version's job is meant; otherwise every waiting job of the
 * current bytes. Returns `ownJobId`'s job when given, else the newest job of those bytes.
 */
async function onSidecar(
  deps: SubmissionDeps,
  bucket: string,
  videoKey: string,
  ownJobId?: string,
): Promise<Job | undefined> {
  const info = await deps.objects.head({ bucket, key: videoKey });
  if (info === undefined) return undefined; // the video's own notification will read the sidecar
  const ofVideo = (await deps.jobs.listBySource(bucket, videoKey)).filter(
    (job) =>
      job.source.eTag === info.eTag &&
      (info.versionId === undefined || job.source.versionId === info.versionId),
  );
  let result: Job | undefined = ownJobId === undefined ? ofVideo[0] : undefined;
  for (const job of ofVideo) {
    const promoted = job.status === JobStatus.awaitingPrompt ? await promoteAwaiting(deps, job, info) : job;
    if (job.jobId === ownJobId) result = promoted;
    else if (ownJobId === undefined && job === ofVideo[0]) result = promoted;
  }
  return ownJobId !== undefined && result === undefined ? deps.jobs.get(ownJobId) : result;
}

async function onPreset(deps: SubmissionDeps, bucket: string, folder: string): Promise<void> {
  const since = new Date(deps.clock.now().getTime() - deps.settings.presetLookbackDays * 86_400_000);
  const waiting = await deps.jobs.listByStatus(JobStatus.awaitingPrompt, { since });
  for (const job of waiting) {
    if (job.source.bucket !== bucket || !job.source.key.startsWith(folder)) continue;
    const info = await deps.objects.head(withVersion({ bucket, key: job.source.key }, job.source.versionId));
    if (info === undefined || info.eTag !== job.source.eTag) continue;
    await promoteAwaiting(deps, job, info);
  }
}

/** A job waiting for its prompt may now have one: resolve again and start it, once. */
async function promoteAwaiting(deps: SubmissionDeps, job: Job, info: ObjectInfo): Promise<Job | undefined> {
  const checked = await orReject(
    async () => {
      const params = await resolveVideoParams(deps, job.source, info);
      return hasPrompt(params, deps.settings.models)
        ? validateDropRequest(params, deps.settings.models)
        : undefined;
    },
    (error) =>
      endAtSubmission(deps, job.jobId, JobStatus.rejected, jobErrorOf(error, 'submit'), [
        JobStatus.awaitingPrompt,
      ]),
  );
  if ('rejected' in checked) return checked.rejected;
  const request = checked.value;
  if (request === undefined) return job; // still no prompt
  let submitted: Job;
  try {
    submitted = await deps.jobs.update(
      job.jobId,
      { status: JobStatus.submitted, request },
      { expectStatus: [JobStatus.awaitingPrompt] },
    );
  } catch (error) {
    if (error instanceof StaleTransitionError) return deps.jobs.get(job.jobId); // another delivery promoted it
    throw error;
  }
  return submitJob(deps, submitted);
}

async function onManifest(deps: SubmissionDeps, created: ObjectCreated): Promise<Job | undefined> {
  const manifestRef: ObjectRef = withVersion({ bucket: created.bucket, key: created.key }, created.versionId);
  const manifestInfo = await deps.objects.head(manifestRef);
  if (manifestInfo === undefined) return undefined;
  const trigger: JobTrigger = withVersion(
    withSequencer(
      {
        kind: 'manifest' as const,
        bucket: manifestRef.bucket,
        key: manifestRef.key,
        eTag: manifestInfo.eTag,
      },
      created,
    ),
    manifestInfo.versionId,
  );
  const { jobId, existing } = await chooseJobId(deps.jobs, trigger, manifestInfo.lastModified);
  if (existing !== undefined) return resumeSubmission(deps, existing);

  const placeholder = (key: string): SourceObject => ({
    bucket: created.bucket,
    key,
    eTag: '',
    size: 0,
    contentType: '',
  });
  let base = newJob(deps, jobId, placeholder(created.key), trigger);
  const outcome = await orReject(
    async () => {
      const text = await readParamsDocument(deps, manifestRef, 'manifest');
      if (text === undefined) return undefined;
      const manifest = parseManifest(text);
      if (!isSafeManifestVideoKey(manifest.video)) {
        throw new InputRejectedError(
          RejectionCode.manifestInvalid,
          'manifest "video" must be a key of the input bucket, without "..", a leading "/" or a URL scheme',
        );
      }
      base = { ...base, source: placeholder(manifest.video) };
      const videoRef: ObjectRef = { bucket: created.bucket, key: manifest.video };
      const videoInfo = await deps.objects.head(videoRef);
      if (videoInfo === undefined) {
        throw new InputRejectedError(
          RejectionCode.sourceMissing,
          `the manifest names "${manifest.video}", which does not exist`,
        );
      }
      const source = sourceOf(withVersion(videoRef, videoInfo.versionId), videoInfo);
      base = { ...base, source };
      checkOutputKeys(source, jobId);
      await checkVideo(deps, source);
      const params = mergeParams(manifest.params, await resolveVideoParams(deps, source, videoInfo));
      if (!hasPrompt(params, deps.settings.models)) {
        throw new InputRejectedError(
          RejectionCode.promptMissing,
          'neither the manifest nor the video names a prompt',
        );
      }
      return startJob(deps, base, params);
    },
    (error) => createRejected(deps, base, error),
  );
  return 'value' in outcome ? outcome.value : outcome.rejected;
}

/** Validate and create a job that has its prompt, then submit it. */
async function startJob(deps: SubmissionDeps, base: Job, params: ParamsSource): Promise<Job | undefined> {
  const validated = await orReject(
    () => validateDropRequest(params, deps.settings.models),
    (error) => createRejected(deps, base, error),
  );
  if ('rejected' in validated) return validated.rejected;
  const job: Job = { ...base, status: JobStatus.submitted, request: validated.value };
  if (!(await createForWrite(deps.jobs, job))) {
    const existing = await deps.jobs.get(job.jobId);
    return existing === undefined ? undefined : resumeSubmission(deps, existing);
  }
  return submitJob(deps, job);
}

/**
 * The result and its record land under the input key (README "Results"): a key whose output
 * keys S3 cannot take would only fail after the generation was paid for.
 */
function checkOutputKeys(source: SourceObject, jobId: string): void {
  const problem = outputKeyProblem(source.key, jobId);
  if (problem !== undefined) throw new InputRejectedError(RejectionCode.keyInvalid, problem);
}

/** Size and container checks: cheap, and before any paid call. */
async function checkVideo(deps: SubmissionDeps, source: SourceObject): Promise<void> {
  if (source.size > deps.settings.maxInputBytes) {
    throw new InputRejectedError(
      RejectionCode.inputTooLarge,
      `the video is ${source.size} bytes; the limit is ${deps.settings.maxInputBytes}`,
    );
  }
  const ref = withVersion({ bucket: source.bucket, key: source.key }, source.versionId);
  await inspectVideo(source.size, (start, end) => deps.objects.readRange(ref, start, end));
}

/** Metadata, then sidecar, then the nearest folder preset (README "Dropping a video"). */
async function resolveVideoParams(
  deps: SubmissionDeps,
  source: SourceObject,
  info: ObjectInfo,
): Promise<ParamsSource> {
  const fromMetadata = parseMetadataParams(info.metadata);
  const sidecarKey = await findSidecarKey(deps, source.bucket, source.key);
  const sidecarText =
    sidecarKey === undefined
      ? undefined
      : await readParamsDocument(deps, { bucket: source.bucket, key: sidecarKey }, 'sidecar');
  const fromSidecar = sidecarText === undefined ? undefined : parseParamsDocument(sidecarText, 'sidecar');
  let fromPreset: ParamsSource | undefined;
  for (const presetKey of presetKeysFor(source.key)) {
    const text = await readParamsDocument(deps, { bucket: source.bucket, key: presetKey }, 'preset');
    if (text !== undefined) {
      fromPreset = parseParamsDocument(text, 'preset');
      break;
    }
  }
  return mergeParams(fromMetadata, fromSidecar, fromPreset);
}

/** Keys listed when looking for a video's sidecar: `clip.mp4.json` in each case, and neighbours. */
const SIDECAR_LISTING_KEYS = 100;

/**
 * The video's sidecar key, `.json` in any case: the lower-case one when present (one HEAD-free
 * read), else the first in key order among those listed under `<videoKey>.`.
 */
async function findSidecarKey(
  deps: SubmissionDeps,
  bucket: string,
  videoKey: string,
): Promise<string | undefined> {
  const keys = await deps.objects.listKeys(bucket, `${videoKey}.`, SIDECAR_LISTING_KEYS);
  const sidecars = keys.filter((key) => isSidecarKeyOf(key, videoKey));
  return sidecars.find((key) => key === sidecarKeyOf(videoKey)) ?? sidecars[0];
}

async function readParamsDocument(
  deps: SubmissionDeps,
  ref: ObjectRef,
  kind: ParamsDocumentKind,
): Promise<string | undefined> {
  const document = await deps.objects.readText(ref, MAX_PARAMS_DOCUMENT_BYTES);
  if (document === undefined) return undefined;
  if (document.size > MAX_PARAMS_DOCUMENT_BYTES) {
    throw new InputRejectedError(
      PARAMS_DOCUMENT_REJECTION[kind],
      `${kind} ${ref.key} is ${document.size} bytes; at most ${MAX_PARAMS_DOCUMENT_BYTES} are read`,
    );
  }
  return document.text;
}

/** What {@link orReject} returns: the work's value, or the record of its rejection. */
type Checked<T> = { readonly value: T } | { readonly rejected: Job | undefined };

/**
 * Run `work`; an input problem it throws (`InputRejectedError`) is recorded by `reject` instead
 * of thrown. The one place drop intake turns a bad input into a `REJECTED` record: before the
 * record exists (`createRejected`) or for a job waiting for its prompt (`endAtSubmission`).
 */
async function orReject<T>(
  work: () => T | Promise<T>,
  reject: (error: InputRejectedError) => Promise<Job | undefined>,
): Promise<Checked<T>> {
  try {
    return { value: await work() };
  } catch (error) {
    if (error instanceof InputRejectedError) return { rejected: await reject(error) };
    throw error;
  }
}

/** Create the job's record as `REJECTED` (once) and publish its terminal event. */
async function createRejected(
  deps: SubmissionDeps,
  base: Job,
  error: InputRejectedError,
): Promise<Job | undefined> {
  const now = deps.clock.now().toISOString();
  const job: Job = {
    ...base,
    status: JobStatus.rejected,
    error: jobErrorOf(error, 'submit'),
    completedAt: now,
  };
  if (!(await createForWrite(deps.jobs, job))) return deps.jobs.get(base.jobId);
  deps.logger.info('drop rejected', {
    jobId: job.jobId,
    code: error.code,
    ...(error.model === undefined ? {} : { model: error.model }),
  });
  return publishTerminalEventOnce(deps, job);
}

function newJob(deps: SubmissionDeps, jobId: string, source: SourceObject, trigger: JobTrigger): Job {
  const now = deps.clock.now().toISOString();
  return {
    jobId,
    status: JobStatus.submitted,
    source,
    trigger,
    pollCount: 0,
    attempt: 1,
    createdAt: now,
    updatedAt: now,
    statusChangedAt: now,
  };
}

function sourceOf(ref: ObjectRef, info: ObjectInfo): SourceObject {
  return withVersion(
    { bucket: ref.bucket, key: ref.key, eTag: info.eTag, size: info.size, contentType: info.contentType },
    info.versionId ?? ref.versionId,
  );
}

function withSequencer<T extends object>(value: T, created: ObjectCreated): T & { sequencer?: string } {
  return created.sequencer === undefined ? value : { ...value, sequencer: created.sequencer };
}

function withVersion<T extends object>(value: T, versionId: string | undefined): T & { versionId?: string } {
  return versionId === undefined ? value : { ...value, versionId };
}
