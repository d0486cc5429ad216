/**
 * Terminal events (README "Events"): the events a local runtime really writes, one of each
 * detail type, checked against the documented schema (`docs/events/job-event.schema.json`)
 * together with the sample events; and their webhook delivery, signed per Standard Webhooks,
 * to a real local HTTP receiver that refuses the first two attempts of every message and
 * verifies each signature with the `standardwebhooks` library.
 */

import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETAIL_TYPES, type JobEvent, toJobEvent } from '../../functions/adapters/events.js';
import { type WebhookAttemptRecord, webhookIdOfEvent } from '../../functions/adapters/webhook-attempts.js';
import { DEFAULT_ENDPOINT_ID } from '../../functions/adapters/webhook-dispatch.js';
import { FileWebhookDeliveryLog, webhooksDirOf } from '../../functions/adapters/webhook-files.js';
import { isTerminal, type Job, JobStatus } from '../../functions/domain/job.js';
import { systemClock } from '../../functions/domain/ports.js';
import { DEFAULT_WEBHOOK_RETENTION_MS } from '../../functions/domain/webhook-endpoints.js';
import { isSettled, putObject } from '../support/runtime-harness.js';
import { type CliRuntime, startCliRuntime, testClip } from './cli-harness.js';
import { eventDetailProblems } from './schemas.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SAMPLES_DIR = resolve(import.meta.dirname, '../../docs/events/samples');

interface Received {
  readonly path: string;
  readonly webhookId: string;
  readonly body: string;
  /** Whether `Webhook.verify` accepted the signature. */
  readonly verified: boolean;
  readonly status: number;
}

/**
 * A webhook receiver: answers 503 to the first `failFirst` attempts of each message id (on
 * `/flaky`) or to every attempt (on `/down`), else verifies the signature and answers 204.
 */
async function startReceiver(
  failFirst: number,
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const receiver = new Webhook(SECRET);
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const webhookId = String(request.headers['webhook-id'] ?? '');
      let verified = false;
      try {
        receiver.verify(body, request.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      const seen = received.filter((entry) => entry.webhookId === webhookId).length;
      const status = !verified ? 400 : request.url === '/down' || seen < failFirst ? 503 : 204;
      received.push({ path: request.url ?? '', webhookId, body, verified, status });
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      }),
  };
}

