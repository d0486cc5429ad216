/**
 * The simulation checked against the real pipeline: jobs dropped into the local runtime with the
 * emulator's time scale on, then the polls and detection lag they actually got compared with
 * what the simulation predicts for the same policy settings and the same scaled distribution.
 *
 * - The settings are AWS's scaled by the time scale (floor at least 1 s: waits are whole seconds).
 * - The history is seeded with what the policy learns at steady state in the simulation (so the
 *   run measures the learned regime, not the first jobs' fallback), then grows as jobs finish.
 * - Measured per job: polls = the record's `pollCount`; lag = the check's GET that saw
 *   `completed` minus the moment the emulator's generation became complete (its `doneAt`, or
 *   its render's end when later), both on the emulator's clock.
 * - Simulated: the same policy code, learning from the same seeded history as the jobs go, (a) on
 *   the run's own jobs (their submission and completion times: "paired", which isolates what the
 *   runtime adds) and (b) on 10,000 fresh draws of the scaled distribution arriving as the uploads did.
 *
 * The same run gives the pipeline's overheads: S3 upload acknowledged -> provider POST (submit),
 * and completion seen -> `COMPLETED` recorded (finalize of a small output).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoCompletionHistoryStore } from '../functions/adapters/completion-history-store.js';
import { EnvName } from '../functions/config/env-names.js';
import { isTerminal, type Job, JobStatus } from '../functions/domain/job.js';
import type { CompletionHistory, PollPolicySettings } from '../functions/domain/poll-policy.js';
import { createLocalDynamoDbClient, createLocalS3Client } from '../local/aws-clients.js';
import type { RequestLogEntry } from '../local/emulator/index.js';
import type { GenerationRecord } from '../local/emulator/store.js';
import { makeTestClip } from '../local/ffmpeg.js';
import { startRuntime } from '../local/runtime.js';
import {
  AWS_SETTINGS,
  DEFAULT_DEADLINE_SECONDS,
  drawDurations,
  mean,
  poissonArrivals,
  quantile,
  REFERENCE_WORKLOAD,
  runStream,
  scaledWorkload,
  vidflowPolicy,
  type Workload,
} from './polling.js';

const FRAME_SIZE = '640:480';

export interface ValidationOptions {
  readonly jobs: number;
  readonly timeScale: number;
  /** Time between two uploads. */
  readonly uploadIntervalMs: number;
  readonly seed: number;
}

export interface ValidationFigures {
  readonly jobs: number;
  readonly completed: number;
  readonly timeScale: number;
  readonly settings: PollPolicySettings;
  readonly measured: { readonly pollsMean: number; readonly lagMeanSeconds: number };
  readonly simulatedPaired: { readonly pollsMean: number; readonly lagMeanSeconds: number };
  readonly simulatedFresh: { readonly pollsMean: number; readonly lagMeanSeconds: number };
  /** Mean completion time after submission: measured, and of the scaled distribution. */
  readonly completionMeanSeconds: { readonly measured: number; readonly distribution: number };
  /** Jobs whose emulator render ended after their drawn completion time (the emulator was busy). */
  readonly renderBound: number;
  /** Largest of |measured - simulated| / simulated over polls and lag, paired. */
  readonly maxRelativeError: number;
  /** The same against the fresh draws (includes the sampling noise of `jobs` jobs). */
  readonly maxRelativeErrorFresh: number;
  readonly wallSeconds: number;
}

export interface OverheadFigures {
  readonly jobs: number;
  readonly submitP50Ms: number;
  readonly submitP95Ms: number;
  readonly finalizeP50Ms: number;
  readonly finalizeP95Ms: number;
}

/** AWS's settings with every time multiplied by `scale`; waits stay whole seconds of at least 1. */
export function scaledSettings(scale: number): PollPolicySettings {
  const min = Math.max(1, Math.round(AWS_SETTINGS.minWaitSeconds * scale));
  return {
    minWaitSeconds: min,
    maxWaitSeconds: Math.max(min, Math.round(AWS_SETTINGS.maxWaitSeconds * scale)),
    checkCostSeconds: AWS_SETTINGS.checkCostSeconds * scale,
    typicalSeconds: AWS_SETTINGS.typicalSeconds * scale,
  };
}

