/**
 * The local runtime's webhook delivery: what the EventBridge rule, the fan-out function, the SQS
 * FIFO queue (one message group per endpoint) and the delivery function do in AWS.
 *
 * It follows `events.jsonl` (from where it stopped: a cursor under `webhooks/`), puts each event
 * in the queue of every enabled endpoint that wants it, and runs one worker per endpoint that
 * sends its queue in order: the head waits for its retries, so one dead receiver delays nobody
 * else, and each job's events arrive in order. Queues live in `webhooks/queues/<endpointId>.json`,
 * so a restart resumes every pending message at its due time. `vidflow webhooks replay` drops
 * files in `webhooks/inbox/`, which the relay moves into the queues.
 */
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import type { JobEvent } from '../functions/adapters/events.js';
// The same delivery attempt functions/adapters/webhook-dispatch.ts drives in AWS (hence the
// same imports), on purpose: one attempt logic, fed by the relay's file queues here.
import {
  type AttemptSettings,
  attemptDelivery,
  type WebhookDeliveryLog,
  type WebhookEndpointStore,
  type WebhookMessage,
  type WebhookSecretStore,
  webhookIdOfEvent,
} from '../functions/adapters/webhook-attempts.js';
import { DEFAULT_ENDPOINT_ID } from '../functions/adapters/webhook-dispatch.js';
import {
  FileWebhookDeliveryLog,
  FileWebhookEndpointStore,
  FileWebhookSecretStore,
  readJson,
  webhooksDirOf,
  writeJsonAtomically,
} from '../functions/adapters/webhook-files.js';
import { type Logger, systemClock } from '../functions/domain/ports.js';
import {
  DEFAULT_WEBHOOK_RETENTION_MS,
  endpointWants,
  validateEndpointInput,
} from '../functions/domain/webhook-endpoints.js';

/** A message waiting in an endpoint's queue. */
interface Queued extends WebhookMessage {
  /** Attempts made so far in this sending. */
  readonly attempts: number;
  readonly dueAt: number;
  readonly replay?: boolean;
}

/** What `vidflow webhooks replay` writes into `webhooks/inbox/`. */
export interface ReplayRequest {
  readonly endpointId: string;
  readonly messages: readonly WebhookMessage[];
}

export interface WebhookRelayOptions {
  readonly webhooksDir: string;
  readonly eventsFile: string;
  readonly endpoints: WebhookEndpointStore;
  readonly secrets: WebhookSecretStore;
  readonly log: WebhookDeliveryLog;
  readonly settings: AttemptSettings;
  readonly logger: Logger;
  /** How often the relay reads new events and checks due messages. @default 100 */
  readonly pollIntervalMs?: number;
}

/**
 * Writes a replay request for the running relay to pick up.
 * @throws what the file system throws.
 */
