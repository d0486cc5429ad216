/**
 * The emulator's backend records: generations and their life cycle. A generation is created with
 * its whole timeline drawn up front (queued until `queuedUntil`, generating until `doneAt`), is
 * handed to the {@link GenerationWorker} to fetch its input and render its output, and has its
 * status derived from the clock on every read, so it stays right across restarts. The account's
 * credit balance, the one other piece of mutable state, lives here too.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { FaultInjector, FaultRule } from './faults.js';
import type { EmulatedCreate } from './models/index.js';
import type { EmulatorSettings } from './options.js';
import { drawExponential, drawLogNormal } from './random.js';
import type { EmulatorStore, GenerationRecord, InjectedOutput } from './store.js';
import { DEFAULT_DURATION, DEFAULT_FRAME_SIZE, MAX_SEED } from './validation.js';
import type { GenerationWorker } from './worker.js';

/** Realistic timings (the provider's published example: about 3 min 30 s for a 5 s clip), before scaling. */
const QUEUE_MEAN_SECONDS = 20;
const PROCESSING_MEDIAN_SECONDS = 210;
const PROCESSING_SIGMA = 0.25;

export type ProviderStatus = 'queued' | 'generating' | 'completed' | 'error';

/** Where an output URL fails its check: a bad signature, or a good one past its `expires`. */
export type OutputUrlCheck = 'valid' | 'invalid-signature' | 'expired';

export interface GenerationsProps {
  readonly store: EmulatorStore;
  readonly worker: GenerationWorker;
  readonly faults: FaultInjector;
  readonly settings: EmulatorSettings;
  /** The base of output URLs (`publicUrl`, else the server's URL once it listens). */
  readonly outputBaseUrl: () => string;
}

/** Every generation of one emulator, and the account that pays for them. */
export class Generations {
  private credits: number | undefined;

  constructor(private readonly props: GenerationsProps) {
    this.credits = props.settings.credits;
  }

  get(id: string): GenerationRecord | undefined {
    return this.props.store.getGeneration(id);
  }

  list(): GenerationRecord[] {
    return this.props.store.listGenerations();
  }

  /** The balance; `undefined` is unlimited. */
  get balance(): number | undefined {
    return this.credits;
  }

  /** Sets the balance (`POST /_emulator/credits`); `undefined` makes it unlimited. */
  setBalance(balance: number | undefined): void {
    this.credits = balance;
  }

  /** Takes one generation's price from the balance; false (nothing taken) when it cannot pay. */
  charge(): boolean {
    const price = this.props.settings.creditsPerGeneration;
    if (this.credits !== undefined && this.credits < price) return false;
    if (this.credits !== undefined) this.credits -= price;
    return true;
  }

  /**
   * Records a new generation and starts its work in the background. Its timeline is drawn here:
   * the queue time from an exponential distribution, the processing time from a log-normal one,
   * then any `result:` fault, then the default seed (the order a seeded run depends on).
   */
  async create(id: string, value: EmulatedCreate, input: GenerationRecord['input']): Promise<void> {
    const { random, timeScale, now, creditsPerGeneration } = this.props.settings;
    const createdAt = now();
    const queuedUntil =
      createdAt + Math.round(drawExponential(random, QUEUE_MEAN_SECONDS) * timeScale * 1000);
    const processingMs =
      drawLogNormal(random, PROCESSING_MEDIAN_SECONDS, PROCESSING_SIGMA) * timeScale * 1000;
    const resultFault = this.props.faults.pick('result', { prompt: value.prompt });
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
    await this.props.store.saveGeneration(generation);
    this.props.worker.schedule(id);
  }

  /** Restarts the work of every generation left unfinished by a previous process on the same data. */
  resumeAll(): void {
    for (const generation of this.list()) this.props.worker.schedule(generation.id);
  }

  /** The status call's answer: `{ id, status, video?, meta?, error? }`. */
  describe(record: GenerationRecord): Record<string, unknown> {
    const status = this.statusOf(record, this.props.settings.now());
    const body: Record<string, unknown> = { id: record.id, status };
    if (status === 'completed') {
      const injected = record.injectedOutput;
      body.video = this.shapeVideo(injected?.kind === 'url' ? injected.url : this.outputUrl(record.id));
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

  /** Checks an output URL's `expires` and `sig` for generation `id`. */
  checkOutputUrl(id: string, expiresText: string, signature: string): OutputUrlCheck {
    const sig = Buffer.from(signature);
    const expected = Buffer.from(this.signOutput(id, Number(expiresText)));
    if (!/^\d+$/.test(expiresText) || sig.length !== expected.length || !timingSafeEqual(sig, expected)) {
      return 'invalid-signature';
    }
    return this.props.settings.now() > Number(expiresText) * 1000 ? 'expired' : 'valid';
  }

  private statusOf(record: GenerationRecord, at: number): ProviderStatus {
    if (at < record.queuedUntil) return 'queued';
    if (record.failure) return 'error';
    if (record.injected === 'stuck') return 'generating';
    if (at < record.doneAt) return 'generating';
    if (record.injected === 'error') return 'error';
    return this.outputReady(record) ? 'completed' : 'generating';
  }

  private outputReady(record: GenerationRecord): boolean {
    return record.renderedAt !== undefined && existsSync(this.props.store.outputPath(record.id));
  }

  /** Keyed by `dataDir/secret`, so URLs handed out stay valid across restarts until they expire. */
  private signOutput(id: string, expires: number): string {
    return createHmac('sha256', this.props.store.secret).update(`${id}.mp4:${expires}`).digest('hex');
  }

  private outputUrl(id: string): string {
    const expires = Math.floor(this.props.settings.now() / 1000) + this.props.settings.outputUrlTtlSeconds;
    const base = this.props.outputBaseUrl().replace(/\/+$/, '');
    return `${base}/_emulator/outputs/${id}.mp4?expires=${expires}&sig=${this.signOutput(id, expires)}`;
  }

  private shapeVideo(url: string): unknown {
    const shape = this.props.settings.videoShape;
    if (shape === 'object') return { url };
    if (shape === 'array-of-objects') return [{ url }];
    return [url];
  }
}

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
