/**
 * The emulator's state on disk, so that it behaves like a remote service across restarts and
 * crashes of the process: one JSON file per generation (written to a temporary file and renamed,
 * so a `kill -9` never leaves half a record), the request log as append-only JSON lines (a torn
 * last line is skipped on load), the stored inputs and rendered outputs, and the URL-signing secret.
 *
 * Layout under `dataDir`: `generations/<id>.json`, `requests.jsonl`, `inputs/<id>.bin`,
 * `outputs/<id>.mp4`, `secret`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One call the emulator received, as `GET /_emulator/requests` lists it. */
export interface RequestLogEntry {
  /** When the request arrived, ISO 8601 UTC. */
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The JSON body (or its text, when not JSON), with every `data:` URI replaced by a short description. */
  readonly body?: unknown;
  /** The HTTP status answered; 0 when no answer was sent (injected timeout or reset). */
  readonly status: number;
  /** The injected fault, as configured: `get:429`, `post:timeout-after-create`. */
  readonly fault?: string;
  /** The generation this request created or asked about, when there is one. */
  readonly generationId?: string;
}

/** Why a generation ended in `error` (input unusable, render failed, or an injected fault). */
export interface GenerationFailure {
  readonly name: string;
  readonly message: string;
  /** Epoch milliseconds when the failure was detected. */
  readonly at: number;
}

/**
 * How a completed generation's output misbehaves (`result:url=`, `redirect=`, `not-video`,
 * `oversize=`): its `video` URL is another one; its URL redirects there; it serves an HTML page;
 * it announces and serves `bytes` bytes (the video, then zeros).
 */
export type InjectedOutput =
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'redirect'; readonly url: string }
  | { readonly kind: 'not-video' }
  | { readonly kind: 'oversize'; readonly bytes: number };

/** A generation as persisted. Times are epoch milliseconds, so status can be derived after a restart. */
export interface GenerationRecord {
  readonly id: string;
  readonly createdAt: number;
  /** End of the `queued` phase. */
  readonly queuedUntil: number;
  /** End of the `generating` phase: `completed` from then on, once the render exists. */
  readonly doneAt: number;
  readonly request: {
    readonly model: string;
    readonly prompt: string;
    readonly frameSize: string;
    readonly duration: number;
    readonly seed: number;
    readonly references: readonly { readonly type: string; readonly url: string }[];
  };
  /** A URL to fetch, or a data URI whose bytes were stored under `inputs/` before answering. */
  readonly input:
    | { readonly kind: 'url'; readonly url: string }
    | { readonly kind: 'data'; readonly mediaType: string; readonly bytes: number };
  /** A `result:` fault chosen at creation. */
  readonly injected?: 'error' | 'stuck';
  /** A `result:` fault on the output a completed generation hands out, chosen at creation. */
  readonly injectedOutput?: InjectedOutput;
  readonly creditsUsed: number;
  /** The requests the emulator made to fetch a URL input, in order, with the answers' statuses. */
  readonly inputFetches?: readonly { readonly method: 'HEAD' | 'GET'; readonly status: number }[];
  readonly failure?: GenerationFailure;
  /** Epoch milliseconds when the output file was complete. */
  readonly renderedAt?: number;
}

async function writeFileAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function parseJsonLines<T>(text: string): T[] {
  const entries: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line) as T);
    } catch {
      // A line torn by a crash mid-append: skip it.
    }
  }
  return entries;
}

export class EmulatorStore {
  private readonly generations = new Map<string, GenerationRecord>();
  private requestLog: RequestLogEntry[] = [];
  private readonly writes = new Map<string, Promise<void>>();
  private logWrites: Promise<void> = Promise.resolve();
  private signingSecret = '';

  private constructor(readonly dataDir: string) {}

  /** Opens (creating when needed) the state under `dataDir` and loads it. */
  static async open(dataDir: string): Promise<EmulatorStore> {
    const store = new EmulatorStore(dataDir);
    await store.load();
    return store;
  }

