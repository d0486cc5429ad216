/**
 * `vidflow emulator`: runs the provider emulator alone, so the "remote" provider outlives the
 * runtime (a test can kill `vidflow dev` while generations keep progressing).
 */
import { join } from 'node:path';
import { EmulatorConfigError, LOCAL_INPUT_REFUSED_RETRY_SECONDS, type VideoShape } from './options.js';
import { type RunningEmulator, startEmulator } from './server.js';

/** Default key when `AIMLAPI_KEY` is not set: clients of the local runtime send the same default. */
export const DEFAULT_EMULATOR_API_KEY = 'local-dev-key';

/** Options of {@link runEmulatorCommand}, as the CLI parses them (numbers may arrive as strings). */
export interface EmulatorCommandOptions {
  /** @default 0 (a free port) */
  readonly port?: number | string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default '.vidflow/emulator' */
  readonly dataDir?: string;
  /** @default env AIMLAPI_KEY, else 'local-dev-key' */
  readonly apiKey?: string;
  /** @default env VIDFLOW_EMULATOR_TIME_SCALE, else 0.05 */
  readonly timeScale?: number | string;
  /** @default env VIDFLOW_EMULATOR_FAULTS */
  readonly faults?: string;
  readonly seed?: number | string;
  readonly publicUrl?: string;
  readonly videoShape?: VideoShape;
  /** Print each request as it is logged. */
  readonly verbose?: boolean;
  /** Print `{ "url": ... }` as JSON instead of a sentence. */
  readonly json?: boolean;
  /** @default process.stdout.write */
  readonly print?: (line: string) => void;
  /** Install SIGINT/SIGTERM handlers that stop the emulator gracefully. @default true */
  readonly handleSignals?: boolean;
}

function toNumber(name: string, value: number | string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(number)) throw new EmulatorConfigError(`${name} must be a number, got ${value}`);
  return number;
}

/**
 * Starts the emulator, prints its URL and resolves with it once it listens. On SIGINT or SIGTERM
 * it stops gracefully (state flushed), after which the process can exit on its own.
 * @throws EmulatorConfigError / FaultSyntaxError for invalid options.
 */
export async function runEmulatorCommand(options: EmulatorCommandOptions = {}): Promise<RunningEmulator> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dataDir = options.dataDir ?? join('.vidflow', 'emulator');
  const port = toNumber('port', options.port);
  const timeScale = toNumber('timeScale', options.timeScale);
  const seed = toNumber('seed', options.seed);
  const emulator = await startEmulator({
    dataDir,
    apiKey: options.apiKey ?? process.env.AIMLAPI_KEY ?? DEFAULT_EMULATOR_API_KEY,
    // The runtime whose S3 serves the inputs may be down for a restart while this keeps running.
    inputRefusedRetrySeconds: LOCAL_INPUT_REFUSED_RETRY_SECONDS,
    ...(port === undefined ? {} : { port }),
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(timeScale === undefined ? {} : { timeScale }),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    ...(seed === undefined ? {} : { seed }),
    ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
    ...(options.videoShape === undefined ? {} : { videoShape: options.videoShape }),
    ...(options.verbose
      ? {
          onRequest: (entry) =>
            print(
              `${entry.at} ${entry.method} ${entry.path} -> ${entry.status}${entry.fault ? ` (fault ${entry.fault})` : ''}`,
            ),
        }
      : {}),
  });
  if (options.json) print(JSON.stringify({ url: emulator.url, port: emulator.port, dataDir }));
  else print(`provider emulator (runway/gen4_aleph) listening on ${emulator.url} (data in ${dataDir})`);

  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (!options.json) print(`${signal}: stopping the provider emulator`);
      emulator.stop().catch((error: unknown) => {
        process.stderr.write(`emulator failed to stop cleanly: ${String(error)}\n`);
        process.exitCode = 1;
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return emulator;
}
