/**
 * Scale: many drops at once into the local runtime with an in-flight cap, every job followed to
 * its end (issue 6, section 5).
 *
 * - All `jobs` clips are uploaded at once (the S3 client's sockets bound it, not the bench), each
 *   with a prompt in its metadata, into a runtime whose functions run with
 *   `VIDFLOW_MAX_IN_FLIGHT = cap`; the emulator's time scale makes a generation last seconds.
 * - While it runs, the slot holders (`#admission#slots`) are read every `sampleIntervalMs`
 *   (`maxHolders`); the end of the run is seen in the terminal events file.
 * - After the run, from the job records, the emulator's generation files and its request log,
 *   exactly: `maxInFlight` = the most jobs at once between their provider POST (the generation's
 *   `createdAt`) and their terminal record (`statusChangedAt`; the slot is given back after it),
 *   `maxAtProvider` the same for [createdAt, doneAt]; `duplicates` = generation POSTs minus
 *   jobs with a generation; one job record per drop.
 * - `wallRatio` = wall / ideal. Wall: the first upload's start to the last terminal record.
 *   Ideal: the makespan of the generations' own durations (`doneAt - createdAt`, as the emulator
 *   drew them) list-scheduled in drop order (job `createdAt`) onto `cap` slots with no overhead
 *   (each job starts the moment the earliest slot frees). The gap is vidflow's overhead.
 * - Where a slot's time goes, per job (means): the generation itself, the wait for the emulator's
 *   render past `doneAt` (the emulator's CPU, not vidflow), detection lag (the first status GET
 *   after completion minus completion), finalize (that GET to the terminal record: copy and
 *   record), and hand-off (the k-th terminal record to the (cap + k)-th POST: slot release,
 *   terminal event, "Let waiting jobs in", admit, claim, POST).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAdmissionStore } from '../functions/adapters/admission-store.js';
import { EnvName } from '../functions/config/env-names.js';
import { isTerminal, type Job, JobStatus } from '../functions/domain/job.js';
import type { PollPolicySettings } from '../functions/domain/poll-policy.js';
import { createLocalDynamoDbClient, createLocalS3Client } from '../local/aws-clients.js';
import type { RequestLogEntry } from '../local/emulator/index.js';
import type { GenerationRecord } from '../local/emulator/store.js';
import { makeTestClip } from '../local/ffmpeg.js';
import { startRuntime } from '../local/runtime.js';
import { mean, quantile } from './polling.js';
import { scaledSettings, scanJobs } from './validation.js';

const FRAME_SIZE = '640:480';
/** The S3 client's default socket limit: more PUTs at once would only queue in the client. */
const UPLOAD_SOCKETS = 50;
const GENERATION_PATHS = ['/v2/video/generations', '/v2/generate/video/runway/generation'];

export interface ScaleOptions {
  readonly jobs: number;
  /** `VIDFLOW_MAX_IN_FLIGHT`. */
  readonly cap: number;
  readonly timeScale: number;
  readonly seed: number;
  /** @default 100 */
  readonly sampleIntervalMs?: number;
  /**
   * The poll policy's settings. @default AWS's scaled by the time scale (as in the validation);
   * with `maxWaitSeconds` given, the tail wait lowered to it and a check made nearly free, so the
   * policy checks at the floor (planned waits have no cap).
   */
  readonly maxWaitSeconds?: number;
}

/** Means per job, in seconds: where a slot's time goes. */
export interface SlotTimeSeconds {
  readonly generation: number;
  readonly renderWait: number;
  readonly detectionLag: number;
  readonly finalize: number;
  readonly handoff: number;
  readonly handoffP95: number;
}

