/**
 * The local runtime's webhook data, under `<dataDir>/webhooks/`:
 * - `endpoints.json`: the endpoints (no secrets);
 * - `secrets.json` (mode 0600): each endpoint's signing secrets, as Secrets Manager holds them in AWS;
 * - `attempts/<endpointId>.jsonl`: the delivery log, one file per endpoint (the index by endpoint;
 *   lines are appended in time order), records older than the retention window are dropped;
 * - `messages/<endpointId>.jsonl`: every message sent to the endpoint, for replay.
 * Files are replaced atomically (write, then rename) so a crash never leaves half a file.
 */
import { appendFile, chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../domain/ports.js';
import type { WebhookEndpoint, WebhookEndpointSecrets } from '../domain/webhook-endpoints.js';
// The same ports as webhook-aws.ts imports, on purpose: the two files are the two
// implementations (local files here, AWS there) of each webhook store.
import type {
  AttemptQuery,
  WebhookAttemptRecord,
  WebhookDeliveryLog,
  WebhookEndpointStore,
  WebhookMessage,
  WebhookSecretStore,
} from './webhook-attempts.js';

/** The webhooks directory of a local data directory. */
export function webhooksDirOf(dataDir: string): string {
  return join(dataDir, 'webhooks');
}

export class FileWebhookEndpointStore implements WebhookEndpointStore {
  private readonly path: string;

  constructor(webhooksDir: string) {
    this.path = join(webhooksDir, 'endpoints.json');
  }

  async list(): Promise<WebhookEndpoint[]> {
    const data = await readJson<{ endpoints?: WebhookEndpoint[] }>(this.path);
    return data?.endpoints ?? [];
  }

  async get(id: string): Promise<WebhookEndpoint | undefined> {
    return (await this.list()).find((endpoint) => endpoint.id === id);
  }

  async put(endpoint: WebhookEndpoint): Promise<void> {
    await withFileLock(this.path, async () => {
      const endpoints = await this.list();
      const index = endpoints.findIndex((existing) => existing.id === endpoint.id);
      if (index === -1) endpoints.push(endpoint);
      else endpoints[index] = endpoint;
      await writeJsonAtomically(this.path, { endpoints });
    });
  }

  async remove(id: string): Promise<void> {
    await withFileLock(this.path, async () => {
      const endpoints = (await this.list()).filter((endpoint) => endpoint.id !== id);
      await writeJsonAtomically(this.path, { endpoints });
    });
  }
}

export class FileWebhookSecretStore implements WebhookSecretStore {
  private readonly path: string;

  constructor(webhooksDir: string) {
    this.path = join(webhooksDir, 'secrets.json');
  }

  async get(endpointId: string): Promise<WebhookEndpointSecrets | undefined> {
    return (await this.readAll())[endpointId];
  }

  async put(endpointId: string, secrets: WebhookEndpointSecrets): Promise<void> {
    await withFileLock(this.path, async () =>
      this.writeAll({ ...(await this.readAll()), [endpointId]: secrets }),
    );
  }

  async remove(endpointId: string): Promise<void> {
    await withFileLock(this.path, async () => {
      const { [endpointId]: _, ...rest } = await this.readAll();
      await this.writeAll(rest);
    });
  }

  private async readAll(): Promise<Record<string, WebhookEndpointSecrets>> {
    return (await readJson<Record<string, WebhookEndpointSecrets>>(this.path)) ?? {};
  }

  private async writeAll(all: Record<string, WebhookEndpointSecrets>): Promise<void> {
    await writeJsonAtomically(this.path, all, 0o600);
  }
}

export class FileWebhookDeliveryLog implements WebhookDeliveryLog {
  constructor(
    private readonly webhooksDir: string,
    private readonly retentionMs: number,
    private readonly clock: Clock,
  ) {}

  async record(entry: WebhookAttemptRecord): Promise<void> {
    await appendLine(this.attemptsFile(entry.endpointId), entry);
  }

  async attempts(endpointId: string, query: AttemptQuery): Promise<WebhookAttemptRecord[]> {
    const since = Math.max(this.oldestKept(), query.since === undefined ? 0 : Date.parse(query.since));
    const records = (await readLines<WebhookAttemptRecord>(this.attemptsFile(endpointId))).filter(
      (record) => Date.parse(record.at) >= since && (!query.failedOnly || record.outcome !== 'delivered'),
    );
    return query.limit === undefined ? records : records.slice(-query.limit);
  }

  async archive(message: WebhookMessage, at: Date): Promise<void> {
    await appendLine(this.messagesFile(message.endpointId), { at: at.toISOString(), ...message });
  }

  async messages(endpointId: string, since: string): Promise<WebhookMessage[]> {
    const from = Math.max(this.oldestKept(), Date.parse(since));
    const seen = new Set<string>();
    const messages: WebhookMessage[] = [];
    for (const line of await readLines<WebhookMessage & { at: string }>(this.messagesFile(endpointId))) {
      if (seen.has(line.webhookId) || Date.parse(line.event.time) < from) continue;
      seen.add(line.webhookId);
      messages.push({ endpointId: line.endpointId, webhookId: line.webhookId, event: line.event });
    }
    return messages;
  }

  async message(endpointId: string, webhookId: string): Promise<WebhookMessage | undefined> {
    const lines = await readLines<WebhookMessage>(this.messagesFile(endpointId));
    const line = lines.find((candidate) => candidate.webhookId === webhookId);
    return line === undefined
      ? undefined
      : { endpointId: line.endpointId, webhookId: line.webhookId, event: line.event };
  }

  /** Drops attempts and messages older than the retention window (run at start-up). */
  async expire(endpointId: string): Promise<void> {
    const oldest = this.oldestKept();
    for (const path of [this.attemptsFile(endpointId), this.messagesFile(endpointId)]) {
      const lines = await readLines<{ at: string }>(path);
      const kept = lines.filter((line) => Date.parse(line.at) >= oldest);
      if (kept.length === lines.length) continue;
      await mkdir(dirname(path), { recursive: true });
      const temporary = `${path}.tmp`;
      await writeFile(temporary, kept.map((line) => `${JSON.stringify(line)}\n`).join(''));
      await rename(temporary, path);
    }
  }

  /** Removes an endpoint's log and messages (with the endpoint). */
  async forget(endpointId: string): Promise<void> {
    await rm(this.attemptsFile(endpointId), { force: true });
    await rm(this.messagesFile(endpointId), { force: true });
  }

  private oldestKept(): number {
    return this.clock.now().getTime() - this.retentionMs;
  }

  private attemptsFile(endpointId: string): string {
    return join(this.webhooksDir, 'attempts', `${safeName(endpointId)}.jsonl`);
  }

  private messagesFile(endpointId: string): string {
    return join(this.webhooksDir, 'messages', `${safeName(endpointId)}.jsonl`);
  }
}

/** Endpoint ids become file names: keep them to URL-safe characters. */
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** A lock older than this was left by a crashed process. */
const STALE_LOCK_MS = 10_000;

/**
 * Runs `update` holding `<path>.lock` (a directory: creating one is atomic), so the runtime and
 * the CLI, in different processes, never lose each other's read-modify-write of the same file.
 */
export async function withFileLock<T>(path: string, update: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  await mkdir(dirname(path), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
      const age = await stat(lock).then(
        (info) => Date.now() - info.mtimeMs,
        () => 0,
      );
      if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      else await sleep(5);
    }
  }
  try {
    return await update();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Reads a JSON file; undefined when it does not exist. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  });
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

/** Writes JSON to a temporary file and renames it over `path`. */
export async function writeJsonAtomically(path: string, value: unknown, mode?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temporary, JSON.stringify(value, null, 2), mode === undefined ? {} : { mode });
  if (mode !== undefined) await chmod(temporary, mode);
  await rename(temporary, path);
}

async function appendLine(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, `${JSON.stringify(value)}\n`, 'utf8');
}

async function readLines<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return '';
    throw error;
  });
  return text.split('\n').flatMap((line) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as T];
    } catch {
      return []; // a line cut by a crash
    }
  });
}
