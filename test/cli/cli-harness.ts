/**
 * Helpers for the CLI tier: a local runtime started in-process on free ports over a temporary
 * data directory, and the `vidflow` executable run as a child process against it, as a user
 * runs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from '../../functions/domain/job.js';
import { type Runtime, type RuntimeOptions, startRuntime } from '../../local/runtime.js';
import { createClients, type RuntimeClients } from '../support/runtime-harness.js';

export { testClip } from '../support/runtime-harness.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const VIDFLOW = join(REPO_ROOT, 'bin/vidflow.js');

/** The emulator's time scale for this tier: a generation takes about two seconds. */
export const CLI_TIME_SCALE = 0.01;

export interface CliRuntime {
  readonly runtime: Runtime;
  readonly dataDir: string;
  readonly clients: RuntimeClients;
  /** Runs `vidflow --data-dir <dataDir> ...args`. */
  vidflow(args: readonly string[], options?: CliRunOptions): Promise<CliResult>;
  /** Starts `vidflow --data-dir <dataDir> ...args` and returns at once (for `--follow`). */
  spawnVidflow(args: readonly string[]): RunningCli;
  /** Reads the job record until `until` holds. */
  waitForJob(jobId: string, until: (job: Job) => boolean, timeoutMs?: number): Promise<Job>;
  stop(): Promise<void>;
}

export interface CliRunOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** @default 60 s */
  readonly timeoutMs?: number;
  /** Run with `env` only, not on top of this process's environment. */
  readonly clearEnv?: boolean;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export async function startCliRuntime(options: Omit<RuntimeOptions, 'dataDir'> = {}): Promise<CliRuntime> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-cli-'));
  const runtime = await startRuntime({
    ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 },
    asyncRetryDelaysMs: [500, 1000],
    ...options,
    emulator: { timeScale: CLI_TIME_SCALE, ...options.emulator },
    dataDir,
  });
  const clients = createClients(runtime.endpoints);
  return {
    runtime,
    dataDir,
    clients,
    vidflow: (args, runOptions) => runVidflow(['--data-dir', dataDir, ...args], runOptions),
    spawnVidflow: (args) => spawnVidflow(['--data-dir', dataDir, ...args]),
    waitForJob: async (jobId, until, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await clients.jobs.get(jobId);
        if (job !== undefined && until(job)) return job;
        if (Date.now() > deadline) {
          throw new Error(
            `job ${jobId} did not reach the expected state (last: ${job?.status ?? 'no record'})`,
          );
        }
        await sleep(100);
      }
    },
    stop: async () => {
      clients.close();
      await runtime.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `node bin/vidflow.js ...args` to its end. */
export function runVidflow(args: readonly string[], options: CliRunOptions = {}): Promise<CliResult> {
  const child = spawnVidflow(args, options.env, options.clearEnv);
  const timer = setTimeout(() => child.child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return child.exited.then((code) => {
    clearTimeout(timer);
    return { code, stdout: child.stdout(), stderr: child.stderr() };
  });
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches `pattern`. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export function spawnVidflow(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  clearEnv = false,
): RunningCli {
  const child = spawn(process.execPath, [VIDFLOW, ...args], {
    cwd: REPO_ROOT,
    env: clearEnv ? { ...env } : { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('close', (code) => resolveExit(code)),
  );
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForStdout: async (pattern, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stdout)) {
        if (child.exitCode !== null) throw new Error(`vidflow exited (${child.exitCode}): ${stderr}`);
        if (Date.now() > deadline) throw new Error(`stdout never matched ${pattern}:\n${stdout}\n${stderr}`);
        await sleep(100);
      }
    },
  };
}

/** Parses JSON-lines output. */
export function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);
}