export interface ScaleFigures {
  readonly measured: true;
  readonly mode: string;
  readonly jobs: number;
  readonly terminal: number;
  readonly completed: number;
  readonly duplicates: number;
  readonly generationPosts: number;
  /** Drops without exactly one job record. */
  readonly dropsWithoutOneJob: number;
  /** Exact, after the run: jobs between their POST and their terminal record at once. */
  readonly maxInFlight: number;
  /** Exact: generations between created and done at the emulator at once. */
  readonly maxAtProvider: number;
  /** Sampled every `sampleIntervalMs`: the slot holders. */
  readonly maxHolders: number;
  readonly samples: number;
  readonly sampleIntervalMs: number;
  readonly cap: number;
  readonly timeScale: number;
  readonly pollSettings: PollPolicySettings;
  readonly wallSeconds: number;
  readonly idealSeconds: number;
  readonly wallRatio: number;
  readonly ideal: string;
  /**
   * The same ideal with each generation lasting until the emulator could first answer `completed`
   * (its render may end after `doneAt` when its CPU falls behind), and wall over it: the emulator's
   * render backlog taken out of the gap.
   */
  readonly idealWithRenderSeconds: number;
  readonly wallRatioWithRender: number;
  /** From the first upload's start to the cap-th POST (uploads, submit, first admissions). */
  readonly startupSeconds: number;
  readonly uploadSeconds: number;
  readonly slotTimeSeconds: SlotTimeSeconds;
  /** Generations whose render ended after their drawn `doneAt`. */
  readonly renderBound: number;
  readonly runSeconds: number;
}

/**
 * Run `jobs` drops at once through a local runtime capped at `cap` in flight.
 * @throws when the jobs do not all end within three ideal makespans plus two minutes.
 */
export async function runScaleBenchmark(
  options: ScaleOptions,
  log: (line: string) => void = () => {},
): Promise<ScaleFigures> {
  const started = performance.now();
  const sampleIntervalMs = options.sampleIntervalMs ?? 100;
  const scaled = scaledSettings(options.timeScale);
  const pollSettings: PollPolicySettings =
    options.maxWaitSeconds === undefined
      ? scaled
      : {
          ...scaled,
          maxWaitSeconds: Math.max(scaled.minWaitSeconds, options.maxWaitSeconds),
          checkCostSeconds: 0.01,
        };
  const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-bench-scale-'));
  const runtime = await startRuntime({
    dataDir,
    ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 },
    emulator: { timeScale: options.timeScale, seed: options.seed },
    functionEnvironment: {
      [EnvName.maxInFlight]: String(options.cap),
      [EnvName.pollMinSeconds]: String(pollSettings.minWaitSeconds),
      [EnvName.pollMaxSeconds]: String(pollSettings.maxWaitSeconds),
      [EnvName.pollInitialSeconds]: String(pollSettings.maxWaitSeconds),
      [EnvName.pollCheckCostSeconds]: String(pollSettings.checkCostSeconds),
      [EnvName.pollTypicalSeconds]: String(pollSettings.typicalSeconds),
      [EnvName.logLevel]: 'WARN',
    },
  });
  const dynamo = DynamoDBDocumentClient.from(
    createLocalDynamoDbClient({ endpoint: runtime.endpoints.dynamodb }),
  );
  const s3 = createLocalS3Client({ endpoint: runtime.endpoints.s3 });
  try {
    const emulator = runtime.emulator;
    if (emulator === undefined) throw new Error('the scale benchmark needs the provider emulator');
    const admission = new DynamoAdmissionStore(dynamo, runtime.endpoints.jobsTable);
    const clip = await readFile(
      await makeTestClip({ path: join(dataDir, 'clip.mp4'), seconds: 1, width: 320, height: 240 }),
    );
    const keys = Array.from(
      { length: options.jobs },
      (_, i) => `scale/clip-${String(i).padStart(4, '0')}.mp4`,
    );

    const firstUpload = Date.now();
    await uploadAll(s3, runtime.endpoints.inputBucket, keys, clip);
    const uploadSeconds = (Date.now() - firstUpload) / 1000;
    log(`scale: ${options.jobs} uploads acknowledged in ${uploadSeconds.toFixed(1)} s`);

    const { maxHolders, samples } = await sampleUntilEnded(
      admission,
      runtime.endpoints.eventsFile,
      options,
      sampleIntervalMs,
      log,
    );

    const jobs = await scanJobs(dynamo, runtime.endpoints.jobsTable);
    const requests = emulator.requests();
    const generationsDir = join(dataDir, 'emulator', 'generations');
    const generations = new Map<string, GenerationRecord>();
    for (const job of jobs) {
      if (job.generationId === undefined) continue;
      generations.set(
        job.generationId,
        JSON.parse(
          await readFile(join(generationsDir, `${job.generationId}.json`), 'utf8'),
        ) as GenerationRecord,
      );
    }
    return {
      ...measureRun(options, jobs, keys, generations, requests, firstUpload),
      mode: `${options.jobs} drops, cap ${options.cap}`,
      maxHolders,
      samples,
      sampleIntervalMs,
      pollSettings,
      uploadSeconds: round(uploadSeconds, 2),
      runSeconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    s3.destroy();
    dynamo.destroy();
    await runtime.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** As fast as the client goes: as many PUTs in flight as it has sockets, in key order. */
async function uploadAll(
  s3: S3Client,
  bucket: string,
  keys: readonly string[],
  clip: Uint8Array,
): Promise<void> {
  let next = 0;
  const uploader = async () => {
    for (let i = next++; i < keys.length; i = next++) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: keys[i],
          Body: clip,
          ContentType: 'video/mp4',
          Metadata: { prompt: 'bench: paint it as a watercolor', 'frame-size': FRAME_SIZE },
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: UPLOAD_SOCKETS }, uploader));
}