export async function runValidation(
  options: ValidationOptions,
  log: (line: string) => void = () => {},
): Promise<{ readonly validation: ValidationFigures; readonly overhead: OverheadFigures }> {
  const settings = scaledSettings(options.timeScale);
  const deadline = Math.round(DEFAULT_DEADLINE_SECONDS * options.timeScale);
  const workload = scaledWorkload(REFERENCE_WORKLOAD, options.timeScale);

  const seeded = learnedHistory(settings, deadline, workload, options);

  const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-bench-validation-'));
  const started = performance.now();
  const runtime = await startRuntime({
    dataDir,
    ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 },
    emulator: { timeScale: options.timeScale, seed: options.seed },
    functionEnvironment: {
      [EnvName.pollMinSeconds]: String(settings.minWaitSeconds),
      [EnvName.pollMaxSeconds]: String(settings.maxWaitSeconds),
      [EnvName.pollCheckCostSeconds]: String(settings.checkCostSeconds),
      [EnvName.pollTypicalSeconds]: String(settings.typicalSeconds),
      [EnvName.jobTimeoutSeconds]: String(deadline),
      [EnvName.logLevel]: 'WARN',
      // Polling and pipeline overhead, not queueing behind the in-flight cap (section 5 measures that).
      [EnvName.maxInFlight]: '0',
    },
  });
  const dynamo = DynamoDBDocumentClient.from(
    createLocalDynamoDbClient({ endpoint: runtime.endpoints.dynamodb }),
  );
  const s3 = createLocalS3Client({ endpoint: runtime.endpoints.s3 });
  try {
    const history = new DynamoCompletionHistoryStore(dynamo, runtime.endpoints.jobsTable);
    for (const [slot, observation] of seeded.observations.entries())
      await history.record(FRAME_SIZE, slot, observation);

    const uploadedAt = await uploadClips(s3, runtime.endpoints.inputBucket, dataDir, options);
    log(`validation: ${options.jobs} uploads done`);

    const jobs = await waitForTerminal(
      dynamo,
      runtime.endpoints.jobsTable,
      options.jobs,
      deadline * 1000 + 60_000,
    );
    const emulator = runtime.emulator;
    if (emulator === undefined) throw new Error('the validation needs the provider emulator');
    const requests = emulator.requests();
    const rows = await Promise.all(
      jobs.map(async (job) =>
        measureJob(job, requests, join(dataDir, 'emulator', 'generations'), uploadedAt),
      ),
    );
    const measuredRows = rows.filter((row) => row !== undefined);

    const { paired, fresh, freshDurations } = simulate(settings, deadline, seeded, measuredRows, options);

    const measured = {
      pollsMean: mean(measuredRows.map((r) => r.polls)),
      lagMeanSeconds: mean(measuredRows.map((r) => r.lagSeconds)),
    };
    const simulatedPaired = {
      pollsMean: mean(paired.map((o) => o.polls)),
      lagMeanSeconds: mean(paired.filter((o) => !o.timedOut).map((o) => o.lagSeconds)),
    };
    const simulatedFresh = {
      pollsMean: mean(fresh.map((o) => o.polls)),
      lagMeanSeconds: mean(fresh.filter((o) => !o.timedOut).map((o) => o.lagSeconds)),
    };
    const relative = (a: number, b: number) => Math.abs(a - b) / b;
    const submit = measuredRows.map((r) => r.submitMs).filter((ms) => Number.isFinite(ms));
    const finalize = measuredRows.map((r) => r.finalizeMs);
    return {
      validation: {
        jobs: options.jobs,
        completed: measuredRows.length,
        timeScale: options.timeScale,
        settings,
        measured,
        simulatedPaired,
        simulatedFresh,
        completionMeanSeconds: {
          measured: mean(measuredRows.map((r) => r.completionSeconds)),
          distribution: mean(freshDurations),
        },
        renderBound: measuredRows.filter((r) => r.renderBound).length,
        maxRelativeError: Math.max(
          relative(measured.pollsMean, simulatedPaired.pollsMean),
          relative(measured.lagMeanSeconds, simulatedPaired.lagMeanSeconds),
        ),
        maxRelativeErrorFresh: Math.max(
          relative(measured.pollsMean, simulatedFresh.pollsMean),
          relative(measured.lagMeanSeconds, simulatedFresh.lagMeanSeconds),
        ),
        wallSeconds: (performance.now() - started) / 1000,
      },
      overhead: {
        jobs: measuredRows.length,
        submitP50Ms: quantile(submit, 0.5),
        submitP95Ms: quantile(submit, 0.95),
        finalizeP50Ms: quantile(finalize, 0.5),
        finalizeP95Ms: quantile(finalize, 0.95),
      },
    };
  } finally {
    s3.destroy();
    dynamo.destroy();
    await runtime.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * The same jobs (their submission times and completion times) through the same policy code,
 * learning from the same seeded history as the runtime did, in one simulated stream; and
 * 10,000 fresh draws of the workload.
 */
function simulate(
  settings: PollPolicySettings,
  deadline: number,
  seeded: CompletionHistory,
  measuredRows: readonly Pick<JobRow, 'submittedAtMs' | 'completionSeconds'>[],
  options: ValidationOptions,
) {
  const firstSubmitted = Math.min(...measuredRows.map((row) => row.submittedAtMs));
  const paired = runStream(
    vidflowPolicy(settings, deadline, seeded),
    measuredRows.map((row) => row.completionSeconds),
    {
      arrivals: measuredRows.map((row) => (row.submittedAtMs - firstSubmitted) / 1000),
      deadlineSeconds: deadline,
    },
  );
  const workload = scaledWorkload(REFERENCE_WORKLOAD, options.timeScale);
  const freshDurations = drawDurations(workload, 10_000, options.seed + 2);
  const fresh = runStream(vidflowPolicy(settings, deadline, seeded), freshDurations, {
    arrivals: poissonArrivals(freshDurations.length, options.uploadIntervalMs / 1000, options.seed + 5),
    deadlineSeconds: deadline,
  });
  return { paired, fresh, freshDurations };
}

/**
 * What the policy knows at steady state, learned in the simulation (completed jobs only: the
 * in-flight observations of the simulation's last moment would be stale in the runtime).
 */
function learnedHistory(
  settings: PollPolicySettings,
  deadline: number,
  workload: Workload,
  { seed, timeScale }: Pick<ValidationOptions, 'seed' | 'timeScale'>,
): CompletionHistory {
  const learner = vidflowPolicy(settings, deadline);
  const learnFrom = drawDurations(workload, 3000, seed + 1);
  runStream(learner, learnFrom, {
    arrivals: poissonArrivals(learnFrom.length, 5 * timeScale, seed + 4),
    deadlineSeconds: deadline,
  });
  return {
    observations: learner
      .history()
      .observations.filter((o) => o.bySeconds !== undefined)
      .map(({ afterSeconds, bySeconds }) => ({
        afterSeconds,
        ...(bySeconds === undefined ? {} : { bySeconds }),
      })),
  };
}

/** Uploads `options.jobs` one-second clips, `uploadIntervalMs` apart; when each was uploaded, by key. */
async function uploadClips(
  s3: S3Client,
  bucket: string,
  dataDir: string,
  options: ValidationOptions,
): Promise<Map<string, number>> {
  const clip = await readFile(
    await makeTestClip({ path: join(dataDir, 'clip.mp4'), seconds: 1, width: 320, height: 240 }),
  );
  const uploadedAt = new Map<string, number>();
  for (let i = 0; i < options.jobs; i += 1) {
    const key = `bench/clip-${String(i).padStart(4, '0')}.mp4`;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: clip,
        ContentType: 'video/mp4',
        Metadata: { prompt: 'bench: make it snow', 'frame-size': FRAME_SIZE },
      }),
    );
    uploadedAt.set(key, Date.now());
    await new Promise((resolve) => setTimeout(resolve, options.uploadIntervalMs));
  }
  return uploadedAt;
}