describe('terminal events and their webhooks', () => {
  let cli: CliRuntime;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let clip: Uint8Array;
  const ended = new Map<JobStatus, Job>();

  const upload = (key: string, body: Uint8Array | string = clip) =>
    putObject(cli.clients.s3, { bucket: 'vidflow-input', key, body, metadata: { prompt: 'monochrome' } });

  beforeAll(async () => {
    receiver = await startReceiver(2);
    clip = await readFile(await testClip());
    cli = await startCliRuntime({
      // The first two generations hang (one times out, one is cancelled), the third fails.
      emulator: { faults: 'result:stuck:count=2,result:error:count=1' },
      functionEnvironment: { VIDFLOW_JOB_TIMEOUT_SECONDS: '15' },
      // The Standard Webhooks schedule, 1000 times faster: retries after about 5 ms and 300 ms.
      webhook: { url: `${receiver.url}/flaky`, secret: SECRET, timeScale: 0.001, pollIntervalMs: 20 },
    });
    // One upload at a time, so the faults land on the intended jobs.
    const submitted = async (key: string, body?: Uint8Array | string) => {
      const jobId = await upload(key, body);
      return cli.waitForJob(jobId, (job) => job.generationId !== undefined || isTerminal(job.status));
    };
    const timingOut = await submitted('events/times-out.mp4');
    const cancelling = await submitted('events/cancelled.mp4');
    await submitted('events/fails.mp4');
    await submitted('events/completes.mp4');
    await submitted('events/rejected.mp4', 'not a video');
    await cli.waitForJob(cancelling.jobId, (job) => job.executionArn !== undefined);
    expect((await cli.vidflow(['cancel', cancelling.jobId])).code).toBe(0);
    for (const key of ['times-out', 'cancelled', 'fails', 'completes', 'rejected']) {
      const [job] = await cli.clients.jobs.listBySource('vidflow-input', `events/${key}.mp4`);
      const done = await cli.waitForJob(job?.jobId ?? '', isSettled, 60_000);
      ended.set(done.status, done);
    }
    expect(ended.get(JobStatus.timedOut)?.jobId).toBe(timingOut.jobId);
  }, 180_000);

  afterAll(async () => {
    await cli?.stop();
    await receiver?.close();
  });

  const writtenEvents = async (): Promise<JobEvent[]> =>
    (await readFile(cli.runtime.endpoints.eventsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as JobEvent);

  it('writes one event per terminal state, each matching the documented schema', async () => {
    const events = await writtenEvents();
    expect(events.map((event) => event.detailType).sort()).toEqual([
      'Job Cancelled',
      'Job Completed',
      'Job Failed',
      'Job Rejected',
      'Job Timed Out',
    ]);
    for (const event of events) {
      expect(Object.keys(event)).toEqual(['source', 'detailType', 'time', 'detail']);
      expect(event.source).toBe('vidflow');
      expect(event.detailType).toBe(DETAIL_TYPES[event.detail.status]);
      expect(eventDetailProblems(event.detail)).toEqual([]);
      expect(event.detail.jobId).toBe(ended.get(event.detail.status)?.jobId);
    }
  });

  it('ships sample EventBridge events, at least one per detail type, that match the schema', async () => {
    const files = (await readdir(SAMPLES_DIR)).filter((name) => name.endsWith('.json')).sort();
    const detailTypes: string[] = [];
    for (const file of files) {
      const sample = JSON.parse(await readFile(join(SAMPLES_DIR, file), 'utf8')) as Record<string, unknown>;
      expect(Object.keys(sample)).toEqual([
        'version',
        'id',
        'detail-type',
        'source',
        'account',
        'time',
        'region',
        'resources',
        'detail',
      ]);
      expect(sample.source).toBe('vidflow');
      const detail = sample.detail as Job & { schemaVersion: number };
      expect(eventDetailProblems(detail), file).toEqual([]);
      expect(sample['detail-type']).toBe(DETAIL_TYPES[detail.status]);
      detailTypes.push(String(sample['detail-type']));
    }
    expect(new Set(detailTypes)).toEqual(new Set(Object.values(DETAIL_TYPES)));
  });

  it('the schema refuses what version 1 does not allow', () => {
    const completed = ended.get(JobStatus.completed) as Job;
    const detail = toJobEvent(completed, new Date()).detail;
    const failed = toJobEvent(ended.get(JobStatus.failed) as Job, new Date()).detail;
    expect(eventDetailProblems(detail)).toEqual([]);
    const { output: _output, ...withoutOutput } = detail;
    expect(eventDetailProblems(withoutOutput)).toContain(
      '$: matches 0 of the oneOf options, not exactly one',
    );
    const { error: _error, ...withoutError } = failed;
    expect(eventDetailProblems(withoutError)).toContain('$: matches 0 of the oneOf options, not exactly one');
    expect(eventDetailProblems({ ...detail, submissionClaim: { token: 't' } })).toContain(
      '$: unexpected "submissionClaim"',
    );
    expect(eventDetailProblems({ ...detail, schemaVersion: 2 })).toContain(
      '$.schemaVersion: expected 1, got 2',
    );
    expect(eventDetailProblems({ ...detail, completedAt: 'yesterday' })).toContain(
      '$.completedAt: "yesterday" is not a date-time',
    );
  });

  it('delivers every event to the webhook (endpoint ep_default), signed, after the receiver refused it twice', async () => {
    const events = await writtenEvents();
    const log = new FileWebhookDeliveryLog(
      webhooksDirOf(cli.dataDir),
      DEFAULT_WEBHOOK_RETENTION_MS,
      systemClock,
    );
    let records: WebhookAttemptRecord[] = [];
    for (let i = 0; i < 200; i += 1) {
      records = await log.attempts(DEFAULT_ENDPOINT_ID, {});
      if (records.filter((record) => record.outcome === 'delivered').length === events.length) break;
      await sleep(100);
    }
    for (const event of events) {
      const webhookId = webhookIdOfEvent(event);
      expect(webhookId).toBe(`${event.detail.jobId}-${event.detail.status}-1`);
      const attempts = receiver.received.filter((entry) => entry.webhookId === webhookId);
      // Every attempt carries the same id and a valid signature; the third is accepted.
      expect(attempts.map((entry) => [entry.path, entry.verified, entry.status])).toEqual([
        ['/flaky', true, 503],
        ['/flaky', true, 503],
        ['/flaky', true, 204],
      ]);
      expect(attempts.map((entry) => JSON.parse(entry.body))).toEqual([event, event, event]);
      expect(
        records
          .filter((record) => record.webhookId === webhookId)
          .map((record) => [record.attempt, record.outcome, record.httpStatus]),
      ).toEqual([
        [1, 'retrying', 503],
        [2, 'retrying', 503],
        [3, 'delivered', 204],
      ]);
    }
  });
});
