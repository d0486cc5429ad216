/**
 * The provider emulator: a local stand-in for the AI/ML API model `runway/gen4_aleph`
 * (the provider rules in `docs/conformance.md`, contract section 8). It speaks the same HTTP API, validates like
 * the provider, fetches the input from `video_url`, and after a realistic (scaled) delay serves a
 * real video of the requested frame size and duration, visibly derived from the input. State lives
 * under `dataDir`, so it survives restarts and crashes; faults are injected on demand.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_VIDEO_DATA_URI_CHARS, MAX_VIDEO_URL_BYTES } from '../../functions/domain/provider-limits.js';
import { NotAVideoError, probeVideo } from '../ffmpeg.js';
import { FaultInjector, type FaultRule, parseFaults } from './faults.js';
import { assertVideoMediaType, decodeDataUri, describeDataUri, fetchInput, InputError } from './input.js';
import { validateModelCreate } from './models/index.js';
import { createRandom, drawExponential, drawLogNormal, type Random } from './random.js';
import { renderGeneration } from './render.js';
import { EmulatorStore, type GenerationRecord, type InjectedOutput, type RequestLogEntry } from './store.js';
import { DEFAULT_DURATION, DEFAULT_FRAME_SIZE, MAX_SEED } from './validation.js';

export type { RequestLogEntry } from './store.js';

/** Environment variables the emulator reads for defaults. */
export const EmulatorEnvName = {
  timeScale: 'VIDFLOW_EMULATOR_TIME_SCALE',
  faults: 'VIDFLOW_EMULATOR_FAULTS',
  /** The account's credit balance; each generation costs its price. Unset: unlimited. */
  credits: 'VIDFLOW_EMULATOR_CREDITS',
} as const;

/** How a completed generation's `video` field is shaped (the provider's docs show all three). */
export type VideoShape = 'array' | 'object' | 'array-of-objects';

/** Options of {@link startEmulator}. */
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

/** A running emulator. */
export interface RunningEmulator {
  /** `http://host:port`, the base URL for the provider client. */
  readonly url: string;
  readonly port: number;
  /** Closes the server, drops hanging connections, stops renders and flushes state. */
  stop(): Promise<void>;
  /** The request log (persisted entries included). */
  requests(): RequestLogEntry[];
}

/** An emulator option or environment variable is invalid. */
export class EmulatorConfigError extends Error {
  override readonly name = 'EmulatorConfigError';
}

const API_PATHS = new Set(['/v2/video/generations', '/v2/generate/video/runway/generation']);
const OUTPUT_PATH = /^\/_emulator\/outputs\/([A-Za-z0-9-]+)\.mp4$/;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/**
 * How long the local runtime and `vidflow emulator` retry an input URL that refuses connections.
 * Real S3 does not go away, but the local one does while its runtime restarts, and the emulator
 * resumes a pending fetch at once: before that runtime's S3 listens again, or while it is down.
 */
export const LOCAL_INPUT_REFUSED_RETRY_SECONDS = 60;

/** Realistic timings (the provider's published example: about 3 min 30 s for a 5 s clip), before scaling. */
const QUEUE_MEAN_SECONDS = 20;
const PROCESSING_MEDIAN_SECONDS = 210;
const PROCESSING_SIGMA = 0.25;

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

/**
 * The documented error body, `{ message, path, requestId, statusCode, timestamp }`, keeping any
 * other field the emulator adds (`errors` of a validation failure).
 */
function documentedErrorBody(exchange: Exchange, status: number, body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  return {
    ...body,
    path: exchange.path,
    requestId: randomUUID(),
    statusCode: status,
    timestamp: new Date().toISOString(),
  };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isFinite(result) || result < 0) throw new EmulatorConfigError(`${name} must be a number >= 0`);
  return result;
}

const NOT_A_VIDEO_PAGE =
  '<!doctype html>\n<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>\n';