/**
 * Sample the slot holders until every drop has its terminal event.
 * @throws when they have not all ended within three ideal makespans plus two minutes.
 */
async function sampleUntilEnded(
  admission: DynamoAdmissionStore,
  eventsFile: string,
  options: ScaleOptions,
  sampleIntervalMs: number,
  log: (line: string) => void,
): Promise<{ readonly maxHolders: number; readonly samples: number }> {
  const timeoutMs = (3 * (options.jobs / options.cap) * 240 * options.timeScale + 120) * 1000;
  const until = Date.now() + timeoutMs;
  let maxHolders = 0;
  let samples = 0;
  let lastEventsRead = 0;
  let lastProgress = Date.now();
  for (;;) {
    const holders = await admission.slotHolders();
    maxHolders = Math.max(maxHolders, holders.size);
    samples += 1;
    if (Date.now() - lastEventsRead >= 1000) {
      lastEventsRead = Date.now();
      const ended = await countTerminalEvents(eventsFile);
      if (Date.now() - lastProgress >= 30_000) {
        lastProgress = Date.now();
        log(`scale: ${ended}/${options.jobs} ended, ${holders.size} holding a slot`);
      }
      if (ended >= options.jobs) return { maxHolders, samples };
      if (Date.now() > until) throw new Error(`scale: only ${ended} of ${options.jobs} jobs ended in time`);
    }
    await new Promise((resolve) => setTimeout(resolve, sampleIntervalMs));
  }
}

type RunMeasures = Omit<
  ScaleFigures,
  'mode' | 'maxHolders' | 'samples' | 'sampleIntervalMs' | 'pollSettings' | 'uploadSeconds' | 'runSeconds'
>;

