/**
 * Helpers for the integration tier: a local runtime started by the test (in-process or as a
 * child `vidflow dev`), real SDK clients and the real AWS CLI against it, and ways to wait on
 * and inspect what the pipeline did (job records, emulator request log, events file).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { DynamoAdmissionStore } from '../../functions/adapters/admission-store.js';
import { DynamoJobStore } from '../../functions/adapters/job-store.js';
import { deriveJobId, isTerminal, type Job, type JobStatus } from '../../functions/domain/job.js';
import {
  createLocalDynamoDbClient,
  createLocalS3Client,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
} from '../../local/aws-clients.js';
import type { RequestLogEntry } from '../../local/emulator/index.js';
import { makeTestClip } from '../../local/ffmpeg.js';
import { type Endpoints, PORT_ENV_NAMES, type Runtime, startRuntime } from '../../local/runtime.js';

const run = promisify(execFile);
const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** Emulator time scale for the tier: a generation takes about 2 s plus its ffmpeg render. */
export const TEST_TIME_SCALE = 0.01;
/** How often job records are read while waiting. */
const POLL_INTERVAL_MS = 200;
/** Longest wait for one job, generous for a loaded 2-core machine. */
export const JOB_TIMEOUT_MS = 90_000;

// ------------------------------------------------------------------ clients

/** Real SDK clients for one runtime's endpoints. */
export interface RuntimeClients {
  readonly s3: S3Client;
  readonly dynamo: DynamoDBClient;
  /** The pipeline's own job store over the runtime's table (strongly consistent reads). */
  readonly jobs: DynamoJobStore;
  /** The pipeline's in-flight slots and credit reservations over the same table. */
  readonly admission: DynamoAdmissionStore;
  close(): void;
}

export function createClients(endpoints: Endpoints): RuntimeClients {
  const s3 = createLocalS3Client({ endpoint: endpoints.s3 });
  const dynamo = createLocalDynamoDbClient({ endpoint: endpoints.dynamodb });
  const documents = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  return {
    s3,
    dynamo,
    jobs: new DynamoJobStore(documents, endpoints.jobsTable),
    admission: new DynamoAdmissionStore(documents, endpoints.jobsTable),
    close: () => {
      s3.destroy();
      dynamo.destroy();
    },
  };
}

// ------------------------------------------------------------------ in-process runtime

export interface TestRuntime {
  readonly runtime: Runtime;
  readonly endpoints: Endpoints;
  readonly clients: RuntimeClients;
  readonly dataDir: string;
  /** Stops the runtime, closes the clients and removes the data directory. */
  stop(): Promise<void>;
}

export interface TestRuntimeOptions {
  /** @default TEST_TIME_SCALE */
  readonly timeScale?: number;
  /** Extra environment for every function. */
  readonly functionEnvironment?: Readonly<Record<string, string>>;
  /** The emulator's credit balance. @default unlimited */
  readonly emulatorCredits?: number;
  /** Emulator fault rules (local/emulator/README.md), e.g. `result:stuck:prompt=hold`. */
  readonly emulatorFaults?: string;
}

