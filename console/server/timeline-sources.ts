/**
 * Reads what {@link buildTimeline} is built from: each attempt's execution history (through the
 * Step Functions API, so the same code reads a deployed stack), the local runtime's events file
 * and webhook delivery log.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GetExecutionHistoryCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { EventsFileReader } from '../../cli/commands/events.js';
import type { CliContext } from '../../cli/context.js';
import type { Job } from '../../functions/domain/job.js';
import { describeFailure } from './http.js';
import {
  buildTimeline,
  type EventRecord,
  type Timeline,
  type TimelineInputs,
  type WebhookAttempt,
} from './timeline.js';

/** Longest history read per execution (a job of 30 checks has about 250 events). */
const MAX_HISTORY_PAGES = 10;

/** The timeline of `job`, reading its sources. */
export async function loadTimeline(ctx: CliContext, job: Job): Promise<Timeline> {
  const arns = [...(job.attempts ?? []).map((attempt) => attempt.executionArn), job.executionArn].filter(
    (arn): arn is string => arn !== undefined,
  );
  const histories = new Map<string, readonly HistoryEvent[] | { unavailable: string }>();
  for (const arn of arns) histories.set(arn, await readHistory(ctx, arn));
  const inputs: TimelineInputs = {
    histories,
    ...(await readEvents(ctx, job.jobId)),
    ...(await readWebhooks(ctx, job.jobId)),
  };
  return buildTimeline(job, inputs);
}

async function readHistory(
  ctx: CliContext,
  executionArn: string,
): Promise<readonly HistoryEvent[] | { unavailable: string }> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  try {
    for (let page = 0; page < MAX_HISTORY_PAGES; page += 1) {
      const result = await ctx.clients.sfn.send(
        new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }),
      );
      events.push(...(result.events ?? []));
      nextToken = result.nextToken;
      if (nextToken === undefined) break;
    }
  } catch (error) {
    if (error instanceof Error && error.name === 'ExecutionDoesNotExist') {
      return { unavailable: 'the execution no longer exists (Step Functions keeps histories for 90 days)' };
    }
    return { unavailable: describeFailure(error, ctx.target.kind === 'local').message };
  }
  return events;
}

async function readEvents(
  ctx: CliContext,
  jobId: string,
): Promise<Pick<TimelineInputs, 'events' | 'eventsUnavailable'>> {
  const path = ctx.target.eventsFile;
  if (path === undefined) {
    return {
      eventsUnavailable: `the terminal events themselves (they went to the EventBridge bus ${ctx.target.eventBusName ?? ''}, which keeps no copy to read back)`,
    };
  }
  const reader = new EventsFileReader(path, { write: () => undefined });
  const events: EventRecord[] = (await reader.readNew()).filter((event) => event.detail.jobId === jobId);
  return { events };
}

async function readWebhooks(
  ctx: CliContext,
  jobId: string,
): Promise<Pick<TimelineInputs, 'webhooks' | 'webhooksUnavailable'>> {
  const eventsFile = ctx.target.eventsFile;
  if (eventsFile === undefined) {
    return { webhooksUnavailable: 'webhook attempts (the webhook function logs them to CloudWatch Logs)' };
  }
  let text: string;
  try {
    text = await readFile(join(dirname(eventsFile), 'webhook-deliveries.jsonl'), 'utf8');
  } catch {
    return {};
  }
  const webhooks: WebhookAttempt[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line) as Partial<WebhookAttempt>;
      if (value.jobId === jobId && typeof value.at === 'string' && typeof value.outcome === 'string') {
        webhooks.push(value as WebhookAttempt);
      }
    } catch {
      // A line cut short by a crash: the relay rewrites nothing, so skip it.
    }
  }
  return { webhooks };
}
