/**
 * Live updates for the console (server-sent events). One poller per server, running only while
 * a page listens: each round asks the status index for jobs whose status changed since the last
 * round (one small query per status, never a scan), and reads the jobs a page has open, so
 * progress inside a status (a new check, the copy) shows too.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CliContext } from '../../cli/context.js';
import { toPublicRecord } from '../../functions/domain/finalize-job.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';

/** How far back each round looks past the previous one: writes land with their own clock. */
const OVERLAP_MS = 5000;

interface Listener {
  readonly response: ServerResponse;
  readonly jobId?: string;
}

export class LiveUpdates {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private cursor = 0;
  /** jobId -> updatedAt last sent, so a job is sent once per change. */
  private readonly sent = new Map<string, string>();
  private running = false;

  constructor(
    private readonly ctx: CliContext,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Serves `GET /api/stream[?job=<id>]` until the page goes away. */
  attach(request: IncomingMessage, response: ServerResponse, jobId?: string): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    response.write('retry: 2000\n\n');
    const listener: Listener = { response, ...(jobId === undefined ? {} : { jobId }) };
    this.listeners.add(listener);
    request.on('close', () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    });
    if (this.timer === undefined) {
      this.cursor = this.ctx.clock.now().getTime();
      this.schedule();
    }
  }

  /** Ends every stream (the server is closing). */
  close(): void {
    this.stop();
    for (const listener of this.listeners) listener.response.end();
    this.listeners.clear();
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.round().finally(() => {
        if (this.listeners.size > 0 && this.timer !== undefined) this.schedule();
      });
    }, this.intervalMs);
  }

  private async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const until = this.ctx.clock.now();
      const since = new Date(this.cursor - OVERLAP_MS);
      const changed: Job[] = [];
      for (const status of Object.values(JobStatus)) {
        changed.push(...(await this.ctx.jobs.listByStatus(status, { since, until })));
      }
      const open = new Set(
        [...this.listeners].flatMap((listener) => (listener.jobId ? [listener.jobId] : [])),
      );
      for (const jobId of open) {
        if (changed.some((job) => job.jobId === jobId)) continue;
        const job = await this.ctx.jobs.get(jobId);
        if (job !== undefined) changed.push(job);
      }
      this.cursor = until.getTime();
      for (const job of changed) {
        if (this.sent.get(job.jobId) === job.updatedAt) continue;
        this.sent.set(job.jobId, job.updatedAt);
        this.broadcast(job);
      }
      if (this.sent.size > 10_000) this.sent.clear();
    } catch (error) {
      this.onError(error);
      for (const listener of this.listeners)
        listener.response.write(`event: trouble\ndata: ${JSON.stringify(String(error))}\n\n`);
    } finally {
      this.running = false;
    }
  }

  private broadcast(job: Job): void {
    const data = `event: job\ndata: ${JSON.stringify(toPublicRecord(job))}\n\n`;
    for (const listener of this.listeners) listener.response.write(data);
  }
}
