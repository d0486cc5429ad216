/**
 * The finalize use case: copy the provider's output into the output bucket, write the
 * record beside it and mark the job `COMPLETED`. Safe to run twice.
 */
import { pipeline, type Readable, Transform } from 'node:stream';
import {
  JobInvariantError,
  JobNotFoundError,
  ProviderMalformedResponseError,
  StaleTransitionError,
} from './errors.js';
import { isTerminal, type Job, JobStatus, outputKeysFor } from './job.js';
import { IsoStreamObserver } from './mp4-boxes.js';
import type {
  AdmissionStore,
  Clock,
  JobEvents,
  JobMetrics,
  JobStore,
  Logger,
  ObjectStore,
  OutputFetcher,
} from './ports.js';
import type { ProviderClient } from './provider.js';
import { publishTerminalEventOnce } from './terminal-event.js';

export interface FinalizeDeps {
  readonly jobs: JobStore;
  readonly admission: AdmissionStore;
  readonly objects: ObjectStore;
  readonly provider: ProviderClient;
  readonly fetcher: OutputFetcher;
  readonly events: JobEvents;
  /** Figures of the completed job. @default none */
  readonly metrics?: JobMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: { readonly outputBucket: string };
}

/**
 * Copy the output of the job's generation and complete the job.
 * @param videoUrl the output URL the check saw; when absent (or a rerun), the generation is
 *   read again for a fresh URL.
 * @throws the fetcher's errors (see {@link OutputFetcher.open}), StaleTransitionError when
 *   the job ended another way meanwhile, JobInvariantError when the job has no generation id,
 *   ProviderMalformedResponseError when the completed generation has no output URL.
 */
export async function finalizeJob(deps: FinalizeDeps, jobId: string, videoUrl?: string): Promise<Job> {
  const job = await deps.jobs.get(jobId);
  if (job === undefined) throw new JobNotFoundError(jobId);
  if (job.status === JobStatus.completed) {
    // A rerun after a crash between the status change and the record file: write it again. An
    // event lost the same way is the sweeper's (the pending-event index finds it whenever it ran):
    // sending it here could race the function still ending the job and send it twice.
    await writeRecordFile(deps, job);
    return job;
  }
  if (isTerminal(job.status)) throw new StaleTransitionError(`job ${jobId} already ended as ${job.status}`);
  if (job.generationId === undefined) throw new JobInvariantError(`job ${jobId} has no generation id`);

  const copying = await deps.jobs.update(
    jobId,
    { status: JobStatus.copying },
    { expectStatus: [JobStatus.submitted, JobStatus.generating, JobStatus.copying] },
  );
  let url = videoUrl;
  let creditsUsed = copying.creditsUsed;
  if (url === undefined) {
    const generation = await deps.provider.getGeneration(job.generationId);
    url = generation.videoUrl;
    creditsUsed = generation.creditsUsed ?? creditsUsed;
    if (url === undefined)
      throw new ProviderMalformedResponseError('the completed generation has no output URL');
  }

  const keys = outputKeysFor(job.source.key, jobId);
  const download = await deps.fetcher.open(url);
  const observer = new IsoStreamObserver();
  const uploaded = await deps.objects.upload(
    { bucket: deps.settings.outputBucket, key: keys.video },
    measured(download.body, observer),
    {
      contentType: 'video/mp4',
      ...(download.contentLength === undefined ? {} : { contentLength: download.contentLength }),
      metadata: {
        'job-id': jobId,
        'generation-id': job.generationId,
        'source-key': encodeURIComponent(job.source.key),
      },
    },
  );

  // The provider ignores the requested frame size: the record carries what the file really holds.
  const measuredTrack = observer.result();
  const completed = await deps.jobs.update(
    jobId,
    {
      status: JobStatus.completed,
      completedAt: deps.clock.now().toISOString(),
      output: {
        bucket: deps.settings.outputBucket,
        key: keys.video,
        size: uploaded.size,
        eTag: uploaded.eTag,
        contentType: 'video/mp4',
        ...(measuredTrack === undefined
          ? {}
          : {
              width: measuredTrack.width,
              height: measuredTrack.height,
              ...(measuredTrack.durationSeconds === undefined
                ? {}
                : { durationSeconds: roundMillis(measuredTrack.durationSeconds) }),
            }),
      },
      ...(creditsUsed === undefined ? {} : { creditsUsed }),
    },
    { expectStatus: [JobStatus.copying] },
  );
  await writeRecordFile(deps, completed);
  deps.logger.info('job completed', { jobId, outputKey: keys.video, bytes: uploaded.size });
  return publishTerminalEventOnce(deps, completed);
}

/**
 * The body passed through unchanged, its bytes shown to `observer` on the way (constant memory
 * but for the bounded `moov` box). An error of the body destroys the returned stream with it.
 */
function measured(body: Readable, observer: IsoStreamObserver): Readable {
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      observer.push(chunk);
      callback(null, chunk);
    },
  });
  pipeline(body, tap, () => {
    // Errors reach the upload through `tap`, which pipeline destroys with them.
  });
  return tap;
}

function roundMillis(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

async function writeRecordFile(deps: FinalizeDeps, job: Job): Promise<void> {
  const keys = outputKeysFor(job.source.key, job.jobId);
  await deps.objects.putJson({ bucket: deps.settings.outputBucket, key: keys.record }, toPublicRecord(job));
}

/**
 * The job record as users see it in `<jobId>.json` and in events: internal fields removed. The
 * trigger's `sequencer` is bookkeeping of the job's identity (job-identity.ts), not part of the
 * published record (events schema v1 has no such field).
 */
export function toPublicRecord(job: Job): Omit<Job, 'submissionClaim' | 'eventPublishedAt' | 'lastQueuedAt'> {
  const { submissionClaim: _claim, eventPublishedAt: _published, lastQueuedAt: _queued, ...record } = job;
  const { sequencer: _sequencer, ...trigger } = job.trigger;
  if (!isTerminal(job.status)) return { ...record, trigger };
  // The ETA belongs to a job in flight (the store removes it at the end; an older copy may still hold it).
  const { expectedCompletionAt: _eta, expectedCompletionP90At: _p90, ...ended } = record;
  return { ...ended, trigger };
}
