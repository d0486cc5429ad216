/**
 * Helpers for the fault-injection tier (`test/faults`, issue 4): a local runtime with emulator
 * faults and a record of the S3 notifications it queued (to deliver them again), many drops at
 * once, the provider calls of the emulator's request log sorted by kind, the submit
 * dead-letter file, and a `vidflow dev` child process killed with SIGKILL at random moments.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { decodeS3Key } from '../../functions/adapters/s3-event.js';
import type { Job } from '../../functions/domain/job.js';
import type { RequestLogEntry } from '../../local/emulator/index.js';
import { PORT_ENV_NAMES, startRuntime } from '../../local/runtime.js';
import {
  createClients,
  generationPosts,
  isSettled,
  putObject,
  type RuntimeClients,
  type RuntimePorts,
  spawnVidflowDev,
  type TestRuntime,
  waitFor,
} from './runtime-harness.js';

/**
 * Function settings for every fault test: no in-flight cap (the load and crash tests must not
 * depend on it), and a provider timeout that a loaded machine's slow answer never reaches (a
 * POST timed out is ambiguous and never resent). Rows that inject timeouts shorten it.
 */
export const FAULT_FUNCTION_ENVIRONMENT: Readonly<Record<string, string>> = {
  VIDFLOW_MAX_IN_FLIGHT: '0',
  VIDFLOW_PROVIDER_TIMEOUT_MS: '10000',
};

export interface FaultRuntime extends TestRuntime {
  /** Every S3 notification queued for submit so far, in order (uploads only, not re-deliveries). */
  readonly notifications: readonly S3Event[];
}

export interface FaultRuntimeOptions {
  /** Emulator fault specification (see `local/emulator/README.md`). @default none */
  readonly faults?: string;
  /** Seeds the emulator's PRNG (times and fault draws). @default random */
  readonly seed?: number;
  /** @default 0.01 */
  readonly timeScale?: number;
  /** On top of {@link FAULT_FUNCTION_ENVIRONMENT}. */
  readonly functionEnvironment?: Readonly<Record<string, string>>;
  /** Lambda's async retry delays of submit. @default [500, 1000] */
  readonly asyncRetryDelaysMs?: readonly number[];
  /**
   * @default 20: longer than a submission of the tier holds its claim (4 quick refusals, at
   * most a few seconds apart), so the sweeper never takes a POST under way for an interrupted one.
   */
  readonly sweepGraceSeconds?: number;
  /** Whether the input bucket is versioned, as the AWS stack's own. @default false */
  readonly versionedInput?: boolean;
}

