/**
 * The emulator's worker: in the background of each generation, gets its input (a URL is fetched,
 * a data URI was stored at creation), checks it with ffprobe and renders the output with ffmpeg,
 * a few renders at a time. Each step's result is on disk, so the work of a generation interrupted
 * by a stop or a crash picks up where it was on the next start. A render is made once per input
 * bytes, prompt, seed, frame size and duration; later identical ones are copied from the cache.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NotAVideoError, probeVideo } from '../ffmpeg.js';
import { assertVideoMediaType, fetchInput, InputError } from './input.js';
import { renderGeneration } from './render.js';
import type { EmulatorStore, GenerationRecord } from './store.js';

export interface GenerationWorkerProps {
  readonly store: EmulatorStore;
  readonly now: () => number;
  /** Largest input fetched from a URL. */
  readonly maxUrlInputBytes: number;
  /** How long an input URL whose server refuses connections is retried. */
  readonly inputRefusedRetryMs: number;
  /** Renders running at once. */
  readonly renderConcurrency: number;
}

/** Runs the work of generations, one task per generation at a time. */
export class GenerationWorker {
  private readonly stopping = new AbortController();
  private readonly processing = new Map<string, Promise<void>>();
  private readonly renders: Semaphore;
  private readonly renderCacheDir: string;

  private constructor(private readonly props: GenerationWorkerProps) {
    this.renders = new Semaphore(props.renderConcurrency);
    this.renderCacheDir = join(props.store.dataDir, 'render-cache');
  }

  /** A worker whose render cache (`dataDir/render-cache/`) exists. */
  static async create(props: GenerationWorkerProps): Promise<GenerationWorker> {
    const worker = new GenerationWorker(props);
    await mkdir(worker.renderCacheDir, { recursive: true });
    return worker;
  }

  /** Starts the work of generation `id` unless it is already under way; never rejects. */
  schedule(id: string): void {
    if (this.processing.has(id)) return;
    const task = this.process(id).finally(() => this.processing.delete(id));
    this.processing.set(id, task);
  }

  /** Aborts fetches and renders: the next start resumes them. */
  abort(): void {
    this.stopping.abort(new Error('emulator stopping'));
  }

  /** Resolves once every task under way has ended. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.processing.values());
  }

  /** Fetches (if needed), checks and renders one generation. Safe to call again after a restart. */
  private async process(id: string): Promise<void> {
    const { store } = this.props;
    const record = store.getGeneration(id);
    if (!record || record.failure || record.injected !== undefined) return;
    if (existsSync(store.outputPath(id))) {
      if (record.renderedAt === undefined)
        await store.saveGeneration({ ...record, renderedAt: this.props.now() });
      return;
    }
    const signal = this.stopping.signal;
    const inputPath = store.inputPath(id);
    try {
      if (!existsSync(inputPath)) {
        if (record.input.kind !== 'url') {
          await this.fail(id, 'InputFetchError', 'the input data was lost');
          return;
        }
        await this.fetchInput(id, record.input.url, signal);
      }
      if (record.input.kind === 'data') assertVideoMediaType(record.input.mediaType);
      await probeVideo(inputPath);
      await this.renders.run(() => this.render(record, inputPath, signal));
      const latest = store.getGeneration(id) ?? record;
      await store.saveGeneration({ ...latest, renderedAt: this.props.now() });
    } catch (error) {
      if (signal.aborted) return; // Stopping: the next start resumes this generation.
      if (error instanceof InputError) await this.fail(id, error.name, error.message);
      else if (error instanceof NotAVideoError) {
        await this.fail(id, 'InvalidInputError', 'video_url does not hold a video the model can read');
      } else
        await this.fail(
          id,
          'RenderError',
          `rendering failed: ${error instanceof Error ? error.message : error}`,
        );
    }
  }

  /** Fetches a URL input into `inputs/`; the requests made are kept on the record, even on failure. */
  private async fetchInput(id: string, url: string, signal: AbortSignal): Promise<void> {
    const { store } = this.props;
    const fetches: { method: 'HEAD' | 'GET'; status: number }[] = [];
    try {
      const bytes = await fetchInput(url, {
        maxBytes: this.props.maxUrlInputBytes,
        signal,
        refusedRetryMs: this.props.inputRefusedRetryMs,
        onAnswer: (method, status) => fetches.push({ method, status }),
      });
      await store.saveInput(id, bytes);
    } finally {
      const current = store.getGeneration(id);
      if (current) await store.saveGeneration({ ...current, inputFetches: fetches });
    }
  }

  /** Renders into a temporary file (or copies from the cache), then moves it to `outputs/`. */
  private async render(record: GenerationRecord, inputPath: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    const { store } = this.props;
    const id = record.id;
    const temporary = store.temporaryOutputPath(id);
    // The same input, prompt, seed, size and duration render the same pixels: render them
    // once (a load test drops hundreds of copies of one clip with one prompt).
    const cached = join(this.renderCacheDir, `${await renderKeyOf(inputPath, record.request)}.mp4`);
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
  }

  /** Ends the generation in `error`: its status says so from `queuedUntil` on. */
  private async fail(id: string, name: string, message: string): Promise<void> {
    const record = this.props.store.getGeneration(id);
    if (!record) return;
    await this.props.store.saveGeneration({ ...record, failure: { name, message, at: this.props.now() } });
  }
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
