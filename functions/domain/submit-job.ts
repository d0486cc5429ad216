/**
 * The submit use case: an object landed in the input bucket; decide whether it starts a
 * job, create the job record exactly once, and pay for exactly one generation.
 *
 * Exactly-once, without transactions:
 * 1. The job id is derived from the triggering object version, so duplicate notifications
 *    of one PUT name the same record; the record is created with a conditional put.
 * 2. Before the paid POST an invocation takes the *submission claim* with a conditional
 *    update (no claim and no generation id yet). Only the claim holder POSTs.
 * 3. A POST that surely did not reach the provider releases the claim and is retried by
 *    Lambda's async retries; a POST whose outcome is unknown is never resent: the job fails
 *    with `SUBMISSION_OUTCOME_UNKNOWN` (see `SubmissionOutcomeUnknownError`).
 * 4. The polling execution is named after the job id (and its attempt, after a retry: see
 *    `executionNameOf`), so starting it twice is a no-op.
 */
import { randomUUID } from 'node:crypto';
import { type AdmissionSettings, admitJob, releaseAdmission } from './admission.js';
import {
  classifyDrop,
  isSafeManifestVideoKey,
  isSidecarKeyOf,
  presetKeysFor,
  sidecarKeyOf,
  videoContentType,
} from './drops.js';
import {
  InputRejectedError,
  ProviderOutOfCreditsError,
  ProviderRateLimitedError,
  ProviderUnavailableError,
  RejectionCode,
  StaleTransitionError,
  VidflowError,
} from './errors.js';
import {
  executionNameOf,
  type GenerationRequest,
  isCatalogRequest,
  isTerminal,
  type Job,
  type JobError,
  JobStatus,
  type JobTrigger,
  outputKeyProblem,
  type SourceObject,
  WaitReason,
} from './job.js';
import { chooseJobId, createForWrite, IdentityTakenError } from './job-identity.js';
import type { ModelSettings } from './models/catalog.js';
import { catalogRequestBody } from './models/catalog-request.js';
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
import type {
  AdmissionStore,
  Clock,
  Executions,
  JobEvents,
  JobMetrics,
  JobStore,
  Logger,
  ObjectInfo,
  ObjectRef,
  ObjectStore,
} from './ports.js';
import type { CreateGenerationInput, ProviderClient } from './provider.js';
import { dataUriLength, MAX_INPUT_URL_CHARS, MAX_VIDEO_DATA_URI_CHARS } from './provider-limits.js';
import { publishTerminalEventOnce } from './terminal-event.js';
import { inspectVideo } from './video-inspection.js';

/** How the input reaches the provider (see `buildVideoUrl`). */
export type VideoUrlMode = 'auto' | 'presigned' | 'data-uri';

export interface SubmitSettings {
  readonly inputBucket: string;
  readonly maxInputBytes: number;
  readonly videoUrlMode: VideoUrlMode;
  readonly presignExpiresSeconds: number;
  readonly jobTimeoutSeconds: number;
  readonly firstWaitSeconds: number;
  /** How far back a new `_defaults.json` looks for videos waiting for a prompt. */
  readonly presetLookbackDays: number;
  /** The in-flight cap and the daily credit budget (admission.ts). */
  readonly admission: AdmissionSettings;
  /** The default model and the allowed ones (models/catalog.ts). @default runway/gen4_aleph, all allowed */
  readonly models?: ModelSettings;
}

export interface SubmitDeps {
  readonly objects: ObjectStore;
  readonly jobs: JobStore;
  readonly admission: AdmissionStore;
  readonly provider: ProviderClient;
  readonly executions: Executions;
  readonly events: JobEvents;
  /** Figures of jobs that end here (rejected, or failed at submission). @default none */
  readonly metrics?: JobMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: SubmitSettings;
}

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

/** Input of the state machine execution. */
export interface ExecutionInput {
  readonly jobId: string;
  readonly waitSeconds: number;
}

/**
 * Handle one created object. Returns the job it created or moved, if any.
 * Throws only for failures a later delivery may fix (provider briefly unavailable before
 * the POST was sent, AWS errors), so the async invocation retries it.
 */
