/**
 * The documented event schema (`docs/events/job-event.schema.json`) and the job record shape
 * derived from it: the record is the event detail without `schemaVersion` (README "Events":
 * events carry the job record's fields), in any status.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkJsonSchema } from './json-schema-check.js';

type Schema = Record<string, unknown>;

const SCHEMA_PATH = resolve(import.meta.dirname, '../../docs/events/job-event.schema.json');

export const jobEventDetailSchema: Schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Schema;

/**
 * The job record as `status --json` prints it: the detail schema minus `schemaVersion` and the
 * per-status rules, plus the ETA a record carries while in flight (README "The job record": never
 * in an event, which is emitted at the end, when the ETA is removed).
 */
export const jobRecordSchema: Schema = (() => {
  const { oneOf: _perStatus, ...rest } = structuredClone(jobEventDetailSchema);
  const instant = { $ref: '#/$defs/instant' };
  const properties: Schema = {
    ...(rest.properties as Schema),
    expectedCompletionAt: instant,
    expectedCompletionP90At: instant,
  };
  delete properties.schemaVersion;
  const required = (rest.required as string[]).filter((name) => name !== 'schemaVersion');
  return { ...rest, properties, required };
})();

/** Problems of an event detail against the documented schema. */
export const eventDetailProblems = (detail: unknown): string[] =>
  checkJsonSchema(jobEventDetailSchema, detail);

/** Problems of a job record (CLI `--json` output) against the documented shape. */
export const jobRecordProblems = (record: unknown): string[] => checkJsonSchema(jobRecordSchema, record);