/** The output a `result:` fault describes, when it is one about the output. */
function injectedOutputOf(rule: FaultRule | undefined): InjectedOutput | undefined {
  if (rule === undefined) return undefined;
  if (rule.kind === 'url' && rule.value !== undefined) return { kind: 'url', url: rule.value };
  if (rule.kind === 'redirect' && rule.value !== undefined) return { kind: 'redirect', url: rule.value };
  if (rule.kind === 'not-video') return { kind: 'not-video' };
  if (rule.kind === 'oversize' && rule.value !== undefined)
    return { kind: 'oversize', bytes: Number(rule.value) };
  return undefined;
}

/** The video file, then `paddingBytes` zeros, read lazily. */
async function* paddedOutput(path: string, paddingBytes: number): AsyncGenerator<Buffer> {
  yield* createReadStream(path);
  const zeros = Buffer.alloc(64 * 1024);
  for (let left = paddingBytes; left > 0; left -= zeros.length) {
    yield left >= zeros.length ? zeros : zeros.subarray(0, left);
  }
}

/** Replaces every `data:` URI in a JSON value by its description, so logs never hold video bytes. */
function redact(value: unknown): unknown {
  if (typeof value === 'string') return /^data:[^,]*,/.test(value) ? describeDataUri(value) : value;
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redact(item)]));
  }
  return value;
}

function redactText(text: string): string {
  const replaced = text.replace(/data:[^,"\s]*,[^"\s]*/g, (uri) => describeDataUri(uri));
  return replaced.length > 2000 ? `${replaced.slice(0, 2000)}…<${text.length} characters>` : replaced;
}

class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLargeError(`request body exceeds ${MAX_BODY_BYTES} bytes`));
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** Limits concurrent renders. */
class Semaphore {
  private available: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.available = Math.max(1, size);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.available > 0) this.available -= 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.available += 1;
    }
  }
}

/** What one HTTP exchange records in the log. */
interface Exchange {
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  body?: unknown;
  generationId?: string;
}

type ProviderStatus = 'queued' | 'generating' | 'completed' | 'error';

/**
 * Starts the emulator and resolves once it listens. Generations left unfinished by a previous
 * process on the same `dataDir` resume (their input is fetched or their render restarted).
 * @throws EmulatorConfigError for invalid options; FaultSyntaxError for an invalid fault specification.
 */
