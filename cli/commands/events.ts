/**
 * `vidflow events [--follow]`: the terminal job events of the local runtime, from its
 * `events.jsonl` (one event per line, schema in `docs/events/job-event.schema.json`).
 */
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { type CliContext, CliError } from '../context.js';
import { type CliOutput, printJsonLine, shortTime, type TextSink } from '../format.js';
import { untilInterrupted } from '../interrupt.js';

/** How often `--follow` looks for new lines. */
const FOLLOW_INTERVAL_MS = 250;

/** The fields of an event line the CLI shows; the rest is passed through untouched. */
const eventLine = z.looseObject({
  source: z.string(),
  detailType: z.string(),
  time: z.string(),
  detail: z.looseObject({
    schemaVersion: z.number(),
    jobId: z.string(),
    status: z.string(),
    attempt: z.number().optional(),
    source: z.looseObject({ key: z.string() }).optional(),
    output: z.looseObject({ bucket: z.string(), key: z.string() }).optional(),
    error: z.looseObject({ code: z.string(), message: z.string() }).optional(),
  }),
});

type EventLine = z.infer<typeof eventLine>;

export interface EventsOptions {
  readonly follow?: boolean;
  readonly json?: boolean;
  /** Only the events of this job. */
  readonly job?: string;
  /** Only the last n events (before following). */
  readonly last?: number;
}

/**
 * What `events` needs: where the events are, and where to print. Locally that is the events file
 * alone, so it reads without a running runtime.
 */
export type EventsContext = { readonly target: CliContext['target']; readonly out: CliOutput };

/**
 * Print the terminal events (with `follow`, until Ctrl-C).
 *
 * @throws CliError for a deployed stack, whose events go to its EventBridge bus.
 */
export async function showEvents(ctx: EventsContext, options: EventsOptions): Promise<number> {
  const path = ctx.target.eventsFile;
  if (path === undefined) {
    throw new CliError(
      `the events of ${ctx.target.description} go to the EventBridge bus ${ctx.target.eventBusName ?? '(unknown)'}; subscribe to them with a rule (see the README, "Events"). \`vidflow events\` reads the local runtime's events file.`,
    );
  }
  const reader = new EventsFileReader(path, ctx.out.stderr);
  const matches = (event: EventLine) => options.job === undefined || event.detail.jobId === options.job;
  const print = (event: EventLine) => {
    if (options.json) printJsonLine(ctx.out.stdout, event);
    else ctx.out.stdout.write(`${formatEvent(event)}\n`);
  };

  let existing = (await reader.readNew()).filter(matches);
  if (options.last !== undefined) existing = existing.slice(-options.last);
  if (!options.json && (existing.length > 0 || options.follow)) ctx.out.stdout.write(`${EVENT_HEADER}\n`);
  for (const event of existing) print(event);
  if (!options.follow) {
    if (existing.length === 0 && !options.json) ctx.out.stderr.write(`no events yet in ${path}\n`);
    return 0;
  }

  await untilInterrupted(async (stopped) => {
    while (!stopped()) {
      await sleep(FOLLOW_INTERVAL_MS);
      for (const event of await reader.readNew()) if (matches(event)) print(event);
    }
  });
  return 0;
}

const EVENT_HEADER = `${'TIME (UTC)'.padEnd(19)}  ${'EVENT'.padEnd(13)}  ${'JOB'.padEnd(20)}  ${'ATTEMPT'.padEnd(7)}  DETAIL`;

export function formatEvent(event: EventLine): string {
  const { detail } = event;
  const what =
    detail.output !== undefined
      ? `s3://${detail.output.bucket}/${detail.output.key}`
      : detail.error !== undefined
        ? `${detail.error.code}: ${detail.error.message}`
        : (detail.source?.key ?? '');
  return [
    shortTime(event.time).padEnd(19),
    event.detailType.padEnd(13),
    detail.jobId.padEnd(20),
    String(detail.attempt ?? 1).padEnd(7),
    what,
  ].join('  ');
}

/**
 * Reads a JSON-lines file incrementally: each call returns the complete lines added since the
 * last (a line still being written waits for its newline). A missing file reads as empty.
 */
export class EventsFileReader {
  private offset = 0;
  private partial = '';
  private lineNumber = 0;

  constructor(
    private readonly path: string,
    private readonly warnings: TextSink,
  ) {}

  async readNew(): Promise<EventLine[]> {
    const file = await open(this.path, 'r').catch((error: unknown) => {
      if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (file === undefined) return [];
    let text = '';
    try {
      const { size } = await file.stat();
      if (size < this.offset) {
        // Truncated or replaced: start over.
        this.offset = 0;
        this.partial = '';
      }
      if (size > this.offset) {
        const buffer = Buffer.alloc(size - this.offset);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, this.offset);
        this.offset += bytesRead;
        text = buffer.subarray(0, bytesRead).toString('utf8');
      }
    } finally {
      await file.close();
    }
    const lines = `${this.partial}${text}`.split('\n');
    this.partial = lines.pop() ?? '';
    const events: EventLine[] = [];
    for (const line of lines) {
      this.lineNumber += 1;
      if (line.trim() === '') continue;
      try {
        const raw: unknown = JSON.parse(line);
        // Checked, but the value kept is the line as written (zod would reorder nested keys).
        eventLine.parse(raw);
        events.push(raw as EventLine);
      } catch {
        this.warnings.write(`vidflow: skipped line ${this.lineNumber} of ${this.path}: not a job event\n`);
      }
    }
    return events;
  }
}