interface JobRow {
  readonly polls: number;
  readonly lagSeconds: number;
  /** When the generation became complete, in seconds after the job's submission. */
  readonly completionSeconds: number;
  readonly submittedAtMs: number;
  readonly submitMs: number;
  readonly finalizeMs: number;
  readonly renderBound: boolean;
}

async function measureJob(
  job: Job,
  requests: readonly RequestLogEntry[],
  generationsDir: string,
  uploadedAt: ReadonlyMap<string, number>,
): Promise<JobRow | undefined> {
  if (job.status !== JobStatus.completed || job.generationId === undefined || job.submittedAt === undefined) {
    return undefined;
  }
  if (job.completedAt === undefined) return undefined;
  const generation = JSON.parse(
    await readFile(join(generationsDir, `${job.generationId}.json`), 'utf8'),
  ) as GenerationRecord;
  const complete = Math.max(generation.doneAt, generation.renderedAt ?? generation.doneAt);
  const mine = requests.filter((r) => r.generationId === job.generationId);
  const statusGets = mine.filter((r) => r.method === 'GET' && r.path.startsWith('/v2/') && r.status === 200);
  const post = mine.find((r) => r.method === 'POST');
  const seen = statusGets.map((r) => Date.parse(r.at)).filter((at) => at >= complete);
  const detection = seen.length > 0 ? Math.min(...seen) : Number.NaN;
  const uploaded = uploadedAt.get(job.source.key);
  return {
    polls: job.pollCount,
    lagSeconds: (detection - complete) / 1000,
    completionSeconds: (complete - Date.parse(job.submittedAt)) / 1000,
    submittedAtMs: Date.parse(job.submittedAt),
    submitMs: post === undefined || uploaded === undefined ? Number.NaN : Date.parse(post.at) - uploaded,
    finalizeMs: Date.parse(job.completedAt) - detection,
    renderBound: (generation.renderedAt ?? 0) > generation.doneAt,
  };
}

async function waitForTerminal(
  dynamo: DynamoDBDocumentClient,
  table: string,
  count: number,
  timeoutMs: number,
): Promise<Job[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await scanJobs(dynamo, table);
    if (jobs.length >= count && jobs.every((job) => isTerminal(job.status))) return jobs;
    if (Date.now() > until)
      throw new Error(
        `only ${jobs.filter((j) => isTerminal(j.status)).length} of ${count} jobs ended in time`,
      );
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** Every job record of the table (the `#`-prefixed bookkeeping items left out). */
export async function scanJobs(dynamo: DynamoDBDocumentClient, table: string): Promise<Job[]> {
  const jobs: Job[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(new ScanCommand({ TableName: table, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) {
      if (String(item.jobId).startsWith('#')) continue;
      jobs.push(item as Job);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return jobs;
}
