/**
 * Webhook endpoints end to end, locally: the relay the runtime runs (following an events file,
 * one queue per endpoint on disk) against real HTTP receivers, managed with the real `vidflow
 * webhooks` commands in a child process, as a user would. The schedule runs 14,400 times faster
 * than the Standard Webhooks one (`timeScale`), so a simulated day lasts 6 s.
 */
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobEvent } from '../../functions/adapters/events.js';
import { silentLogger } from '../../functions/domain/ports.js';
import type { WebhookEndpoint } from '../../functions/domain/webhook-endpoints.js';
import { type LocalWebhookRelay, startLocalWebhooks } from '../../local/webhook-relay.js';
import { runVidflow, spawnVidflow } from './cli-harness.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const TIME_SCALE = 1 / 14_400;

interface Delivery {
  /** When the receiver got it (ms since the epoch). */
  readonly at: number;
  readonly webhookId: string;
  readonly timestamp: string;
  readonly signature: string;
  readonly body: string;
  readonly status: number;
}

/** A receiver whose answer can be changed: `ok` (204), `down` (503), `gone` (410). */
async function startReceiver(): Promise<{
  url: string;
  deliveries: Delivery[];
  answer: 'ok' | 'down' | 'gone';
  close(): Promise<void>;
}> {
  const state = { answer: 'ok' as 'ok' | 'down' | 'gone' };
  const deliveries: Delivery[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = state.answer === 'ok' ? 204 : state.answer === 'down' ? 503 : 410;
      deliveries.push({
        at: Date.now(),
        webhookId: String(request.headers['webhook-id']),
        timestamp: String(request.headers['webhook-timestamp']),
        signature: String(request.headers['webhook-signature']),
        body: Buffer.concat(chunks).toString('utf8'),
        status,
      });
      response.writeHead(status).end(status === 503 ? 'down for maintenance' : '');
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    get answer() {
      return state.answer;
    },
    set answer(value) {
      state.answer = value;
    },
    close: () =>
      new Promise<void>((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      }),
  };
}

/** Whether `secret` verifies the delivery (any of its `v1,` signatures). */
function verifies(secret: string, delivery: Delivery): boolean {
  try {
    new Webhook(secret).verify(delivery.body, {
      'webhook-id': delivery.webhookId,
      'webhook-timestamp': delivery.timestamp,
      'webhook-signature': delivery.signature,
    });
    return true;
  } catch {
    return false;
  }
}

let eventTime = Date.parse('2030-01-01T00:00:00.000Z');

function jobEvent(
  jobId: string,
  detailType: string,
  options: { key?: string; model?: string; attempt?: number } = {},
): JobEvent {
  eventTime += 60_000;
  const status = detailType === 'Job Completed' ? 'COMPLETED' : 'FAILED';
  return {
    source: 'vidflow',
    detailType,
    time: new Date(eventTime).toISOString(),
    detail: {
      schemaVersion: 1,
      jobId,
      status,
      attempt: options.attempt ?? 1,
      source: { bucket: 'vidflow-input', key: options.key ?? 'trips/a.mp4' },
      request: { model: options.model ?? 'runway/gen4_aleph', prompt: 'snow' },
    },
  } as unknown as JobEvent;
}