export async function requestReplay(webhooksDir: string, request: ReplayRequest): Promise<void> {
  const name = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}.json`;
  await writeJsonAtomically(join(webhooksDir, 'inbox', name), request);
}

export class LocalWebhookRelay {
  private offset = 0;
  private partial = '';
  private readonly queues = new Map<string, Queued[]>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();

  private constructor(private readonly options: WebhookRelayOptions) {}

  /** Starts following the events file; on first start, from its end. */
  static async start(options: WebhookRelayOptions): Promise<LocalWebhookRelay> {
    const relay = new LocalWebhookRelay(options);
    await relay.loadState();
    relay.timer = setInterval(() => {
      relay.ticking = relay.ticking
        .then(() => relay.tick())
        .catch((error: unknown) => options.logger.warn('webhook relay tick failed', { error }));
    }, options.pollIntervalMs ?? 100);
    relay.timer.unref();
    return relay;
  }

  /** Messages still queued for an endpoint (tests; `vidflow webhooks list` reads the files). */
  pending(endpointId: string): number {
    return this.queues.get(endpointId)?.length ?? 0;
  }

  /**
   * Resolves once the relay has read every event and replay request so far and no message is
   * due or being sent (messages waiting for a retry may remain).
   */
  async idle(): Promise<void> {
    const inbox = join(this.options.webhooksDir, 'inbox');
    for (;;) {
      await this.ticking;
      await Promise.allSettled([...this.running.values()]);
      const unread = (await fileSize(this.options.eventsFile)) - this.offset;
      const requests = (await readdir(inbox).catch(() => [] as string[])).length;
      const now = this.options.settings.clock.now().getTime();
      const due = [...this.queues.values()].some(
        (queue) => (queue[0]?.dueAt ?? Number.POSITIVE_INFINITY) <= now,
      );
      if (this.running.size === 0 && unread <= 0 && requests === 0 && !due) return;
      await sleep(this.options.pollIntervalMs ?? 100);
    }
  }

  /** Stops; pending messages stay on disk and resume on the next start. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.abort.abort();
    await this.ticking;
    await Promise.allSettled(this.running.values());
  }

  private get cursorFile(): string {
    return join(this.options.webhooksDir, 'cursor.json');
  }

  private queueFile(endpointId: string): string {
    return join(this.options.webhooksDir, 'queues', `${endpointId.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
  }

  private async loadState(): Promise<void> {
    const cursor = await readJson<{ offset?: number }>(this.cursorFile).catch(() => undefined);
    if (typeof cursor?.offset === 'number') this.offset = cursor.offset;
    else {
      this.offset = await fileSize(this.options.eventsFile);
      await writeJsonAtomically(this.cursorFile, { offset: this.offset });
    }
    const dir = join(this.options.webhooksDir, 'queues');
    for (const name of await readdir(dir).catch(() => [])) {
      if (!name.endsWith('.json')) continue;
      const saved = await readJson<{ endpointId: string; messages: Queued[] }>(join(dir, name)).catch(
        () => undefined,
      );
      if (saved !== undefined && saved.messages.length > 0) this.queues.set(saved.endpointId, saved.messages);
    }
  }

  private async tick(): Promise<void> {
    if (this.abort.signal.aborted) return;
    await this.readEvents();
    await this.readInbox();
    const now = this.options.settings.clock.now().getTime();
    for (const [endpointId, queue] of this.queues) {
      const head = queue[0];
      if (head === undefined || head.dueAt > now || this.running.has(endpointId)) continue;
      const work = this.drain(endpointId)
        .catch((error: unknown) =>
          this.options.logger.error('webhook delivery failed', { endpointId, error }),
        )
        .finally(() => this.running.delete(endpointId));
      this.running.set(endpointId, work);
    }
  }

  private async readEvents(): Promise<void> {
    const size = await fileSize(this.options.eventsFile);
    if (size < this.offset) {
      this.offset = 0; // the file was replaced
      this.partial = '';
    }
    if (size === this.offset) return;
    const file = await open(this.options.eventsFile, 'r');
    let text: string;
    try {
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, this.offset);
      text = buffer.subarray(0, bytesRead).toString('utf8');
      this.offset += bytesRead;
    } finally {
      await file.close();
    }
    const lines = `${this.partial}${text}`.split('\n');
    this.partial = lines.pop() ?? '';
    const endpoints = await this.options.endpoints.list();
    const touched = new Set<string>();
    for (const line of lines) {
      if (line.trim() === '') continue;
      let event: JobEvent;
      try {
        event = JSON.parse(line) as JobEvent;
      } catch {
        this.options.logger.warn('webhook relay skipped a line that is not JSON', {
          line: line.slice(0, 200),
        });
        continue;
      }
      const webhookId = webhookIdOfEvent(event);
      for (const endpoint of endpoints.filter((candidate) => endpointWants(candidate, event))) {
        const queue = this.queues.get(endpoint.id) ?? [];
        // After a crash between queueing and moving the cursor, the same lines are read again.
        if (queue.some((queued) => queued.webhookId === webhookId && !queued.replay)) continue;
        const message: WebhookMessage = { endpointId: endpoint.id, webhookId, event };
        await this.options.log.archive(message, this.options.settings.clock.now());
        queue.push({ ...message, attempts: 0, dueAt: 0 });
        this.queues.set(endpoint.id, queue);
        touched.add(endpoint.id);
      }
    }
    for (const endpointId of touched) await this.saveQueue(endpointId);
    // The cursor excludes a partial last line, which is read again next time.
    await writeJsonAtomically(this.cursorFile, { offset: this.offset - Buffer.byteLength(this.partial) });
  }

  private async readInbox(): Promise<void> {
    const dir = join(this.options.webhooksDir, 'inbox');
    const names = (await readdir(dir).catch(() => [] as string[]))
      .filter((name) => name.endsWith('.json'))
      .sort();
    for (const name of names) {
      const path = join(dir, name);
      const request = await readJson<ReplayRequest>(path).catch(() => undefined);
      if (request !== undefined) {
        const queue = this.queues.get(request.endpointId) ?? [];
        for (const message of request.messages)
          queue.push({ ...message, attempts: 0, dueAt: 0, replay: true });
        this.queues.set(request.endpointId, queue);
        await this.saveQueue(request.endpointId);
      }
      await rm(path, { force: true });
    }
  }

  /** Sends an endpoint's due messages in order; returns when the queue is empty or its head waits. */
  private async drain(endpointId: string): Promise<void> {
    const { settings, logger } = this.options;
    for (;;) {
      if (this.abort.signal.aborted) return;
      const queue = this.queues.get(endpointId) ?? [];
      const head = queue[0];
      if (head === undefined || head.dueAt > settings.clock.now().getTime()) return;
      const endpoint = await this.options.endpoints.get(endpointId);
      const secrets = await this.options.secrets.get(endpointId);
      if (endpoint === undefined || !endpoint.enabled || secrets === undefined) {
        // Nothing is sent to a disabled or removed endpoint; replay re-sends after enabling.
        logger.info('dropped the queue of a disabled or removed webhook endpoint', {
          endpointId,
          messages: queue.length,
        });
        this.queues.delete(endpointId);
        await this.saveQueue(endpointId);
        return;
      }
      const attempt = head.attempts + 1;
      const outcome = await attemptDelivery(
        { endpoints: this.options.endpoints, log: this.options.log, settings },
        endpoint,
        secrets,
        head,
        attempt,
        { ...(head.replay ? { replay: true } : {}), signal: this.abort.signal },
      ).catch((error: unknown) => {
        if (this.abort.signal.aborted) return undefined;
        throw error;
      });
      if (outcome === undefined) return;
      if (outcome.retryInMs === undefined) queue.shift();
      else
        queue[0] = { ...head, attempts: attempt, dueAt: settings.clock.now().getTime() + outcome.retryInMs };
      if (!outcome.endpoint.enabled) {
        logger.warn('disabled a webhook endpoint', { endpointId, reason: outcome.endpoint.disabledReason });
      }
      await this.saveQueue(endpointId);
    }
  }

  private async saveQueue(endpointId: string): Promise<void> {
    const messages = this.queues.get(endpointId) ?? [];
    if (messages.length === 0) {
      this.queues.delete(endpointId);
      await rm(this.queueFile(endpointId), { force: true });
      return;
    }
    await mkdir(join(this.options.webhooksDir, 'queues'), { recursive: true });
    await writeJsonAtomically(this.queueFile(endpointId), { endpointId, messages });
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export interface LocalWebhooksOptions {
  readonly dataDir: string;
  readonly eventsFile: string;
  readonly logger: Logger;
  /** The single webhook of earlier versions: it becomes (or updates) endpoint `ep_default`. */
  readonly defaultEndpoint?: { readonly url: string; readonly secret: string };
  /** @default 1 */
  readonly timeScale?: number;
  /** @default DEFAULT_WEBHOOK_RETENTION_MS */
  readonly retentionMs?: number;
  readonly timeoutMs?: number;
  readonly pollIntervalMs?: number;
}

/**
 * Starts the local webhook delivery over the files of `<dataDir>/webhooks/`.
 * @throws WebhookEndpointError when the default endpoint's URL is invalid; what the file system throws.
 */
export async function startLocalWebhooks(options: LocalWebhooksOptions): Promise<LocalWebhookRelay> {
  const webhooksDir = webhooksDirOf(options.dataDir);
  const endpoints = new FileWebhookEndpointStore(webhooksDir);
  const secrets = new FileWebhookSecretStore(webhooksDir);
  const log = new FileWebhookDeliveryLog(
    webhooksDir,
    options.retentionMs ?? DEFAULT_WEBHOOK_RETENTION_MS,
    systemClock,
  );
  for (const endpoint of await endpoints.list()) await log.expire(endpoint.id);
  const configured = options.defaultEndpoint;
  if (configured !== undefined) {
    validateEndpointInput({ url: configured.url });
    new Webhook(configured.secret); // throws on a secret that is not whsec_ + base64
    const existing = await endpoints.get(DEFAULT_ENDPOINT_ID);
    const now = systemClock.now().toISOString();
    if (existing === undefined || existing.url !== configured.url) {
      await endpoints.put({
        id: DEFAULT_ENDPOINT_ID,
        url: configured.url,
        description: 'from VIDFLOW_WEBHOOK_URL',
        events: [],
        filters: {},
        enabled: existing?.enabled ?? true,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
    }
    const stored = await secrets.get(DEFAULT_ENDPOINT_ID);
    if (stored?.current !== configured.secret)
      await secrets.put(DEFAULT_ENDPOINT_ID, { current: configured.secret });
  }
  return LocalWebhookRelay.start({
    webhooksDir,
    eventsFile: options.eventsFile,
    endpoints,
    secrets,
    log,
    logger: options.logger,
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    settings: {
      clock: systemClock,
      timeScale: options.timeScale ?? 1,
      allowPrivateTargets: true,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    },
  });
}