export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const timeScale = readTimeScale(options.timeScale);
  const faultRules = parseFaults(options.faults ?? process.env[EmulatorEnvName.faults]);
  const random: Random = createRandom(options.seed);
  const faults = new FaultInjector(faultRules, random);
  const now = options.now ?? Date.now;
  const outputUrlTtlSeconds = positive('outputUrlTtlSeconds', options.outputUrlTtlSeconds, 3600);
  const creditsPerGeneration = positive('creditsPerGeneration', options.creditsPerGeneration, 40);
  const maxUrlInputBytes = positive('maxUrlInputBytes', options.maxUrlInputBytes, MAX_VIDEO_URL_BYTES);
  const maxDataUriChars = positive('maxDataUriChars', options.maxDataUriChars, MAX_VIDEO_DATA_URI_CHARS);
  let credits: number | undefined = readCredits(options.credits);
  const inputRefusedRetryMs =
    positive('inputRefusedRetrySeconds', options.inputRefusedRetrySeconds, 0) * 1000;
  const videoShape: VideoShape = options.videoShape ?? 'array';
  if (!['array', 'object', 'array-of-objects'].includes(videoShape)) {
    throw new EmulatorConfigError(`videoShape must be array, object or array-of-objects, got ${videoShape}`);
  }
  if (options.apiKey === '') throw new EmulatorConfigError('apiKey must not be empty');

  const store = await EmulatorStore.open(options.dataDir);
  const renderCacheDir = join(options.dataDir, 'render-cache');
  await mkdir(renderCacheDir, { recursive: true });
  const renders = new Semaphore(options.renderConcurrency ?? 2);
  const stopping = new AbortController();
  const processing = new Map<string, Promise<void>>();
  const sockets = new Set<Socket>();
  let baseUrl = '';

  // ---------------------------------------------------------------- generations

  function outputReady(record: GenerationRecord): boolean {
    return record.renderedAt !== undefined && existsSync(store.outputPath(record.id));
  }

  function statusOf(record: GenerationRecord, at: number): ProviderStatus {
    if (at < record.queuedUntil) return 'queued';
    if (record.failure) return 'error';
    if (record.injected === 'stuck') return 'generating';
    if (at < record.doneAt) return 'generating';
    if (record.injected === 'error') return 'error';
    return outputReady(record) ? 'completed' : 'generating';
  }

  function signOutput(id: string, expires: number): string {
    return createHmac('sha256', store.secret).update(`${id}.mp4:${expires}`).digest('hex');
  }

  function outputUrl(id: string): string {
    const expires = Math.floor(now() / 1000) + outputUrlTtlSeconds;
    const base = (options.publicUrl ?? baseUrl).replace(/\/+$/, '');
    return `${base}/_emulator/outputs/${id}.mp4?expires=${expires}&sig=${signOutput(id, expires)}`;
  }

  function shapeVideo(url: string): unknown {
    if (videoShape === 'object') return { url };
    if (videoShape === 'array-of-objects') return [{ url }];
    return [url];
  }

  function describeGeneration(record: GenerationRecord): Record<string, unknown> {
    const status = statusOf(record, now());
    const body: Record<string, unknown> = { id: record.id, status };
    if (status === 'completed') {
      const injected = record.injectedOutput;
      body.video = shapeVideo(injected?.kind === 'url' ? injected.url : outputUrl(record.id));
      body.meta = { usage: { credits_used: record.creditsUsed } };
    } else if (status === 'error') {
      const failure = record.failure ?? {
        name: 'GenerationFailedError',
        message: 'The generation failed (injected fault result:error)',
      };
      body.error = { name: failure.name, message: failure.message };
    }
    return body;
  }

  async function fail(id: string, name: string, message: string): Promise<void> {
    const record = store.getGeneration(id);
    if (!record) return;
    await store.saveGeneration({ ...record, failure: { name, message, at: now() } });
  }

  /** Fetches (if needed), checks and renders one generation. Safe to call again after a restart. */
  async function processGeneration(id: string): Promise<void> {
    const record = store.getGeneration(id);
    if (!record || record.failure || record.injected !== undefined) return;
    if (existsSync(store.outputPath(id))) {
      if (record.renderedAt === undefined) await store.saveGeneration({ ...record, renderedAt: now() });
      return;
    }
    const signal = stopping.signal;
    const inputPath = store.inputPath(id);
    try {
      if (!existsSync(inputPath)) {
        if (record.input.kind !== 'url') {
          await fail(id, 'InputFetchError', 'the input data was lost');
          return;
        }
        const fetches: { method: 'HEAD' | 'GET'; status: number }[] = [];
        try {
          const bytes = await fetchInput(record.input.url, {
            maxBytes: maxUrlInputBytes,
            signal,
            refusedRetryMs: inputRefusedRetryMs,
            onAnswer: (method, status) => fetches.push({ method, status }),
          });
          await store.saveInput(id, bytes);
        } finally {
          const current = store.getGeneration(id);
          if (current) await store.saveGeneration({ ...current, inputFetches: fetches });
        }
      }
      if (record.input.kind === 'data') assertVideoMediaType(record.input.mediaType);
      await probeVideo(inputPath);
      await renders.run(async () => {
        if (signal.aborted) throw signal.reason;
        const temporary = store.temporaryOutputPath(id);
        // The same input, prompt, seed, size and duration render the same pixels: render them
        // once (a load test drops hundreds of copies of one clip with one prompt).
        const cached = join(renderCacheDir, `${await renderKeyOf(inputPath, record.request)}.mp4`);
        try {
          if (existsSync(cached)) await copyFile(cached, temporary);
          else {
            await renderGeneration({
              inputPath,
              outputPath: temporary,
              frameSize: record.request.frameSize,
              durationSeconds: record.request.duration,
              prompt: record.request.prompt,
              seed: record.request.seed,
              signal,
            });
            await copyFile(temporary, `${cached}.${id}.tmp`);
            await rename(`${cached}.${id}.tmp`, cached);
          }
          await rename(temporary, store.outputPath(id));
        } finally {
          await rm(temporary, { force: true });
        }
      });
      const latest = store.getGeneration(id) ?? record;
      await store.saveGeneration({ ...latest, renderedAt: now() });
    } catch (error) {
      if (signal.aborted) return; // Stopping: the next start resumes this generation.
      if (error instanceof InputError) await fail(id, error.name, error.message);
      else if (error instanceof NotAVideoError) {
        await fail(id, 'InvalidInputError', 'video_url does not hold a video the model can read');
      } else
        await fail(id, 'RenderError', `rendering failed: ${error instanceof Error ? error.message : error}`);
    }
  }

  function schedule(id: string): void {
    if (processing.has(id)) return;
    const task = processGeneration(id).finally(() => processing.delete(id));
    processing.set(id, task);
  }

  // ---------------------------------------------------------------- HTTP helpers

  function record(exchange: Exchange, status: number, fault?: FaultRule): Promise<void> {
    const entry: RequestLogEntry = {
      at: exchange.at,
      method: exchange.method,
      path: exchange.path,
      query: exchange.query,
      ...(exchange.body === undefined ? {} : { body: exchange.body }),
      status,
      ...(fault ? { fault: fault.label } : {}),
      ...(exchange.generationId ? { generationId: exchange.generationId } : {}),
    };
    options.onRequest?.(entry);
    return store.appendRequest(entry);
  }

  function sendJson(
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text)),
      ...headers,
    });
    response.end(text);
  }

  async function answer(
    exchange: Exchange,
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<void> {
    await record(exchange, status);
    sendJson(response, status, status >= 400 ? documentedErrorBody(exchange, status, body) : body, headers);
  }

  /** Misbehaves as `fault` says, for the create and status calls. */
  async function injectApiFault(
    exchange: Exchange,
    response: ServerResponse,
    fault: FaultRule,
    successStatus: number,
  ): Promise<void> {
    const kind = fault.kind.replace(/-after-create$/, '');
    if (kind === 'timeout') {
      await record(exchange, 0, fault); // Never answered; stop() drops the connection.
      return;
    }
    if (kind === 'reset') {
      await record(exchange, 0, fault);
      response.socket?.destroy();
      return;
    }
    if (kind === 'malformed') {
      await record(exchange, successStatus, fault);
      const text = `{"id":"${exchange.generationId ?? randomUUID()}","status":`;
      response.writeHead(successStatus, {
        'Content-Type': 'application/json',
        'Content-Length': text.length,
      });
      response.end(text);
      return;
    }
    const status = fault.status ?? 500;
    await record(exchange, status, fault);
    const headers: Record<string, string> =
      fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) };
    const message =
      status === 429
        ? 'Too many requests, please slow down'
        : `Injected fault ${fault.label}: upstream error`;
    sendJson(response, status, documentedErrorBody(exchange, status, { message }), headers);
  }

  /** 401 without a Bearer key or with a wrong one; `undefined` when authorized. */
  function checkAuth(request: IncomingMessage): { status: 401; message: string } | undefined {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S.*)$/i.exec(header);
    if (!match)
      return { status: 401, message: 'Unauthorized: an Authorization: Bearer <API key> header is required' };
    const given = Buffer.from((match[1] ?? '').trim());
    const expected = Buffer.from(options.apiKey);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { status: 401, message: 'Unauthorized: the API key is not valid' };
    }
    return undefined;
  }

  // ---------------------------------------------------------------- routes

  async function handleCreate(request: IncomingMessage, response: ServerResponse, exchange: Exchange) {
    let raw: Buffer;
    try {
      raw = await readBody(request);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        await answer(exchange, response, 413, { message: error.message, errors: [] });
        return;
      }
      throw error;
    }
    let body: unknown;
    let parsed = true;
    try {
      body = JSON.parse(raw.toString('utf8'));
      exchange.body = redact(body);
    } catch {
      parsed = false;
      exchange.body = redactText(raw.toString('utf8'));
    }
    const denied = checkAuth(request);
    if (denied) {
      await answer(exchange, response, denied.status, { message: denied.message });
      return;
    }
    const fault = faults.pick('post');
    if (fault) {
      await injectApiFault(exchange, response, fault, 200);
      return;
    }
    if (!parsed) {
      const errors = [{ path: '', message: 'the body must be valid JSON' }];
      await answer(exchange, response, 400, {
        message: 'Invalid request: the body must be valid JSON',
        errors,
      });
      return;
    }
    const validation = validateModelCreate(body);
    if (!validation.ok) {
      const message = `Invalid request: ${validation.errors.map((e) => e.message).join('; ')}`;
      await answer(exchange, response, 400, { message, errors: validation.errors });
      return;
    }
    const value = validation.value;
    const id = randomUUID();
    let input: GenerationRecord['input'];
    if (value.video_url.startsWith('data:')) {
      if (value.video_url.length > maxDataUriChars) {
        const message = `video_url data URI is ${value.video_url.length} characters long as encoded; at most ${maxDataUriChars}`;
        await answer(exchange, response, 400, { message, errors: [{ path: 'video_url', message }] });
        return;
      }
      const data = decodeDataUri(value.video_url);
      await store.saveInput(id, data.bytes);
      input = { kind: 'data', mediaType: data.mediaType, bytes: data.bytes.length };
    } else {
      input = { kind: 'url', url: value.video_url };
    }
    if (credits !== undefined && credits < creditsPerGeneration) {
      await answer(exchange, response, 403, { message: "You've run out of credits" });
      return;
    }
    if (credits !== undefined) credits -= creditsPerGeneration;
    const createdAt = now();
    const queuedUntil =
      createdAt + Math.round(drawExponential(random, QUEUE_MEAN_SECONDS) * timeScale * 1000);
    const processingMs =
      drawLogNormal(random, PROCESSING_MEDIAN_SECONDS, PROCESSING_SIGMA) * timeScale * 1000;
    const resultFault = faults.pick('result', { prompt: value.prompt });
    const injected = resultFault?.kind;
    const injectedOutput = injectedOutputOf(resultFault);
    const generation: GenerationRecord = {
      id,
      createdAt,
      queuedUntil,
      doneAt: queuedUntil + Math.round(processingMs),
      request: {
        model: value.model,
        prompt: value.prompt,
        frameSize: value.frame_size ?? DEFAULT_FRAME_SIZE,
        duration: value.duration ?? DEFAULT_DURATION,
        seed: value.seed ?? Math.floor(random() * (MAX_SEED + 1)),
        references: value.references ?? [],
      },
      input,
      ...(injected === 'error' || injected === 'stuck' ? { injected } : {}),
      ...(injectedOutput === undefined ? {} : { injectedOutput }),
      creditsUsed: creditsPerGeneration,
    };
    await store.saveGeneration(generation);
    exchange.generationId = id;
    schedule(id);
    const afterCreate = faults.pick('post', { afterCreate: true });
    if (afterCreate) {
      await injectApiFault(exchange, response, afterCreate, 200);
      return;
    }
    await answer(exchange, response, 200, { id, status: 'queued' });
  }

  async function handlePoll(request: IncomingMessage, response: ServerResponse, exchange: Exchange) {
    request.resume();
    const denied = checkAuth(request);
    if (denied) {
      await answer(exchange, response, denied.status, { message: denied.message });
      return;
    }
    const id = exchange.query.generation_id;
    if (id) exchange.generationId = id;
    const fault = faults.pick('get');
    if (fault) {
      await injectApiFault(exchange, response, fault, 200);
      return;
    }
    if (!id) {
      const message = 'generation_id is required';
      await answer(exchange, response, 400, { message, errors: [{ path: 'generation_id', message }] });
      return;
    }
    const generation = store.getGeneration(id);
    if (!generation) {
      await answer(exchange, response, 404, { message: `Generation ${id} not found` });
      return;
    }
    await answer(exchange, response, 200, describeGeneration(generation));
  }

  async function sendXmlError(
    exchange: Exchange,
    response: ServerResponse,
    status: number,
    code: string,
    message: string,
    fault?: FaultRule,
  ): Promise<void> {
    await record(exchange, status, fault);
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    response.writeHead(status, {
      'Content-Type': 'application/xml',
      'Content-Length': Buffer.byteLength(text),
    });
    response.end(text);
  }

  async function handleOutput(
    request: IncomingMessage,
    response: ServerResponse,
    exchange: Exchange,
    id: string,
  ): Promise<void> {
    request.resume();
    const expiresText = exchange.query.expires ?? '';
    const sig = Buffer.from(exchange.query.sig ?? '');
    const expected = Buffer.from(signOutput(id, Number(expiresText)));
    exchange.generationId = id;
    if (!/^\d+$/.test(expiresText) || sig.length !== expected.length || !timingSafeEqual(sig, expected)) {
      await sendXmlError(exchange, response, 403, 'AccessDenied', 'Invalid signature');
      return;
    }
    if (now() > Number(expiresText) * 1000) {
      await sendXmlError(exchange, response, 403, 'AccessDenied', 'Request has expired');
      return;
    }
    const fault = faults.pick('output');
    const path = store.outputPath(id);
    const size = await stat(path).then(
      (s) => s.size,
      () => undefined,
    );
    if (fault) {
      const status = fault.status;
      if (fault.kind === 'expired') {
        await sendXmlError(exchange, response, 403, 'AccessDenied', 'Request has expired', fault);
      } else if (status !== undefined) {
        await sendXmlError(
          exchange,
          response,
          status,
          status === 404 ? 'NoSuchKey' : status === 403 ? 'AccessDenied' : 'InternalError',
          'Injected fault',
          fault,
        );
      } else if (fault.kind === 'reset') {
        await record(exchange, 0, fault);
        response.socket?.destroy();
      } else if (fault.kind === 'timeout') {
        await record(exchange, 0, fault);
      } else if (size === undefined) {
        await sendXmlError(exchange, response, 404, 'NoSuchKey', 'The specified key does not exist.');
      } else {
        // stall: headers then silence; truncate: half the promised bytes, then the connection drops.
        await record(exchange, 200, fault);
        response.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': String(size) });
        if (fault.kind === 'stall') response.flushHeaders();
        else if (request.method === 'HEAD') response.end();
        else {
          const half = (await readFile(path)).subarray(0, Math.floor(size / 2));
          response.write(half, () => response.socket?.destroy());
        }
      }
      return;
    }
    if (size === undefined) {
      await sendXmlError(exchange, response, 404, 'NoSuchKey', 'The specified key does not exist.');
      return;
    }
    const injected = store.getGeneration(id)?.injectedOutput;
    if (injected !== undefined && injected.kind !== 'url') {
      await serveInjectedOutput(request, response, exchange, injected, path, size);
      return;
    }
    await record(exchange, 200);
    response.writeHead(200, {
      'Content-Type': 'video/mp4',
      'Content-Length': String(size),
      'Accept-Ranges': 'none',
      'Cache-Control': 'private, max-age=0',
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    createReadStream(path).pipe(response);
  }

  /** An output download of a generation created under `result:redirect=`, `not-video` or `oversize=`. */
  async function serveInjectedOutput(
    request: IncomingMessage,
    response: ServerResponse,
    exchange: Exchange,
    injected: Exclude<InjectedOutput, { kind: 'url' }>,
    path: string,
    size: number,
  ): Promise<void> {
    if (injected.kind === 'redirect') {
      await record(exchange, 302);
      response.writeHead(302, { Location: injected.url, 'Content-Length': '0' });
      response.end();
      return;
    }
    if (injected.kind === 'not-video') {
      // A CDN's error page served with 200, as misconfigured edges do.
      await answerText(exchange, response, 200, 'text/html; charset=utf-8', NOT_A_VIDEO_PAGE);
      return;
    }
    const total = Math.max(injected.bytes, size);
    await record(exchange, 200);
    response.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': String(total) });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    // A client that refuses the announced length hangs up: that ends the pipeline, quietly.
    await pipeline(Readable.from(paddedOutput(path, total - size)), response).catch(() => undefined);
  }

  async function answerText(
    exchange: Exchange,
    response: ServerResponse,
    status: number,
    contentType: string,
    text: string,
  ): Promise<void> {
    await record(exchange, status);
    response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
    response.end(exchange.method === 'HEAD' ? undefined : text);
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://emulator');
    const method = request.method ?? 'GET';
    const exchange: Exchange = {
      at: new Date(now()).toISOString(),
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
    };
    if (url.pathname === '/_emulator/requests') {
      request.resume();
      if (method === 'DELETE') {
        await store.clearRequests();
        response.writeHead(204).end();
      } else sendJson(response, 200, store.requests());
      return;
    }
    if (url.pathname === '/_emulator/input-fetches') {
      request.resume();
      sendJson(
        response,
        200,
        store
          .listGenerations()
          .filter((generation) => generation.inputFetches !== undefined)
          .map((generation) => ({ generationId: generation.id, fetches: generation.inputFetches })),
      );
      return;
    }
    if (url.pathname === '/_emulator/credits') {
      if (method === 'POST') {
        const parsed: unknown = JSON.parse((await readBody(request)).toString('utf8') || '{}');
        const balance =
          typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'balance') : undefined;
        if (balance !== null && (typeof balance !== 'number' || !Number.isFinite(balance) || balance < 0)) {
          sendJson(response, 400, {
            message: 'expected {"balance": <credits, 0 or more>} or {"balance": null}',
          });
          return;
        }
        credits = balance ?? undefined;
      } else request.resume();
      sendJson(response, 200, { balance: credits ?? null });
      return;
    }
    if (url.pathname === '/_emulator/health') {
      request.resume();
      sendJson(response, 200, { ok: true });
      return;
    }
    const output = OUTPUT_PATH.exec(url.pathname);
    if (output && (method === 'GET' || method === 'HEAD')) {
      await handleOutput(request, response, exchange, output[1] ?? '');
      return;
    }
    if (API_PATHS.has(url.pathname) && method === 'POST') {
      await handleCreate(request, response, exchange);
      return;
    }
    if (API_PATHS.has(url.pathname) && method === 'GET') {
      await handlePoll(request, response, exchange);
      return;
    }
    request.resume();
    const status = API_PATHS.has(url.pathname) ? 405 : 404;
    await answer(exchange, response, status, {
      message: status === 405 ? 'Method not allowed' : 'Not found',
    });
  }

  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendJson(response, 500, { message: `Internal emulator error: ${String(error)}` });
      } else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;

  for (const generation of store.listGenerations()) schedule(generation.id);

  let stopped: Promise<void> | undefined;
  return {
    url: baseUrl,
    port: address.port,
    requests: () => store.requests(),
    stop: () => {
      stopped ??= (async () => {
        stopping.abort(new Error('emulator stopping'));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await closed;
        await Promise.allSettled(processing.values());
        await store.flush();
      })();
      return stopped;
    },
  };
}

/** What decides a render's pixels: the input's bytes and the request fields the render reads. */
async function renderKeyOf(
  inputPath: string,
  request: Pick<GenerationRecord['request'], 'frameSize' | 'duration' | 'prompt' | 'seed'>,
): Promise<string> {
  const { frameSize, duration, prompt, seed } = request;
  return createHash('sha256')
    .update(await readFile(inputPath))
    .update(JSON.stringify([frameSize, duration, prompt, seed]))
    .digest('hex');
}