async function waitFor<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 500)}`);
    await sleep(25);
  }
}

/** Each test spawns several `vidflow` processes (a second or more each on a loaded machine). */
const TEST_TIMEOUT_MS = 180_000;

describe('webhook endpoints, locally', { timeout: TEST_TIMEOUT_MS }, () => {
  let dataDir: string;
  let eventsFile: string;
  let relay: LocalWebhookRelay;
  const receivers: Array<Awaited<ReturnType<typeof startReceiver>>> = [];

  const vidflow = async (...args: string[]) => {
    const result = await runVidflow(['--data-dir', dataDir, 'webhooks', ...args]);
    if (result.code !== 0)
      throw new Error(`vidflow webhooks ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  };
  const add = async (url: string, ...options: string[]) =>
    JSON.parse(await vidflow('add', url, ...options, '--json')) as {
      id: string;
      url: string;
      events: string[];
      secret: string;
    };
  const publish = async (...events: JobEvent[]) =>
    appendFile(eventsFile, events.map((event) => `${JSON.stringify(event)}\n`).join(''));
  const receiver = async () => {
    const started = await startReceiver();
    receivers.push(started);
    return started;
  };
  const idOf = (event: JobEvent) => `${event.detail.jobId}-${event.detail.status}-${event.detail.attempt}`;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'vidflow-webhooks-'));
    eventsFile = join(dataDir, 'events.jsonl');
    relay = await startLocalWebhooks({
      dataDir,
      eventsFile,
      logger: silentLogger,
      timeScale: TIME_SCALE,
      pollIntervalMs: 20,
    });
  });

  afterAll(async () => {
    await relay?.stop();
    for (const started of receivers) await started.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints { id, url, events, secret } on add, and lists endpoints without their secrets', async () => {
    const target = await receiver();
    const added = await add(target.url, '--events', 'Job Completed,Job Failed');
    expect(Object.keys(added).sort()).toStrictEqual(['events', 'id', 'secret', 'url']);
    expect(added.id).toMatch(/^ep_[A-Za-z0-9_-]{16}$/);
    expect(added.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(added).toMatchObject({ url: target.url, events: ['Job Completed', 'Job Failed'] });
    const listed = JSON.parse(await vidflow('list', '--json')) as WebhookEndpoint[];
    expect(listed.find((endpoint) => endpoint.id === added.id)).toMatchObject({ enabled: true, filters: {} });
    expect(JSON.stringify(listed)).not.toContain(added.secret);
    await vidflow('remove', added.id);
  });

  it('sends two endpoints with different filters exactly the events each asked for', async () => {
    const [first, second] = [await receiver(), await receiver()];
    const trips = await add(first.url, '--events', 'Job Completed', '--source-prefix', 'trips/');
    const aleph = await add(
      second.url,
      '--events',
      'Job Completed,Job Failed',
      '--model',
      'runway/gen4_aleph',
    );
    const events = [
      jobEvent('f1', 'Job Completed', { key: 'trips/a.mp4' }),
      jobEvent('f2', 'Job Failed', { key: 'trips/b.mp4' }),
      jobEvent('f3', 'Job Completed', { key: 'other/c.mp4' }),
      jobEvent('f4', 'Job Completed', { key: 'trips/d.mp4', model: 'runway/other' }),
    ];
    await publish(...events);
    const [f1, f2, f3, f4] = events.map(idOf);
    await waitFor(
      'both receivers',
      () => first.deliveries.length + second.deliveries.length,
      (n) => n >= 5,
    );
    await relay.idle();
    expect(first.deliveries.map((delivery) => delivery.webhookId)).toStrictEqual([f1, f4]);
    expect(second.deliveries.map((delivery) => delivery.webhookId)).toStrictEqual([f1, f2, f3]);
    expect(first.deliveries.every((delivery) => verifies(trips.secret, delivery))).toBe(true);
    expect(second.deliveries.every((delivery) => verifies(aleph.secret, delivery))).toBe(true);
    expect(second.deliveries.some((delivery) => verifies(trips.secret, delivery))).toBe(false);
    expect(JSON.parse(second.deliveries[0]?.body ?? '')).toStrictEqual(events[0]);
    for (const id of [trips.id, aleph.id]) await vidflow('disable', id);
  });

  it('delivers everything, in order per job, to a receiver down for a simulated day, and nothing to a disabled endpoint', async () => {
    const [down, healthy, disabled] = [await receiver(), await receiver(), await receiver()];
    const outage = await add(down.url);
    await add(healthy.url);
    const off = await add(disabled.url);
    await vidflow('disable', off.id);
    down.answer = 'down';
    const events = [
      jobEvent('d1', 'Job Failed', { attempt: 1 }),
      jobEvent('d2', 'Job Completed'),
      jobEvent('d1', 'Job Completed', { attempt: 2 }),
    ];
    await publish(...events);
    await waitFor(
      'the first refused attempt',
      () => down.deliveries.length,
      (n) => n >= 1,
    );
    // The day starts at the first refused attempt, as the receiver saw it (not when the test noticed).
    const downSince = down.deliveries[0]?.at ?? Date.now();
    // The healthy endpoint is not held back by the dead one: it gets everything while the other is down.
    await waitFor(
      'the healthy receiver',
      () => healthy.deliveries.length,
      (n) => n === 3,
    );
    expect(down.deliveries.filter((delivery) => delivery.status === 204)).toStrictEqual([]);
    await sleep(Math.max(0, downSince + DAY_MS * TIME_SCALE - Date.now()));
    down.answer = 'ok';
    await waitFor(
      'every event after the outage',
      () => down.deliveries.filter((d) => d.status === 204).length,
      (n) => n === 3,
    );
    await relay.idle();
    const accepted = down.deliveries.filter((delivery) => delivery.status === 204);
    expect(accepted.map((delivery) => delivery.webhookId)).toStrictEqual(events.map(idOf));
    // Only the head of the queue was retried while the receiver was down, always with the same id.
    const refused = down.deliveries.filter((delivery) => delivery.status === 503);
    expect(new Set(refused.map((delivery) => delivery.webhookId))).toStrictEqual(
      new Set([idOf(events[0] as JobEvent)]),
    );
    expect(refused.length).toBeGreaterThanOrEqual(6);
    expect(accepted.every((delivery) => verifies(outage.secret, delivery))).toBe(true);
    expect(disabled.deliveries).toStrictEqual([]);
    const attempts = JSON.parse(await vidflow('attempts', outage.id, '--failed', '--json')) as Array<{
      webhookId: string;
      outcome: string;
      httpStatus: number;
      responseSnippet: string;
    }>;
    expect(attempts).toHaveLength(refused.length);
    expect(attempts.every((attempt) => attempt.outcome === 'retrying' && attempt.httpStatus === 503)).toBe(
      true,
    );
    expect(attempts[0]?.responseSnippet).toBe('down for maintenance');
    for (const { id } of JSON.parse(await vidflow('list', '--json')) as WebhookEndpoint[])
      await vidflow('disable', id);
  });

  it('disables an endpoint that answers 410 Gone, and sends it nothing more', async () => {
    const gone = await receiver();
    gone.answer = 'gone';
    const endpoint = await add(gone.url);
    await publish(jobEvent('g1', 'Job Completed'));
    await waitFor(
      'the 410',
      () => gone.deliveries.length,
      (n) => n === 1,
    );
    const listed = await waitFor(
      'the endpoint disabled',
      async () =>
        (JSON.parse(await vidflow('list', '--json')) as WebhookEndpoint[]).find((e) => e.id === endpoint.id),
      (found) => found?.enabled === false,
    );
    expect(listed).toMatchObject({ enabled: false, disabledReason: 'gone' });
    await publish(jobEvent('g2', 'Job Completed'));
    await relay.idle();
    expect(gone.deliveries.map((delivery) => delivery.status)).toStrictEqual([410]);
  });

  it('signs with both secrets during a rotation overlap, then with the new one only', async () => {
    const target = await receiver();
    const endpoint = await add(target.url);
    const rotated = JSON.parse(await vidflow('rotate-secret', endpoint.id, '--overlap', '24h', '--json')) as {
      secret: string;
      previousValidUntil: string;
    };
    expect(rotated.secret).not.toBe(endpoint.secret);
    expect(Date.parse(rotated.previousValidUntil) - Date.now()).toBeGreaterThan(DAY_MS - 60_000);
    await publish(jobEvent('r1', 'Job Completed'));
    const [overlapping] = await waitFor(
      'the delivery',
      () => target.deliveries,
      (list) => list.length === 1,
    );
    expect(overlapping?.signature.split(' ').map((part) => part.slice(0, 3))).toStrictEqual(['v1,', 'v1,']);
    expect(overlapping && verifies(endpoint.secret, overlapping)).toBe(true);
    expect(overlapping && verifies(rotated.secret, overlapping)).toBe(true);

    const again = JSON.parse(await vidflow('rotate-secret', endpoint.id, '--overlap', '0s', '--json')) as {
      secret: string;
    };
    await publish(jobEvent('r2', 'Job Completed'));
    const [, after] = await waitFor(
      'the second delivery',
      () => target.deliveries,
      (list) => list.length === 2,
    );
    expect(after?.signature.split(' ')).toHaveLength(1);
    expect(after && verifies(again.secret, after)).toBe(true);
    expect(after && verifies(rotated.secret, after)).toBe(false);
    await vidflow('disable', endpoint.id);
  });

  it('replays exactly the events since a time, with their original webhook-id', async () => {
    const target = await receiver();
    const endpoint = await add(target.url);
    const events = [
      jobEvent('p1', 'Job Completed'),
      jobEvent('p2', 'Job Failed'),
      jobEvent('p3', 'Job Completed'),
    ];
    await publish(...events);
    await waitFor(
      'the first sending',
      () => target.deliveries.length,
      (n) => n === 3,
    );
    const since = (events[1] as JobEvent).time;
    const replayed = JSON.parse(await vidflow('replay', endpoint.id, '--since', since, '--json')) as {
      queued: number;
      events: string[];
    };
    expect(replayed).toMatchObject({
      queued: 2,
      events: [idOf(events[1] as JobEvent), idOf(events[2] as JobEvent)],
    });
    await waitFor(
      'the replay',
      () => target.deliveries.length,
      (n) => n === 5,
    );
    await relay.idle();
    expect(target.deliveries.slice(3).map((delivery) => delivery.webhookId)).toStrictEqual(replayed.events);
    expect(target.deliveries.slice(3).map((delivery) => delivery.body)).toStrictEqual(
      target.deliveries.slice(1, 3).map((delivery) => delivery.body),
    );

    const one = JSON.parse(
      await vidflow('replay', endpoint.id, '--event', idOf(events[0] as JobEvent), '--json'),
    ) as {
      queued: number;
    };
    expect(one.queued).toBe(1);
    await waitFor(
      'the single replay',
      () => target.deliveries.length,
      (n) => n === 6,
    );
    expect(target.deliveries[5]?.webhookId).toBe(idOf(events[0] as JobEvent));
    const failedOnly = JSON.parse(
      await vidflow('replay', endpoint.id, '--since', events[0]?.time ?? '', '--failed-only', '--json'),
    ) as { queued: number };
    expect(failedOnly.queued).toBe(0);
  });

  it('listen verifies and prints each delivery; update points an endpoint at it, enable resumes it', async () => {
    const endpoint = await add('http://127.0.0.1:9/nowhere', '--events', 'Job Failed');
    await vidflow('disable', endpoint.id);
    const listen = spawnVidflow([
      '--data-dir',
      dataDir,
      'webhooks',
      'listen',
      '--port',
      '0',
      '--endpoint',
      endpoint.id,
      '--json',
    ]);
    try {
      const url = await waitFor(
        'listen to start',
        () => /listening on (\S+)/.exec(listen.stderr())?.[1],
        (found) => found !== undefined,
      );
      const updated = JSON.parse(
        await vidflow('update', endpoint.id, '--url', url ?? '', '--events', 'Job Completed', '--json'),
      ) as WebhookEndpoint;
      expect(updated).toMatchObject({ url, events: ['Job Completed'], enabled: false });
      expect((JSON.parse(await vidflow('enable', endpoint.id, '--json')) as WebhookEndpoint).enabled).toBe(
        true,
      );
      const sent = jobEvent('l1', 'Job Completed');
      await publish(sent);
      await listen.waitForStdout(/"verified":true/, 20_000);
      const [printed] = listen
        .stdout()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(printed).toMatchObject({
        webhookId: idOf(sent),
        eventType: 'Job Completed',
        jobId: 'l1',
        verified: true,
        status: 204,
      });
      expect(listen.stdout()).not.toContain(endpoint.secret);
    } finally {
      listen.child.kill('SIGINT');
      await listen.exited;
    }
  });
});
