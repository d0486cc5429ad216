/**
 * Output for people (tables) and for programs (`--json`).
 */

import { toPublicRecord } from '../functions/domain/finalize-job.js';
import type { Job } from '../functions/domain/job.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function publicJob(job: Job) {
  return toPublicRecord(job);
}

export function printTable(rows: readonly (readonly string[])[], header: readonly string[]): void {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  for (const row of all) {
    process.stdout.write(
      `${row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    );
  }
}

export function describeJob(job: Job): string {
  const lines = [
    `job        ${job.jobId}`,
    `status     ${job.status}${job.providerStatus ? ` (provider: ${job.providerStatus})` : ''}`,
    `source     s3://${job.source.bucket}/${job.source.key}`,
    `prompt     ${job.request?.prompt ?? '-'}`,
    `polls      ${job.pollCount}`,
    `created    ${job.createdAt}`,
  ];
  if (job.generationId) lines.push(`generation ${job.generationId}`);
  if (job.output)
    lines.push(`output     s3://${job.output.bucket}/${job.output.key} (${job.output.size} bytes)`);
  if (job.creditsUsed !== undefined) lines.push(`credits    ${job.creditsUsed}`);
  if (job.error) lines.push(`error      ${job.error.code} at ${job.error.stage}: ${job.error.message}`);
  if (job.completedAt) lines.push(`ended      ${job.completedAt}`);
  return lines.join('\n');
}
