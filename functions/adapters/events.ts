/**
 * Terminal job events (README, "Events"; docs/events/): EventBridge in AWS, a JSON-lines file locally.
 * Schema version 1: the job record's public fields.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { toPublicRecord } from '../domain/finalize-job.js';
import { type Job, JobStatus } from '../domain/job.js';
import type { JobEvents, Logger } from '../domain/ports.js';

export const EVENT_SOURCE = 'vidflow';
export const EVENT_SCHEMA_VERSION = 1;

export const DETAIL_TYPES: Readonly<Record<string, string>> = {
  [JobStatus.completed]: 'Job Completed',
  [JobStatus.failed]: 'Job Failed',
  [JobStatus.rejected]: 'Job Rejected',
  [JobStatus.timedOut]: 'Job Timed Out',
  [JobStatus.cancelled]: 'Job Cancelled',
};

export interface JobEvent {
  readonly source: typeof EVENT_SOURCE;
  readonly detailType: string;
  readonly time: string;
  readonly detail: ReturnType<typeof toPublicRecord> & { readonly schemaVersion: number };
}

export function toJobEvent(job: Job, now: Date): JobEvent {
  return {
    source: EVENT_SOURCE,
    detailType: DETAIL_TYPES[job.status] ?? `Job ${job.status}`,
    time: now.toISOString(),
    detail: { schemaVersion: EVENT_SCHEMA_VERSION, ...toPublicRecord(job) },
  };
}

export class EventBridgeJobEvents implements JobEvents {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publishTerminal(job: Job): Promise<void> {
    const event = toJobEvent(job, new Date());
    const result = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: event.source,
            DetailType: event.detailType,
            Detail: JSON.stringify(event.detail),
            Time: new Date(event.time),
          },
        ],
      }),
    );
    if ((result.FailedEntryCount ?? 0) > 0) {
      throw new Error(
        `EventBridge refused the event: ${result.Entries?.[0]?.ErrorMessage ?? 'unknown reason'}`,
      );
    }
  }
}

/** Appends one line per event; a single `appendFile` write of one line is atomic enough for one host. */
export class FileJobEvents implements JobEvents {
  constructor(private readonly path: string) {}

  async publishTerminal(job: Job): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, `${JSON.stringify(toJobEvent(job, new Date()))}\n`, 'utf8');
  }
}

/** No destination configured: the event is logged only. */
export class LoggedJobEvents implements JobEvents {
  constructor(private readonly logger: Logger) {}

  async publishTerminal(job: Job): Promise<void> {
    this.logger.info('job ended', { jobId: job.jobId, status: job.status });
  }
}
