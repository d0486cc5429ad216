/**
 * Output for people (tables, sentences) and for programs (`--json`). Commands write to a
 * {@link CliOutput} rather than to `process.stdout`, so tests can run them in-process.
 */
import cliTruncate from 'cli-truncate';
import stringWidth from 'string-width';
import { toPublicRecord } from '../functions/domain/finalize-job.js';
import type { Job } from '../functions/domain/job.js';

/** Where a command writes: a terminal, a pipe, or a test's buffer. */
export interface TextSink {
  write(text: string): unknown;
  /** True on a terminal: progress may then rewrite its line. */
  readonly isTTY?: boolean;
  /** Terminal width, when known. */
  readonly columns?: number;
}

export interface CliOutput {
  /** Results: what `--json` consumers and pipes read. */
  readonly stdout: TextSink;
  /** Progress, hints and errors. */
  readonly stderr: TextSink;
}

export const processOutput: CliOutput = { stdout: process.stdout, stderr: process.stderr };

export function printJson(sink: TextSink, value: unknown): void {
  sink.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON value per line (for streams: `watch --json`, `events --json`). */
export function printJsonLine(sink: TextSink, value: unknown): void {
  sink.write(`${JSON.stringify(value)}\n`);
}

/** The job record as users see it (`status --json`, events, `<jobId>.json`). */
export function publicJob(job: Job) {
  return toPublicRecord(job);
}

/** Columns are never shrunk below this many terminal cells (or their header, if narrower). */
const MIN_FITTED_COLUMN = 8;
const COLUMN_GAP = '  ';

/**
 * The widths of a table's columns in terminal cells: each as wide as its widest cell (CJK
 * characters and emoji count two), then, when `columns` is given and the table is wider, the
 * widest column narrowed first until the table fits (or every column is at its minimum).
 */
export function columnWidths(
  rows: readonly (readonly string[])[],
  columnCount: number,
  columns?: number,
): number[] {
  const widths = Array.from({ length: columnCount }, (_, column) =>
    Math.max(0, ...rows.map((row) => stringWidth(row[column] ?? ''))),
  );
  if (columns === undefined || columns <= 0) return widths;
  const minimum = widths.map((width, column) =>
    Math.min(width, Math.max(MIN_FITTED_COLUMN, stringWidth(rows[0]?.[column] ?? ''))),
  );
  const total = () => widths.reduce((sum, width) => sum + width, 0) + COLUMN_GAP.length * (columnCount - 1);
  // Keep one cell free: a line exactly as wide as the terminal wraps on some terminals.
  while (total() > columns - 1) {
    let widest = -1;
    for (let column = 0; column < columnCount; column += 1) {
      const width = widths[column] ?? 0;
      if (width > (minimum[column] ?? 0) && (widest < 0 || width > (widths[widest] ?? 0))) widest = column;
    }
    if (widest < 0) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
  }
  return widths;
}

/**
 * A table for people: columns aligned by display width, and fitted to the terminal (`sink.columns`)
 * by shortening the widest cells with an ellipsis. In a pipe (no `columns`) nothing is cut.
 */
export function printTable(
  sink: TextSink,
  rows: readonly (readonly string[])[],
  header: readonly string[],
): void {
  const all = [header, ...rows];
  const widths = columnWidths(all, header.length, sink.isTTY === true ? sink.columns : undefined);
  for (const row of all) {
    const cells = header.map((_, column) => {
      const width = widths[column] ?? 0;
      const cell = row[column] ?? '';
      const fitted = stringWidth(cell) > width ? cliTruncate(cell, width, { position: 'end' }) : cell;
      return fitted + ' '.repeat(Math.max(0, width - stringWidth(fitted)));
    });
    sink.write(`${cells.join(COLUMN_GAP).trimEnd()}\n`);
  }
}

/** `2024-05-01T12:00:00.000Z` -> `2024-05-01 12:00:00`. */
export function shortTime(iso: string): string {
  return iso.slice(0, 19).replace('T', ' ');
}

/** 950 -> `0.9s`, 75_000 -> `1m15s`, 4_000_000 -> `1h06m`. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const whole = Math.floor(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

export function describeJob(job: Job): string {
  const lines = [
    `job        ${job.jobId}`,
    `status     ${job.status}${job.providerStatus ? ` (provider: ${job.providerStatus})` : ''}`,
    `source     s3://${job.source.bucket}/${job.source.key}`,
    `model      ${job.request?.model ?? '-'}`,
    `prompt     ${job.request?.prompt ?? '-'}`,
    `attempt    ${job.attempt}`,
    `polls      ${job.pollCount}`,
    `created    ${job.createdAt}`,
  ];
  if (job.generationId) lines.push(`generation ${job.generationId}`);
  if (job.output)
    lines.push(`output     s3://${job.output.bucket}/${job.output.key} (${job.output.size} bytes)`);
  if (job.creditsUsed !== undefined) lines.push(`credits    ${job.creditsUsed}`);
  if (job.error) lines.push(`error      ${job.error.code} at ${job.error.stage}: ${job.error.message}`);
  if (job.completedAt) lines.push(`ended      ${job.completedAt}`);
  for (const previous of job.attempts ?? []) {
    lines.push(
      `attempt ${previous.attempt}  ${previous.status}${previous.error ? ` ${previous.error.code}` : ''}${previous.completedAt ? ` at ${previous.completedAt}` : ''}`,
    );
  }
  return lines.join('\n');
}