export async function handleObjectCreated(
  deps: SubmitDeps,
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

async function handleDrop(deps: SubmitDeps, created: ObjectCreated): Promise<Job | undefined> {
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

async function onVideo(deps: SubmitDeps, created: ObjectCreated): Promise<Job | undefined> {
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
  if (existing !== undefined) return resumeExisting(deps, existing);

  const source = sourceOf(ref, info);
  const base = newJob(deps, jobId, source, trigger);
  let params: ParamsSource;
  try {
    checkOutputKeys(source, jobId);
    await checkVideo(deps, source);
    params = await resolveVideoParams(deps, source, info);
  } catch (error) {
    if (error instanceof InputRejectedError) return createRejected(deps, base, error);
    throw error;
  }
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
  deps: SubmitDeps,
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

async function onPreset(deps: SubmitDeps, bucket: string, folder: string): Promise<void> {
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
async function promoteAwaiting(deps: SubmitDeps, job: Job, info: ObjectInfo): Promise<Job | undefined> {
  let params: ParamsSource;
  try {
    params = await resolveVideoParams(deps, job.source, info);
  } catch (error) {
    if (error instanceof InputRejectedError)
      return finishRejected(deps, job, error, [JobStatus.awaitingPrompt]);
    throw error;
  }
  if (!hasPrompt(params, deps.settings.models)) return job;
  let request: GenerationRequest;
  try {
    request = validateDropRequest(params, deps.settings.models);
  } catch (error) {
    if (error instanceof InputRejectedError)
      return finishRejected(deps, job, error, [JobStatus.awaitingPrompt]);
    throw error;
  }
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
  return submitClaimed(deps, submitted);
}

async function onManifest(deps: SubmitDeps, created: ObjectCreated): Promise<Job | undefined> {
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
  if (existing !== undefined) return resumeExisting(deps, existing);

  const placeholder = (key: string): SourceObject => ({
    bucket: created.bucket,
    key,
    eTag: '',
    size: 0,
    contentType: '',
  });
  let base = newJob(deps, jobId, placeholder(created.key), trigger);
  try {
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
    return await startJob(deps, base, params);
  } catch (error) {
    if (error instanceof InputRejectedError) return createRejected(deps, base, error);
    throw error;
  }
}

/** Validate and create a job that has its prompt, then submit it. */
async function startJob(deps: SubmitDeps, base: Job, params: ParamsSource): Promise<Job | undefined> {
  let request: GenerationRequest;
  try {
    request = validateDropRequest(params, deps.settings.models);
  } catch (error) {
    if (error instanceof InputRejectedError) return createRejected(deps, base, error);
    throw error;
  }
  const job: Job = { ...base, status: JobStatus.submitted, request };
  if (!(await createForWrite(deps.jobs, job))) {
    const existing = await deps.jobs.get(job.jobId);
    return existing === undefined ? undefined : resumeExisting(deps, existing);
  }
  return submitClaimed(deps, job);
}

/**
 * A record already exists (a duplicate delivery, a retry after a failure, the sweeper):
 * finish whatever the earlier delivery left undone, never repeating a paid step.
 */
export async function resumeExisting(deps: SubmitDeps, job: Job): Promise<Job> {
  if (isTerminal(job.status) || job.status === JobStatus.awaitingPrompt) return job;
  if (job.generationId === undefined) {
    if (job.submissionClaim !== undefined) return job; // a POST is under way, or its outcome is unknown
    return (await submitClaimed(deps, job)) ?? job;
  }
  if (job.executionArn === undefined) return startExecution(deps, job);
  return job;
}

/**
 * Let the job through admission (or leave it `WAITING`), take the submission claim, POST once,
 * record the generation and start polling.
 */
async function submitClaimed(deps: SubmitDeps, ready: Job): Promise<Job | undefined> {
  const request = ready.request;
  if (request === undefined) return ready;
  const job = await admitJob(deps, ready);
  if (job.status !== JobStatus.submitted) return job;
  const token = randomUUID();
  const claim = { token, claimedAt: deps.clock.now().toISOString() };
  let claimed: Job;
  try {
    claimed = await deps.jobs.update(
      job.jobId,
      { submissionClaim: claim },
      { expectStatus: [JobStatus.submitted], expectUnclaimed: true },
    );
  } catch (error) {
    if (error instanceof StaleTransitionError) return deps.jobs.get(job.jobId);
    throw error;
  }

  let generationId: string;
  let providerStatus: string;
  try {
    const videoUrl = await buildVideoUrl(deps, claimed.source);
    // The last write before the POST: until it, a crash leaves a claim that surely sent nothing.
    try {
      await deps.jobs.update(
        job.jobId,
        { submissionClaim: { ...claim, sendingAt: deps.clock.now().toISOString() } },
        { expectClaimToken: token },
      );
    } catch (error) {
      // The sweeper took the claim back from this (too slow) invocation: it submits the job.
      if (error instanceof StaleTransitionError) return deps.jobs.get(job.jobId);
      throw error;
    }
    const generation = await deps.provider.createGeneration(toProviderInput(request, videoUrl));
    generationId = generation.id;
    providerStatus = generation.status;
  } catch (error) {
    if (error instanceof ProviderUnavailableError || error instanceof ProviderRateLimitedError) {
      // Surely not processed by the provider: release the claim so a retry may POST again.
      await deps.jobs.update(job.jobId, {}, { expectClaimToken: token, removeFields: ['submissionClaim'] });
      throw error;
    }
    if (error instanceof ProviderOutOfCreditsError) return waitForProviderCredits(deps, job, token, error);
    if (error instanceof VidflowError) {
      const status = error.code === RejectionCode.providerRejected ? JobStatus.rejected : JobStatus.failed;
      return finishTerminal(deps, job.jobId, status, jobErrorOf(error, 'submit'), [JobStatus.submitted]);
    }
    // Not from the provider client (which wraps every transport failure): building the URL
    // or reading the key failed, so nothing was sent. Release the claim for the retry.
    await deps.jobs.update(job.jobId, {}, { expectClaimToken: token, removeFields: ['submissionClaim'] });
    throw error;
  }

  const now = deps.clock.now();
  const submitted = await deps.jobs.update(job.jobId, {
    generationId,
    providerStatus,
    submittedAt: now.toISOString(),
    deadlineAt: new Date(now.getTime() + deps.settings.jobTimeoutSeconds * 1000).toISOString(),
  });
  deps.logger.info('generation submitted', { jobId: job.jobId, generationId, model: request.model });
  return startExecution(deps, submitted);
}

/**
 * The provider refused the POST as out of credits: nothing was created or charged. The job waits
 * in `WAITING` for `PROVIDER_CREDITS` (claim released, slot given back) instead of failing; the
 * sweeper and every job's end try waiting jobs again (admission.ts), so it resumes by itself.
 */
async function waitForProviderCredits(
  deps: SubmitDeps,
  job: Job,
  token: string,
  error: ProviderOutOfCreditsError,
): Promise<Job> {
  deps.logger.warn('provider out of credits: the job waits', { jobId: job.jobId, message: error.message });
  let waiting: Job;
  try {
    waiting = await deps.jobs.update(
      job.jobId,
      { status: JobStatus.waiting, waitingFor: WaitReason.providerCredits },
      { expectClaimToken: token, removeFields: ['submissionClaim'] },
    );
  } catch (caught) {
    if (caught instanceof StaleTransitionError) return (await deps.jobs.get(job.jobId)) ?? job;
    throw caught;
  }
  await releaseAdmission(deps, waiting);
  return waiting;
}

export async function startExecution(deps: SubmitDeps, job: Job): Promise<Job> {
  const input: ExecutionInput = { jobId: job.jobId, waitSeconds: deps.settings.firstWaitSeconds };
  const { executionArn } = await deps.executions.start(executionNameOf(job), input);
  return deps.jobs.update(job.jobId, { executionArn });
}

/** The longest input URL the provider fetches (Runway: 2,048 characters). */
export const MAX_VIDEO_URL_CHARS = MAX_INPUT_URL_CHARS;

/**
 * The input as the provider's upstream can fetch it. Upstream fetches a URL with HEAD, then GET,
 * and an S3 URL presigned for GET answers HEAD with 403 (the method is signed): so in `auto`
 * (the default) the input travels as a data URI whenever the encoded URI fits upstream's limit
 * (16 MB as encoded: inputs up to about 11.9 MB), and as a URL only beyond that. `data-uri` always
 * inlines (refused by upstream past its limit); `presigned` always sends a URL.
 */
async function buildVideoUrl(deps: SubmitDeps, source: SourceObject): Promise<string> {
  const ref = withVersion({ bucket: source.bucket, key: source.key }, source.versionId);
  const contentType = videoContentType(source);
  const fitsDataUri = dataUriLength(contentType, source.size) <= MAX_VIDEO_DATA_URI_CHARS;
  const dataUri = async () => {
    const bytes = await deps.objects.readAll(ref);
    return `data:${contentType};base64,${Buffer.from(bytes).toString('base64')}`;
  };
  const mode = deps.settings.videoUrlMode;
  if (mode === 'data-uri' || (mode === 'auto' && fitsDataUri)) return dataUri();
  const url = await deps.objects.presignGet(
    ref,
    Math.min(deps.settings.presignExpiresSeconds, 3600),
    contentType,
  );
  // A long key (percent-encoded non-ASCII triples in length) or a long session token can make
  // the presigned URL too long for the provider: send the bytes instead when they fit.
  if (url.length > MAX_VIDEO_URL_CHARS && fitsDataUri) return dataUri();
  return url;
}

function toProviderInput(request: GenerationRequest, videoUrl: string): CreateGenerationInput {
  if (isCatalogRequest(request)) {
    return { model: request.model, catalogBody: catalogRequestBody(request, videoUrl) };
  }
  return {
    model: request.model,
    prompt: request.prompt,
    video_url: videoUrl,
    frame_size: request.frameSize,
    duration: request.duration,
    ...(request.seed === undefined ? {} : { seed: request.seed }),
    ...(request.references === undefined
      ? {}
      : { references: request.references.map((url) => ({ type: 'image' as const, url })) }),
  };
}

/**
 * The result and its record land under the input key (contract section 2): a key whose output
 * keys S3 cannot take would only fail after the generation was paid for.
 */
function checkOutputKeys(source: SourceObject, jobId: string): void {
  const problem = outputKeyProblem(source.key, jobId);
  if (problem !== undefined) throw new InputRejectedError(RejectionCode.keyInvalid, problem);
}

/** Size and container checks: cheap, and before any paid call. */
async function checkVideo(deps: SubmitDeps, source: SourceObject): Promise<void> {
  if (source.size > deps.settings.maxInputBytes) {
    throw new InputRejectedError(
      RejectionCode.inputTooLarge,
      `the video is ${source.size} bytes; the limit is ${deps.settings.maxInputBytes}`,
    );
  }
  const ref = withVersion({ bucket: source.bucket, key: source.key }, source.versionId);
  await inspectVideo(source.size, (start, end) => deps.objects.readRange(ref, start, end));
}

/** Metadata, then sidecar, then the nearest folder preset (contract section 1). */
async function resolveVideoParams(
  deps: SubmitDeps,
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
  deps: SubmitDeps,
  bucket: string,
  videoKey: string,
): Promise<string | undefined> {
  const keys = await deps.objects.listKeys(bucket, `${videoKey}.`, SIDECAR_LISTING_KEYS);
  const sidecars = keys.filter((key) => isSidecarKeyOf(key, videoKey));
  return sidecars.find((key) => key === sidecarKeyOf(videoKey)) ?? sidecars[0];
}

async function readParamsDocument(
  deps: SubmitDeps,
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

async function createRejected(
  deps: SubmitDeps,
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

async function finishRejected(
  deps: SubmitDeps,
  job: Job,
  error: InputRejectedError,
  from: readonly JobStatus[],
): Promise<Job | undefined> {
  return finishTerminal(deps, job.jobId, JobStatus.rejected, jobErrorOf(error, 'submit'), from);
}

async function finishTerminal(
  deps: SubmitDeps,
  jobId: string,
  status: JobStatus,
  error: JobError,
  from: readonly JobStatus[],
): Promise<Job | undefined> {
  try {
    const job = await deps.jobs.update(
      jobId,
      { status, error, completedAt: deps.clock.now().toISOString() },
      { expectStatus: from },
    );
    deps.logger.info('job ended at submission', { jobId, status, code: error.code });
    return await publishTerminalEventOnce(deps, job);
  } catch (caught) {
    if (caught instanceof StaleTransitionError) return deps.jobs.get(jobId);
    throw caught;
  }
}

export function jobErrorOf(error: VidflowError, stage: JobError['stage']): JobError {
  const base = { code: error.code, message: error.message, stage, retryable: error.retryable };
  // A catalog rejection names its model and field; every other error keeps its historical shape.
  if (!(error instanceof InputRejectedError) || error.model === undefined) return base;
  return { ...base, model: error.model, ...(error.field === undefined ? {} : { field: error.field }) };
}

function newJob(deps: SubmitDeps, jobId: string, source: SourceObject, trigger: JobTrigger): Job {
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