/** Starts a runtime on free ports over a fresh temporary data directory. */
export async function startTestRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-it-'));
  const runtime = await startRuntime({
    dataDir,
    ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 },
    emulator: {
      timeScale: options.timeScale ?? TEST_TIME_SCALE,
      ...(options.emulatorCredits === undefined ? {} : { credits: options.emulatorCredits }),
      ...(options.emulatorFaults === undefined ? {} : { faults: options.emulatorFaults }),
    },
    // Lambda's async retries of submit, scaled down: a retried upload must not wait minutes.
    asyncRetryDelaysMs: [500, 1000],
    ...(options.functionEnvironment === undefined
      ? {}
      : { functionEnvironment: options.functionEnvironment }),
  });
  const clients = createClients(runtime.endpoints);
  return {
    runtime,
    endpoints: runtime.endpoints,
    clients,
    dataDir,
    stop: async () => {
      clients.close();
      await runtime.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ child-process runtime

/** `vidflow dev` running as a child process, as a user runs it. */
export interface RuntimeProcess {
  readonly endpoints: Endpoints;
  readonly child: ChildProcess;
  /** What the child wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** SIGKILL to its process group, as a crash would: nothing is flushed or closed. */
  kill(): Promise<void>;
  /** SIGTERM to its process group and wait for the exit. */
  stop(): Promise<void>;
}

export type RuntimePorts = Readonly<Record<keyof typeof PORT_ENV_NAMES, number>>;

/**
 * Starts `node bin/vidflow.js --data-dir <dataDir> dev --quiet` and resolves once it wrote a
 * fresh `<dataDir>/endpoints.json` (an old one is deleted first). With `ports`, the servers
 * listen there (through the `VIDFLOW_PORT_*` variables), else on random ports (`--random-ports`).
 * @throws when the child exits or does not get ready within `timeoutMs`.
 */
export async function startRuntimeProcess(
  dataDir: string,
  options: {
    readonly ports?: RuntimePorts;
    readonly env?: Readonly<Record<string, string>>;
    readonly timeoutMs?: number;
  } = {},
): Promise<RuntimeProcess> {
  const endpointsFile = join(dataDir, 'endpoints.json');
  await rm(endpointsFile, { force: true });
  const portEnv: Record<string, string> = {};
  for (const [service, name] of Object.entries(PORT_ENV_NAMES) as [keyof RuntimePorts, string][]) {
    if (options.ports !== undefined) portEnv[name] = String(options.ports[service]);
  }
  const {
    child,
    stderr,
    signal: waitExit,
  } = spawnVidflowDev(dataDir, options.ports === undefined ? ['--random-ports'] : [], {
    ...withoutPortEnv(process.env),
    ...portEnv,
    ...options.env,
  });

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `vidflow dev exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${stderr()}`,
        );
      }
      const endpoints = await readEndpoints(endpointsFile);
      if (endpoints !== undefined) {
        return {
          endpoints,
          child,
          stderr,
          kill: () => waitExit('SIGKILL'),
          stop: () => waitExit('SIGTERM'),
        };
      }
      if (Date.now() > deadline) throw new Error(`vidflow dev was not ready in time:\n${stderr()}`);
      await pause(POLL_INTERVAL_MS);
    }
  } catch (error) {
    await waitExit('SIGKILL');
    throw error;
  }
}

/**
 * Spawns `node bin/vidflow.js --data-dir <dataDir> dev --quiet [extraArgs]` in its own process
 * group (so a kill also takes the ffmpeg renders it spawned, as a crash of the whole runtime would,
 * and no orphan outlives the test), keeping the last 20,000 characters of its stderr.
 * `signal` sends a signal to the group and resolves once the child exited.
 */
export function spawnVidflowDev(
  dataDir: string,
  extraArgs: readonly string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; stderr: () => string; signal: (name: NodeJS.Signals) => Promise<void> } {
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'bin/vidflow.js'), '--data-dir', dataDir, 'dev', '--quiet', ...extraArgs],
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = `${stderr}${chunk}`.slice(-20_000);
  });
  const exited = new Promise<void>((resolveExit) => {
    if (child.exitCode !== null || child.signalCode !== null) resolveExit();
    else child.once('exit', () => resolveExit());
  });
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, name);
      } catch (error) {
        // ESRCH: the group is already gone and its exit not yet reported; `exited` settles soon.
        if (!(error instanceof Error && 'code' in error && error.code === 'ESRCH')) throw error;
      }
    }
    await exited;
  };
  return { child, stderr: () => stderr, signal };
}

function withoutPortEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const names: readonly string[] = Object.values(PORT_ENV_NAMES);
  return Object.fromEntries(Object.entries(env).filter(([name]) => !names.includes(name)));
}

/**
 * Ports free on 127.0.0.1 right now (each bound to port 0, then released), for a runtime that
 * must come back on the same ports after a restart.
 */
export async function findFreePorts(): Promise<RuntimePorts> {
  const servers = await Promise.all(
    Object.keys(PORT_ENV_NAMES).map(
      () =>
        new Promise<Server>((resolveListen, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolveListen(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolveClose) => server.close(resolveClose))));
  const [s3 = 0, dynamodb = 0, stepFunctions = 0, provider = 0] = ports;
  return { s3, dynamodb, stepFunctions, provider };
}

const endpointsSchema = z.looseObject({
  region: z.string(),
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  s3: z.url(),
  dynamodb: z.url(),
  stepfunctions: z.url(),
  provider: z.url(),
  inputBucket: z.string(),
  outputBucket: z.string(),
  jobsTable: z.string(),
  stateMachineArn: z.string(),
  eventsFile: z.string(),
});

/** The endpoints file, or undefined while it is missing or still being written. */
async function readEndpoints(path: string): Promise<Endpoints | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return endpointsSchema.parse(JSON.parse(text));
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ waiting on jobs

/**
 * A job is settled when it is terminal AND its terminal event is out (`eventPublishedAt`): the
 * event is the last thing a job end does (after the record, the `<jobId>.json` record file and the
 * release of its slot), so a test that waits for this never reads an effect that is still on its
 * way. Waiting for the status alone races with those last steps.
 */
export const isSettled = (job: Job): boolean => isTerminal(job.status) && job.eventPublishedAt !== undefined;
export const hasStatus =
  (...statuses: readonly JobStatus[]) =>
  (job: Job): boolean =>
    statuses.includes(job.status);

/**
 * Reads the job record every 200 ms until `until` holds (by default: the job is settled, see
 * {@link isSettled}).
 * @throws when it does not within `timeoutMs`, naming the last status seen.
 */
export async function waitForJob(
  jobs: DynamoJobStore,
  jobId: string,
  until: (job: Job) => boolean = isSettled,
  timeoutMs = JOB_TIMEOUT_MS,
): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await jobs.get(jobId);
    if (job !== undefined && until(job)) return job;
    if (Date.now() > deadline) {
      const seen = job === undefined ? 'no record' : `${job.status} ${JSON.stringify(job.error ?? {})}`;
      throw new Error(`job ${jobId} did not reach the expected state in ${timeoutMs} ms (last: ${seen})`);
    }
    await pause(POLL_INTERVAL_MS);
  }
}