/** An in-process runtime on free ports over a fresh data directory, with emulator faults. */
export async function startFaultRuntime(options: FaultRuntimeOptions = {}): Promise<FaultRuntime> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-faults-'));
  const notifications: S3Event[] = [];
  const runtime = await startRuntime({
    dataDir,
    ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 },
    emulator: {
      timeScale: options.timeScale ?? 0.01,
      ...(options.faults === undefined ? {} : { faults: options.faults }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    },
    asyncRetryDelaysMs: options.asyncRetryDelaysMs ?? [500, 1000],
    functionEnvironment: { ...FAULT_FUNCTION_ENVIRONMENT, ...options.functionEnvironment },
    sweepGraceSeconds: options.sweepGraceSeconds ?? 20,
    onS3Event: (event) => notifications.push(event),
    ...(options.versionedInput ? { versionedInput: true } : {}),
  });
  const clients = createClients(runtime.endpoints);
  return {
    runtime,
    endpoints: runtime.endpoints,
    clients,
    dataDir,
    notifications,
    stop: async () => {
      clients.close();
      await runtime.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The queued notification of the object `key`, once the upload's event is on disk. */
export function notificationOf(rt: FaultRuntime, key: string): Promise<S3Event> {
  return waitFor(`the S3 notification of ${key}`, async () =>
    rt.notifications.find((event) =>
      event.Records.some((record) => decodeS3Key(record.s3.object.key) === key),
    ),
  );
}

/** The notifications of the object `key` received so far, in order. */
export function notificationsOf(rt: FaultRuntime, key: string): S3Event[] {
  return rt.notifications.filter((event) =>
    event.Records.some((record) => decodeS3Key(record.s3.object.key) === key),
  );
}

// ------------------------------------------------------------------ drops and jobs

/** Uploads one clip under each key, all at once, with a distinct prompt each; returns the job ids. */
export async function dropVideos(
  clients: RuntimeClients,
  bucket: string,
  clip: Uint8Array,
  keys: readonly string[],
): Promise<string[]> {
  return Promise.all(
    keys.map((key) =>
      putObject(clients.s3, {
        bucket,
        key,
        body: clip,
        metadata: { prompt: promptOf(key), 'frame-size': '640:480' },
      }),
    ),
  );
}

/** The prompt {@link dropVideos} gives a key: unique, so a POST in the log names its job. */
export function promptOf(key: string): string {
  return `fault suite ${key}`;
}

/**
 * Reads the records not yet settled (terminal, their event out: see `isSettled`) every
 * `intervalMs` until all are.
 * @throws when they are not within `timeoutMs`, with the statuses still in flight.
 */
export async function waitForTerminal(
  clients: RuntimeClients,
  jobIds: readonly string[],
  timeoutMs: number,
  intervalMs = 500,
): Promise<Job[]> {
  const deadline = Date.now() + timeoutMs;
  const done = new Map<string, Job>();
  for (;;) {
    const open = jobIds.filter((jobId) => !done.has(jobId));
    const read = await mapLimit(open, 25, (jobId) => clients.jobs.get(jobId));
    for (const job of read) if (job !== undefined && isSettled(job)) done.set(job.jobId, job);
    if (done.size === jobIds.length) return jobIds.map((jobId) => done.get(jobId) as Job);
    if (Date.now() > deadline) {
      const left = read.filter((job) => job === undefined || !isSettled(job));
      const summary = left.slice(0, 10).map((job) => (job === undefined ? 'no record' : JSON.stringify(job)));
      throw new Error(
        `${jobIds.length - done.size} of ${jobIds.length} jobs not settled after ${timeoutMs} ms: ${summary.join(', ')}`,
      );
    }
    await new Promise((resolvePause) => setTimeout(resolvePause, intervalMs));
  }
}

/** Runs `work` over `items`, at most `limit` at once, keeping the order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Counts of each `key` value, e.g. jobs by `status/code`. */
export function tally<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** `STATUS` or `STATUS/CODE`. */
export function outcomeOf(job: Job): string {
  return job.error === undefined ? job.status : `${job.status}/${job.error.code}`;
}

// ------------------------------------------------------------------ provider calls

/** The emulator's request log sorted by kind of call. */
export interface ProviderCalls {
  /** Every create request received, answered or not. */
  readonly posts: readonly RequestLogEntry[];
  /** Create requests that created (and charged) a generation, whatever was answered. */
  readonly paidPosts: readonly RequestLogEntry[];
  /** Status requests. */
  readonly gets: readonly RequestLogEntry[];
  /** Output downloads. */
  readonly downloads: readonly RequestLogEntry[];
  /** Calls the emulator faulted on purpose. */
  readonly faulted: readonly RequestLogEntry[];
}

export function sortProviderCalls(entries: readonly RequestLogEntry[]): ProviderCalls {
  const posts = generationPosts(entries);
  return {
    posts,
    paidPosts: posts.filter((entry) => entry.generationId !== undefined),
    gets: entries.filter((entry) => entry.method === 'GET' && entry.path.startsWith('/v2/')),
    downloads: entries.filter((entry) => entry.path.startsWith('/_emulator/outputs/')),
    faulted: entries.filter((entry) => entry.fault !== undefined),
  };
}

/** The prompt of a create request's body, which {@link promptOf} made unique per job. */
export function promptOfPost(entry: RequestLogEntry): string | undefined {
  const body = entry.body;
  if (typeof body !== 'object' || body === null || !('prompt' in body)) return undefined;
  return typeof body.prompt === 'string' ? body.prompt : undefined;
}

// ------------------------------------------------------------------ S3 and the dead-letter file

/** Every key of a bucket. */
export async function listKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        ...(token === undefined ? {} : { ContinuationToken: token }),
      }),
    );
    for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}

/** One line of the submit dead-letter file, as far as the tests read it. */
export interface DeadLetterLine {
  readonly condition: string;
  readonly attempts: number;
  readonly error: { readonly name: string; readonly message: string };
  readonly event: S3Event;
}

/** The submit function's dead letters (`<dataDir>/lambda/submit/dead-letters.jsonl`), none if absent. */
export async function readDeadLetters(dataDir: string): Promise<DeadLetterLine[]> {
  const text = await readFile(join(dataDir, 'lambda', 'submit', 'dead-letters.jsonl'), 'utf8').catch(
    (error: unknown) => {
      if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return '';
      throw error;
    },
  );
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as DeadLetterLine);
}

// ------------------------------------------------------------------ a child runtime killed at random

/** `vidflow dev` as a child process in its own process group, which a test kills with SIGKILL. */
export interface CrashableRuntime {
  readonly child: ChildProcess;
  /** Resolves when the endpoints file of this start exists (the runtime is ready). */
  ready(): Promise<boolean>;
  /** SIGKILL to the whole process group (ffmpeg renders included), then waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM to the process group, then waits for the exit. */
  stop(): Promise<void>;
  stderr(): string;
}

/**
 * Spawns `node bin/vidflow.js --data-dir <dataDir> dev --quiet` on fixed ports without waiting
 * for it to be ready, so a kill may land at any moment: during start-up, resume or work.
 */
export function spawnRuntime(
  dataDir: string,
  ports: RuntimePorts,
  env: Readonly<Record<string, string>>,
): CrashableRuntime {
  const portEnv = Object.fromEntries(
    (Object.entries(PORT_ENV_NAMES) as [keyof RuntimePorts, string][]).map(([service, name]) => [
      name,
      String(ports[service]),
    ]),
  );
  const { child, stderr, signal } = spawnVidflowDev(dataDir, [], { ...process.env, ...portEnv, ...env });
  return {
    child,
    ready: async () => {
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) return false;
        const text = await readFile(join(dataDir, 'endpoints.json'), 'utf8').catch(() => undefined);
        if (text?.trim().endsWith('}')) return true;
        await new Promise((resolvePause) => setTimeout(resolvePause, 100));
      }
    },
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    stderr,
  };
}