  private async load(): Promise<void> {
    for (const dir of ['generations', 'inputs', 'outputs']) {
      await mkdir(join(this.dataDir, dir), { recursive: true });
    }
    for (const name of await readdir(join(this.dataDir, 'generations'))) {
      const path = join(this.dataDir, 'generations', name);
      if (name.endsWith('.tmp')) {
        await rm(path, { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const record = JSON.parse(await readFile(path, 'utf8')) as GenerationRecord;
        this.generations.set(record.id, record);
      } catch {
        // Unreadable record: leave it on disk for inspection, do not serve it.
      }
    }
    for (const name of await readdir(join(this.dataDir, 'outputs'))) {
      // Renders cut short by a crash (and their drawtext files): they restart from scratch.
      if (name.includes('.tmp.')) await rm(join(this.dataDir, 'outputs', name), { force: true });
    }
    const logPath = this.requestLogPath();
    if (existsSync(logPath))
      this.requestLog = parseJsonLines<RequestLogEntry>(await readFile(logPath, 'utf8'));
    const secretPath = join(this.dataDir, 'secret');
    if (!existsSync(secretPath)) await writeFileAtomically(secretPath, randomBytes(32).toString('hex'));
    this.signingSecret = (await readFile(secretPath, 'utf8')).trim();
  }

  /** The HMAC key that signs output URLs; kept on disk so URLs stay valid across restarts. */
  get secret(): string {
    return this.signingSecret;
  }

  private requestLogPath(): string {
    return join(this.dataDir, 'requests.jsonl');
  }

  inputPath(id: string): string {
    return join(this.dataDir, 'inputs', `${id}.bin`);
  }

  outputPath(id: string): string {
    return join(this.dataDir, 'outputs', `${id}.mp4`);
  }

  /** Where a render is written before being renamed to {@link outputPath}. */
  temporaryOutputPath(id: string): string {
    return join(this.dataDir, 'outputs', `${id}.${randomUUID()}.tmp.mp4`);
  }

  getGeneration(id: string): GenerationRecord | undefined {
    return this.generations.get(id);
  }

  listGenerations(): GenerationRecord[] {
    return [...this.generations.values()];
  }

  /** Stores the record in memory at once and on disk atomically; writes of one id keep their order. */
  saveGeneration(record: GenerationRecord): Promise<void> {
    this.generations.set(record.id, record);
    const previous = this.writes.get(record.id) ?? Promise.resolve();
    const path = join(this.dataDir, 'generations', `${record.id}.json`);
    const write = previous
      .catch(() => undefined)
      .then(() => writeFileAtomically(path, JSON.stringify(record)));
    this.writes.set(record.id, write);
    return write;
  }

  /** Writes the input bytes of a generation atomically. */
  saveInput(id: string, bytes: Uint8Array): Promise<void> {
    return writeFileAtomically(this.inputPath(id), bytes);
  }

  requests(): RequestLogEntry[] {
    return [...this.requestLog];
  }

  /** Appends one entry to the log (one JSON line, appended in arrival order of the calls). */
  appendRequest(entry: RequestLogEntry): Promise<void> {
    this.requestLog.push(entry);
    const line = `${JSON.stringify(entry)}\n`;
    this.logWrites = this.logWrites
      .catch(() => undefined)
      .then(() => appendFile(this.requestLogPath(), line));
    return this.logWrites;
  }

  /** Empties the request log, in memory and on disk. */
  clearRequests(): Promise<void> {
    this.requestLog = [];
    this.logWrites = this.logWrites
      .catch(() => undefined)
      .then(() => writeFileAtomically(this.requestLogPath(), ''));
    return this.logWrites;
  }

  /** Resolves once every pending write has reached the disk. */
  async flush(): Promise<void> {
    await Promise.allSettled([this.logWrites, ...this.writes.values()]);
  }
}