/** Waits until `check` returns a value other than undefined, polling every 200 ms. */
export async function waitFor<T>(
  description: string,
  check: () => Promise<T | undefined>,
  timeoutMs = JOB_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await pause(POLL_INTERVAL_MS);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolvePause) => setTimeout(resolvePause, ms));
}

// ------------------------------------------------------------------ S3

/** The job id the pipeline gives the current version of an object, from a HeadObject. */
export async function jobIdOf(s3: S3Client, bucket: string, key: string): Promise<string> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  if (head.ETag === undefined || head.LastModified === undefined) {
    throw new Error(`HeadObject of ${key} returned no ETag or Last-Modified`);
  }
  return deriveJobId({
    bucket,
    key,
    eTag: head.ETag.replaceAll('"', ''),
    lastModified: head.LastModified.toISOString(),
    ...(head.VersionId && head.VersionId !== 'null' ? { versionId: head.VersionId } : {}),
  });
}

/** PutObject, then the job id of the new version. */
export async function putObject(
  s3: S3Client,
  input: {
    readonly bucket: string;
    readonly key: string;
    readonly body: Uint8Array | string;
    readonly contentType?: string;
    readonly metadata?: Readonly<Record<string, string>>;
  },
): Promise<string> {
  await s3.send(
    new PutObjectCommand({
      Bucket: input.bucket,
      Key: input.key,
      Body: input.body,
      ContentType: input.contentType ?? 'video/mp4',
      ...(input.metadata === undefined ? {} : { Metadata: { ...input.metadata } }),
    }),
  );
  return jobIdOf(s3, input.bucket, input.key);
}

export async function getObject(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{
  readonly bytes: Uint8Array;
  readonly metadata: Record<string, string>;
  readonly contentType?: string;
}> {
  const result = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (result.Body === undefined) throw new Error(`GetObject of ${key} returned no body`);
  return {
    bytes: await result.Body.transformToByteArray(),
    metadata: result.Metadata ?? {},
    ...(result.ContentType === undefined ? {} : { contentType: result.ContentType }),
  };
}

/** Whether the object exists, from a HeadObject. */
export async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if (error instanceof Error && (error.name === 'NotFound' || error.name === 'NoSuchKey')) return false;
    throw error;
  }
}

// ------------------------------------------------------------------ emulator request log

const API_PATHS = ['/v2/video/generations', '/v2/generate/video/runway/generation'];

/** The emulator's request log, read over HTTP as any client would. */
export async function emulatorRequests(providerUrl: string): Promise<RequestLogEntry[]> {
  const response = await fetch(`${providerUrl}/_emulator/requests`);
  if (!response.ok) throw new Error(`GET /_emulator/requests answered ${response.status}`);
  return z.array(requestLogEntrySchema).parse(await response.json());
}

const requestLogEntrySchema = z.looseObject({
  at: z.string(),
  method: z.string(),
  path: z.string(),
  query: z.record(z.string(), z.string()),
  body: z.unknown().optional(),
  status: z.number(),
  fault: z.string().optional(),
  generationId: z.string().optional(),
});

/** The create (paid) calls in a request log. */
export function generationPosts(entries: readonly RequestLogEntry[]): RequestLogEntry[] {
  return entries.filter((entry) => entry.method === 'POST' && API_PATHS.includes(entry.path));
}

/** The create calls whose `video_url` is a presigned URL of `bucket/key`. */
export function postsForObject(
  entries: readonly RequestLogEntry[],
  bucket: string,
  key: string,
): RequestLogEntry[] {
  return generationPosts(entries).filter((entry) => videoUrlObjectOf(entry) === `${bucket}/${key}`);
}

