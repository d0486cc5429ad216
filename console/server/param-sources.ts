/**
 * Where each parameter of a job came from. The job record keeps the request sent, not its
 * sources, so they are read again the way submit reads them (manifest, then the video's
 * metadata, its sidecar, the nearest folder preset) and each field is credited to the first
 * source that names it. Sources are read as they are now: one edited since the job started may
 * disagree with the request, which is then said rather than guessed around.
 */

import { presetKeysFor, sidecarKeyOf } from '../../functions/domain/drops.js';
import { isCatalogRequest, type Job } from '../../functions/domain/job.js';
import {
  MAX_PARAMS_DOCUMENT_BYTES,
  type ParamsSource,
  parseManifest,
  parseMetadataParams,
  parseParamsDocument,
} from '../../functions/domain/params.js';
import type { ObjectStore } from '../../functions/domain/ports.js';

export type ParamOrigin = 'manifest' | 'metadata' | 'sidecar' | 'preset' | 'default';

export interface ParamRow {
  /** A common parameter (`prompt`, `frameSize`, ...), `model`, or a catalog model's own field. */
  readonly name: string;
  /** The value sent to the provider (from the job record). */
  readonly value: string;
  readonly origin: ParamOrigin;
  /** The object it was read from, e.g. `s3://in/trips/_defaults.json`. */
  readonly from?: string;
  /** Set when today's source no longer says what was sent. */
  readonly note?: string;
}

interface Found {
  readonly origin: Exclude<ParamOrigin, 'default'>;
  readonly uri: string;
  readonly params: ParamsSource;
}

/** The parameters sent for `job`, each with its source; empty when no request was made. */
export async function paramSourcesOf(
  job: Job,
  objects: ObjectStore,
): Promise<{
  readonly rows: readonly ParamRow[];
  readonly problems: readonly string[];
}> {
  const request = job.request;
  if (request === undefined) return { rows: [], problems: [] };
  const problems: string[] = [];
  const sources = await readSources(job, objects, problems);
  const fields: { name: string; value: unknown }[] = isCatalogRequest(request)
    ? [
        { name: 'model', value: request.model },
        { name: 'prompt', value: request.prompt },
        { name: 'frameSize', value: request.frameSize },
        ...Object.entries(request.fields).map(([name, value]) => ({ name, value })),
      ]
    : [
        { name: 'prompt', value: request.prompt },
        { name: 'frameSize', value: request.frameSize },
        { name: 'duration', value: request.duration },
        { name: 'seed', value: request.seed },
        { name: 'references', value: request.references },
      ];
  const named = (params: ParamsSource, name: string): unknown =>
    (params as Readonly<Record<string, unknown>>)[name] ?? params.modelFields?.[name];
  const rows: ParamRow[] = [];
  for (const { name, value } of fields) {
    if (value === undefined) continue;
    const text = Array.isArray(value)
      ? value.join(', ')
      : typeof value === 'object' && value !== null
        ? JSON.stringify(value)
        : String(value);
    const source = sources.find((candidate) => named(candidate.params, name) !== undefined);
    if (source === undefined) {
      rows.push({ name, value: text, origin: 'default' });
      continue;
    }
    const said = named(source.params, name);
    const agrees =
      (Array.isArray(said)
        ? said.join(', ')
        : typeof said === 'object' && said !== null
          ? JSON.stringify(said)
          : String(said)) === text;
    rows.push({
      name,
      value: text,
      origin: source.origin,
      from: source.uri,
      ...(agrees
        ? {}
        : { note: `${source.origin} now says "${String(said)}"; it changed after the job started` }),
    });
  }
  return { rows, problems };
}

async function readSources(job: Job, objects: ObjectStore, problems: string[]): Promise<Found[]> {
  const found: Found[] = [];
  const bucket = job.source.bucket;
  const uri = (key: string) => `s3://${bucket}/${key}`;
  const readDocument = async (key: string): Promise<string | undefined> => {
    try {
      return (await objects.readText({ bucket, key }, MAX_PARAMS_DOCUMENT_BYTES))?.text;
    } catch (error) {
      problems.push(`could not read ${uri(key)}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  };
  const attempt = (origin: Found['origin'], key: string, parse: () => ParamsSource) => {
    try {
      found.push({ origin, uri: uri(key), params: parse() });
    } catch (error) {
      problems.push(
        `${uri(key)} no longer parses: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  };
  if (job.trigger.kind === 'manifest') {
    const text = await readDocument(job.trigger.key);
    if (text === undefined) problems.push(`the manifest ${uri(job.trigger.key)} is gone`);
    else attempt('manifest', job.trigger.key, () => parseManifest(text).params);
  }
  const head = await objects.head({ bucket, key: job.source.key });
  if (head === undefined)
    problems.push(`the input ${uri(job.source.key)} is gone, so its metadata cannot be read`);
  else attempt('metadata', job.source.key, () => parseMetadataParams(head.metadata));
  const sidecarKey = sidecarKeyOf(job.source.key);
  const sidecar = await readDocument(sidecarKey);
  if (sidecar !== undefined) attempt('sidecar', sidecarKey, () => parseParamsDocument(sidecar, 'sidecar'));
  for (const presetKey of presetKeysFor(job.source.key)) {
    const preset = await readDocument(presetKey);
    if (preset !== undefined) {
      attempt('preset', presetKey, () => parseParamsDocument(preset, 'preset'));
      break;
    }
  }
  return found;
}