function measureRun(
  options: ScaleOptions,
  jobs: readonly Job[],
  keys: readonly string[],
  generations: ReadonlyMap<string, GenerationRecord>,
  requests: readonly RequestLogEntry[],
  firstUpload: number,
): RunMeasures {
  const perKey = new Map<string, number>();
  for (const job of jobs) perKey.set(job.source.key, (perKey.get(job.source.key) ?? 0) + 1);
  const dropsWithoutOneJob = keys.filter((key) => perKey.get(key) !== 1).length;
  const terminal = jobs.filter((job) => isTerminal(job.status));
  const posts = requests.filter((r) => r.method === 'POST' && GENERATION_PATHS.includes(r.path));
  const withGeneration = jobs.filter((job) => job.generationId !== undefined);

  const statusGets = new Map<string, number[]>();
  for (const r of requests) {
    if (r.generationId === undefined || r.method !== 'GET' || !r.path.startsWith('/v2/') || r.status !== 200)
      continue;
    statusGets.set(r.generationId, [...(statusGets.get(r.generationId) ?? []), Date.parse(r.at)]);
  }
  const endOf = (job: Job) => Date.parse(job.statusChangedAt);
  const rows = withGeneration.flatMap((job) => {
    const generation = job.generationId === undefined ? undefined : generations.get(job.generationId);
    if (generation === undefined) return [];
    const complete = Math.max(generation.doneAt, generation.renderedAt ?? generation.doneAt);
    const seen = (statusGets.get(generation.id) ?? []).filter((at) => at >= complete);
    const detection = seen.length > 0 ? Math.min(...seen) : Number.NaN;
    return [{ job, generation, complete, detection, end: endOf(job) }];
  });

  // Exact concurrency from the intervals: a start at the same instant as an end counts after it.
  const maxOverlap = (intervals: readonly (readonly [number, number])[]) => {
    const events = intervals.flatMap(([from, to]) => [
      [from, 1],
      [to, -1],
    ]) as [number, number][];
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let most = 0;
    for (const [, delta] of events) {
      now += delta;
      most = Math.max(most, now);
    }
    return most;
  };
  const maxInFlight = maxOverlap(rows.map((r) => [r.generation.createdAt, r.end] as const));
  const maxAtProvider = maxOverlap(rows.map((r) => [r.generation.createdAt, r.generation.doneAt] as const));

  // The ideal: the drawn durations in drop order on `cap` slots, no overhead.
  const inDropOrder = [...rows].sort((a, b) => Date.parse(a.job.createdAt) - Date.parse(b.job.createdAt));
  const makespanMs = listScheduleMakespan(
    inDropOrder.map((row) => row.generation.doneAt - row.generation.createdAt),
    options.cap || rows.length,
  );
  const makespanWithRenderMs = listScheduleMakespan(
    inDropOrder.map((row) => row.complete - row.generation.createdAt),
    options.cap || rows.length,
  );
  const lastEnd = Math.max(...terminal.map(endOf));
  const wallMs = lastEnd - firstUpload;

  const postTimes = rows.map((r) => r.generation.createdAt).sort((a, b) => a - b);
  const endTimes = rows.map((r) => r.end).sort((a, b) => a - b);
  const handoffs = postTimes.slice(options.cap).map((post, k) => (post - (endTimes[k] ?? post)) / 1000);
  const seconds = (values: readonly number[]) => round(mean(values.filter(Number.isFinite)) / 1000, 3);

  return {
    measured: true,
    jobs: options.jobs,
    terminal: terminal.length,
    completed: jobs.filter((job) => job.status === JobStatus.completed).length,
    duplicates: posts.length - withGeneration.length,
    generationPosts: posts.length,
    dropsWithoutOneJob,
    maxInFlight,
    maxAtProvider,
    cap: options.cap,
    timeScale: options.timeScale,
    wallSeconds: round(wallMs / 1000, 1),
    idealSeconds: round(makespanMs / 1000, 1),
    wallRatio: round(wallMs / makespanMs, 3),
    idealWithRenderSeconds: round(makespanWithRenderMs / 1000, 1),
    wallRatioWithRender: round(wallMs / makespanWithRenderMs, 3),
    ideal:
      "makespan of the generations' drawn durations (doneAt - createdAt) list-scheduled in drop order onto cap slots with no overhead",
    startupSeconds: round(
      ((postTimes[Math.min(options.cap, postTimes.length) - 1] ?? firstUpload) - firstUpload) / 1000,
      2,
    ),
    slotTimeSeconds: {
      generation: seconds(rows.map((r) => r.generation.doneAt - r.generation.createdAt)),
      renderWait: seconds(rows.map((r) => r.complete - r.generation.doneAt)),
      detectionLag: seconds(rows.map((r) => r.detection - r.complete)),
      finalize: seconds(rows.map((r) => r.end - r.detection)),
      handoff: round(mean(handoffs), 3),
      handoffP95: round(quantile(handoffs, 0.95), 3),
    },
    renderBound: rows.filter((r) => r.complete > r.generation.doneAt).length,
  };
}

/**
 * Greedy list scheduling: each duration, in order, starts the moment the earliest of `slots`
 * frees. Returns when the last one ends.
 */
export function listScheduleMakespan(durations: readonly number[], slots: number): number {
  const freeAt = Array.from({ length: Math.max(1, slots) }, () => 0);
  let makespan = 0;
  for (const duration of durations) {
    const earliest = freeAt.indexOf(Math.min(...freeAt));
    const finish = (freeAt[earliest] ?? 0) + duration;
    freeAt[earliest] = finish;
    makespan = Math.max(makespan, finish);
  }
  return makespan;
}

async function countTerminalEvents(eventsFile: string): Promise<number> {
  const text = await readFile(eventsFile, 'utf8').catch(() => '');
  const ended = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const event = JSON.parse(line) as { detail?: { jobId?: unknown } };
      if (typeof event.detail?.jobId === 'string') ended.add(event.detail.jobId);
    } catch {
      // A line being appended as we read: the next read has it whole.
    }
  }
  return ended.size;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