/**
 * `bucket/key` of a create call's presigned video URL (path-style), or undefined: `video_url`, or
 * `reference.url` for `runway/act_two`, which takes the drop's video as its performance reference.
 */
export function videoUrlObjectOf(entry: RequestLogEntry): string | undefined {
  const body = z
    .union([
      z.looseObject({ video_url: z.string() }).transform((value) => value.video_url),
      z
        .looseObject({ reference: z.looseObject({ url: z.string() }) })
        .transform((value) => value.reference.url),
    ])
    .safeParse(entry.body);
  if (!body.success || body.data.startsWith('data:')) return undefined;
  return decodeURIComponent(new URL(body.data).pathname.slice(1));
}

// ------------------------------------------------------------------ events

const jobEventSchema = z.looseObject({
  source: z.string(),
  detailType: z.string(),
  time: z.string(),
  detail: z.looseObject({ jobId: z.string(), status: z.string(), schemaVersion: z.number() }),
});

export type JobEventLine = z.infer<typeof jobEventSchema>;

/** Every event in the runtime's `events.jsonl` (none when the file does not exist yet). */
export async function readJobEvents(eventsFile: string): Promise<JobEventLine[]> {
  const text = await readFile(eventsFile, 'utf8').catch((error: unknown) => {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return '';
    throw error;
  });
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => jobEventSchema.parse(JSON.parse(line)));
}

export async function eventsOfJob(eventsFile: string, jobId: string): Promise<JobEventLine[]> {
  return (await readJobEvents(eventsFile)).filter((event) => event.detail.jobId === jobId);
}

// ------------------------------------------------------------------ AWS CLI

/**
 * Runs the real AWS CLI with the local credentials and region, isolated from any user
 * configuration. Returns stdout parsed as JSON (undefined when empty), checked against `schema`
 * when one is given.
 * @throws when `aws` exits non-zero (with its stderr), or the output does not match.
 */
export async function awsCli(args: readonly string[]): Promise<unknown>;
export async function awsCli<T>(args: readonly string[], schema: z.ZodType<T>): Promise<T>;
export async function awsCli<T>(args: readonly string[], schema?: z.ZodType<T>): Promise<unknown> {
  const scratch = await mkdtemp(join(tmpdir(), 'vidflow-awscli-'));
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
  );
  try {
    const { stdout } = await run('aws', [...args], {
      maxBuffer: 16 * 1024 * 1024,
      env: {
        ...inherited,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: LOCAL_REGION,
        AWS_CONFIG_FILE: join(scratch, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'credentials'),
        AWS_PAGER: '',
        PYTHONIOENCODING: 'utf-8',
      },
    });
    const parsed: unknown = stdout.trim() === '' ? undefined : JSON.parse(stdout);
    return schema === undefined ? parsed : schema.parse(parsed);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ clips

const CLIP_CACHE_DIR = join(tmpdir(), 'vidflow-test-clips');

/**
 * A small H.264 MP4 test clip, made once per machine and shared by every test file (cached
 * under the system temporary directory; written to a temporary name, then renamed).
 */
export async function testClip(
  options: { readonly seconds?: number; readonly width?: number; readonly height?: number } = {},
): Promise<string> {
  const { seconds = 2, width = 320, height = 240 } = options;
  const path = join(CLIP_CACHE_DIR, `testsrc2-${width}x${height}-${seconds}s.mp4`);
  if (await isNonEmptyFile(path)) return path;
  const temporary = `${path}.${process.pid}.tmp.mp4`;
  await makeTestClip({ path: temporary, seconds, width, height });
  await rename(temporary, path);
  return path;
}

/**
 * A valid MP4 of at least `minBytes`: the test clip followed by a top-level `free` box of zeros
 * (ISO/IEC 14496-12 allows free space anywhere at the top level), for multipart uploads.
 */
export async function paddedTestClip(minBytes: number): Promise<string> {
  const clip = await readFile(await testClip());
  const paddingBytes = Math.max(8, minBytes - clip.length);
  const path = join(CLIP_CACHE_DIR, `testsrc2-padded-${minBytes}.mp4`);
  if (await isNonEmptyFile(path)) return path;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(paddingBytes, 0);
  header.write('free', 4, 'latin1');
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w');
  try {
    await file.write(clip);
    await file.write(header);
    await file.write(Buffer.alloc(paddingBytes - 8));
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  return path;
}

async function isNonEmptyFile(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isFile() && info.size > 0,
    () => false,
  );
}
