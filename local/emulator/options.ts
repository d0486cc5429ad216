/**
 * The emulator's options, their defaults and their validation: {@link resolveOptions} turns what
 * `startEmulator` is given (and the `VIDFLOW_EMULATOR_*` environment) into the settings the other
 * modules read, or fails the start with {@link EmulatorConfigError}.
 */
import { MAX_VIDEO_DATA_URI_CHARS, MAX_VIDEO_URL_BYTES } from '../../functions/domain/provider-limits.js';
import { type FaultRule, parseFaults } from './faults.js';
import { createRandom, type Random } from './random.js';
import type { RequestLogEntry } from './store.js';

/** Environment variables the emulator reads for defaults. */
export const EmulatorEnvName = {
  timeScale: 'VIDFLOW_EMULATOR_TIME_SCALE',
  faults: 'VIDFLOW_EMULATOR_FAULTS',
  /** The account's credit balance; each generation costs its price. Unset: unlimited. */
  credits: 'VIDFLOW_EMULATOR_CREDITS',
} as const;

/** How a completed generation's `video` field is shaped (the provider's docs show all three). */
export type VideoShape = 'array' | 'object' | 'array-of-objects';

/** Options of `startEmulator`. */
export interface EmulatorOptions {
  /** Where generations, inputs, outputs and the request log are kept. */
  readonly dataDir: string;
  /** The only Bearer key accepted: a missing or other key -> 401 (403 is out of credits). */
  readonly apiKey: string;
  /**
   * The account's credit balance: each generation costs `creditsPerGeneration`, taken when it is
   * created; a create the balance cannot pay answers 403 "You've run out of credits", as
   * documented. `POST /_emulator/credits {"balance": n}` sets it. @default env
   * VIDFLOW_EMULATOR_CREDITS, else unlimited
   */
  readonly credits?: number;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Multiplies the realistic queue and processing times. @default env VIDFLOW_EMULATOR_TIME_SCALE, else 0.05 */
  readonly timeScale?: number;
  /** Fault specification (see README). @default env VIDFLOW_EMULATOR_FAULTS, else none */
  readonly faults?: string;
  /** Seeds the PRNG behind processing times, default seeds and faults. @default a random seed */
  readonly seed?: number;
  /** Base of the output URLs handed out, when clients reach the emulator by another address. @default the server URL */
  readonly publicUrl?: string;
  /** Lifetime of an output URL, from the status response that handed it out. @default 3600 */
  readonly outputUrlTtlSeconds?: number;
  /** @default 'array' (`"video": ["https://..."]`, as in the provider's own example) */
  readonly videoShape?: VideoShape;
  /** Reported in `meta.usage.credits_used` of a completed generation. @default 40 */
  readonly creditsPerGeneration?: number;
  /** Largest input fetched from a URL. @default 32 MiB (Runway's limit by URL) */
  readonly maxUrlInputBytes?: number;
  /** Longest `video_url` data URI, counted as encoded. @default 16,000,000 (Runway: 16 MB) */
  readonly maxDataUriChars?: number;
  /**
   * How long a fetch of an input URL is retried, with backoff, while its server refuses
   * connections (see {@link LOCAL_INPUT_REFUSED_RETRY_SECONDS}). Other failures end the
   * generation in `error` at once. @default 0 (no retries, as a remote provider would not wait)
   */
  readonly inputRefusedRetrySeconds?: number;
  /** Renders running at once. @default 2 */
  readonly renderConcurrency?: number;
  /** Current time in epoch milliseconds; tests move it to expire URLs. @default Date.now */
  readonly now?: () => number;
  /** Called with every request log entry as it is recorded (the CLI prints them). */
  readonly onRequest?: (entry: RequestLogEntry) => void;
}

/** An emulator option or environment variable is invalid. */
export class EmulatorConfigError extends Error {
  override readonly name = 'EmulatorConfigError';
}

/**
 * How long the local runtime and `vidflow emulator` retry an input URL that refuses connections.
 * Real S3 does not go away, but the local one does while its runtime restarts, and the emulator
 * resumes a pending fetch at once: before that runtime's S3 listens again, or while it is down.
 */
export const LOCAL_INPUT_REFUSED_RETRY_SECONDS = 60;

/** The options with their defaults applied and checked. */
export interface EmulatorSettings {
  readonly timeScale: number;
  readonly faultRules: readonly FaultRule[];
  readonly random: Random;
  readonly now: () => number;
  readonly outputUrlTtlSeconds: number;
  readonly creditsPerGeneration: number;
  readonly maxUrlInputBytes: number;
  readonly maxDataUriChars: number;
  /** The starting balance; `undefined` is unlimited. */
  readonly credits: number | undefined;
  readonly inputRefusedRetryMs: number;
  readonly videoShape: VideoShape;
}

/**
 * Applies the defaults (options first, then the environment) and validates the result. The fault
 * rules are parsed and the PRNG seeded here, in this order, so a seeded run draws as it always did.
 *
 * @throws EmulatorConfigError for an invalid option or environment variable.
 * @throws FaultSyntaxError for an invalid fault specification.
 */
export function resolveOptions(options: EmulatorOptions): EmulatorSettings {
  const timeScale = readTimeScale(options.timeScale);
  const faultRules = parseFaults(options.faults ?? process.env[EmulatorEnvName.faults]);
  const random = createRandom(options.seed);
  const settings: EmulatorSettings = {
    timeScale,
    faultRules,
    random,
    now: options.now ?? Date.now,
    outputUrlTtlSeconds: positive('outputUrlTtlSeconds', options.outputUrlTtlSeconds, 3600),
    creditsPerGeneration: positive('creditsPerGeneration', options.creditsPerGeneration, 40),
    maxUrlInputBytes: positive('maxUrlInputBytes', options.maxUrlInputBytes, MAX_VIDEO_URL_BYTES),
    maxDataUriChars: positive('maxDataUriChars', options.maxDataUriChars, MAX_VIDEO_DATA_URI_CHARS),
    credits: readCredits(options.credits),
    inputRefusedRetryMs: positive('inputRefusedRetrySeconds', options.inputRefusedRetrySeconds, 0) * 1000,
    videoShape: options.videoShape ?? 'array',
  };
  if (!['array', 'object', 'array-of-objects'].includes(settings.videoShape)) {
    throw new EmulatorConfigError(
      `videoShape must be array, object or array-of-objects, got ${settings.videoShape}`,
    );
  }
  if (options.apiKey === '') throw new EmulatorConfigError('apiKey must not be empty');
  return settings;
}

function readTimeScale(option: number | undefined): number {
  const raw = option ?? process.env[EmulatorEnvName.timeScale];
  const value = raw === undefined || raw === '' ? 0.05 : Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new EmulatorConfigError(`time scale must be a number >= 0, got ${String(raw)}`);
  }
  return value;
}

function readCredits(option: number | undefined): number | undefined {
  const raw = option ?? process.env[EmulatorEnvName.credits];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new EmulatorConfigError(`${EmulatorEnvName.credits} must be a number >= 0, got "${raw}"`);
  }
  return value;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isFinite(result) || result < 0) throw new EmulatorConfigError(`${name} must be a number >= 0`);
  return result;
}
