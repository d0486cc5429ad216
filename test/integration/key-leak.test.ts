/**
 * The provider key never leaves the Authorization header: whole local jobs (one that completes,
 * one whose generation fails, one whose POST is refused as unauthorized) run with a known,
 * distinctive key, and the key is then looked for everywhere vidflow writes or says something:
 * the runtime log and its echo, anything printed to stdout or stderr, the job records, the
 * terminal events, the error messages, every file under the data directory, and the provider
 * emulator's request log.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EnvName } from '../../functions/config/env-names.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { type RunningEmulator, startEmulator } from '../../local/emulator/index.js';
import { type Runtime, startRuntime } from '../../local/runtime.js';
import {
  createClients,
  emulatorRequests,
  putObject,
  type RuntimeClients,
  readJobEvents,
  TEST_TIME_SCALE,
  testClip,
  waitForJob,
} from '../support/runtime-harness.js';

const TEST_TIMEOUT_MS = 180_000;
/** Distinctive enough that any occurrence is the key itself. */
const PROVIDER_KEY = 'sk-vidflow-canary-3f9d2c7a41e84b06b5d1e0c9a7f26d13';
/** Its second half: catches a key cut short or split across a line. */
const KEY_TAIL = PROVIDER_KEY.slice(PROVIDER_KEY.length / 2);

function leaksKey(text: string): boolean {
  return text.includes(PROVIDER_KEY) || text.includes(KEY_TAIL);
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('the provider key', { timeout: TEST_TIMEOUT_MS }, () => {
  let dataDir: string;
  let emulatorDir: string;
  let emulator: RunningEmulator;
  let runtime: Runtime;
  let clients: RuntimeClients;
  const echoed: string[] = [];
  const printed: string[] = [];
  let jobs: Readonly<Record<'completed' | 'generationFailed' | 'unauthorized', Job>>;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vidflow-key-leak-'));
    emulatorDir = await mkdtemp(join(tmpdir(), 'vidflow-key-leak-provider-'));
    // Whatever the process prints while the jobs run (the runtime is in this process).
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      vi.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
        printed.push(String(chunk));
        return write(chunk, ...rest);
      }) as typeof stream.write);
    }
    // The emulator stands for the real provider, given the key as a user gives theirs (AIMLAPI_KEY):
    // the first POST is refused as unauthorized, the generation prompted "case-fail" ends in error.
    emulator = await startEmulator({
      dataDir: emulatorDir,
      apiKey: PROVIDER_KEY,
      timeScale: TEST_TIME_SCALE,
      faults: 'post:401:count=1,result:error:prompt=case-fail',
    });
    runtime = await startRuntime({
      dataDir,
      ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 },
      provider: { apiKey: PROVIDER_KEY, baseUrl: emulator.url },
      asyncRetryDelaysMs: [500, 1000],
      // A real provider's outputs are public HTTPS; the emulator's are on loopback.
      functionEnvironment: { [EnvName.downloadAllowedOrigins]: new URL(emulator.url).origin },
      echo: (line) => echoed.push(line),
    });
    clients = createClients(runtime.endpoints);
    const clip = await readFile(await testClip());
    const drop = async (key: string, prompt: string): Promise<Job> => {
      const jobId = await putObject(clients.s3, {
        bucket: runtime.endpoints.inputBucket,
        key,
        body: clip,
        metadata: { prompt },
      });
      return waitForJob(clients.jobs, jobId);
    };
    // One after the other: the unauthorized answer is the first POST's.
    const unauthorized = await drop('leak/unauthorized.mp4', 'case-unauthorized');
    const completed = await drop('leak/completed.mp4', 'case-ok');
    const generationFailed = await drop('leak/failed.mp4', 'case-fail');
    jobs = { completed, generationFailed, unauthorized };
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    vi.restoreAllMocks();
    clients?.close();
    await runtime?.stop();
    await emulator?.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(emulatorDir, { recursive: true, force: true });
  });

  it('was really used: one job completed, one failed at the provider, one was refused as unauthorized', () => {
    expect(jobs.completed.status).toBe(JobStatus.completed);
    expect(jobs.generationFailed).toMatchObject({
      status: JobStatus.failed,
      error: { code: 'GENERATION_FAILED', stage: 'generation' },
    });
    expect(jobs.unauthorized).toMatchObject({
      status: JobStatus.failed,
      error: { code: 'PROVIDER_AUTH_FAILED', stage: 'submit' },
    });
  });

  it('appears in no job record and no error message', async () => {
    for (const job of Object.values(jobs)) {
      const stored = await clients.jobs.get(job.jobId);
      expect(leaksKey(JSON.stringify(stored))).toBe(false);
      expect(leaksKey(`${job.error?.code} ${job.error?.message}`)).toBe(false);
    }
  });

  it('appears in no terminal event', async () => {
    const events = await readJobEvents(runtime.endpoints.eventsFile);
    expect(events.map((event) => event.detail.jobId).sort()).toStrictEqual(
      Object.values(jobs)
        .map((job) => job.jobId)
        .sort(),
    );
    for (const event of events) expect(leaksKey(JSON.stringify(event))).toBe(false);
  });

  it('appears in no line of runtime.log, of its echo, or of what the process printed', async () => {
    const log = (await readFile(join(dataDir, 'runtime.log'), 'utf8')).split('\n').filter(Boolean);
    expect(log.length).toBeGreaterThan(10);
    expect(log.filter(leaksKey)).toStrictEqual([]);
    expect(echoed.length).toBeGreaterThan(0);
    expect(echoed.filter(leaksKey)).toStrictEqual([]);
    expect(printed.filter(leaksKey)).toStrictEqual([]);
  });

  it('appears in no file under the data directory', async () => {
    const files = await filesUnder(dataDir);
    expect(files.map((file) => file.slice(dataDir.length + 1))).toContain('events.jsonl');
    const leaking: string[] = [];
    for (const file of files) {
      if (leaksKey((await readFile(file)).toString('latin1'))) leaking.push(file);
    }
    expect(leaking).toStrictEqual([]);
  });

  it("appears in no entry of the provider's request log, which saw it on every call", async () => {
    const entries = await emulatorRequests(emulator.url);
    expect(entries.filter((entry) => entry.method === 'POST').map((entry) => entry.status)).toStrictEqual([
      401, 200, 200,
    ]);
    for (const entry of entries) expect(leaksKey(JSON.stringify(entry))).toBe(false);
  });
});
