/**
 * A drop's parameter documents: a sidecar (`<video key>.json`), a folder preset
 * (`_defaults.json`) or a `jobs/` manifest, parsed into a {@link ParamsSource} (README, "Dropping a video").
 */
import { InputRejectedError, RejectionCode } from './errors.js';
import { MODEL } from './job.js';
import { compact, type ParamsSource, parseExactInteger, truncate } from './params-source.js';

/** Largest sidecar, preset or manifest read; anything bigger is refused unread. */
export const MAX_PARAMS_DOCUMENT_BYTES = 64 * 1024;

export type ParamsDocumentKind = 'sidecar' | 'preset' | 'manifest';

/** A sidecar, preset or manifest as written, once its fields have their documented types. */
interface ParamsDocument {
  readonly prompt?: string;
  readonly frame_size?: string;
  readonly duration?: number;
  readonly seed?: number;
  readonly references?: readonly (string | { readonly type: 'image'; readonly url: string })[];
  readonly model?: string;
}

interface ManifestDocument extends ParamsDocument {
  readonly video: string;
}

const DOCUMENT_FIELDS = ['prompt', 'frame_size', 'duration', 'seed', 'references', 'model'] as const;
const MANIFEST_FIELDS = [...DOCUMENT_FIELDS, 'video'] as const;

export const PARAMS_DOCUMENT_REJECTION: Readonly<Record<ParamsDocumentKind, RejectionCode>> = {
  sidecar: RejectionCode.sidecarInvalid,
  preset: RejectionCode.presetInvalid,
  manifest: RejectionCode.manifestInvalid,
};

/** A parsed `jobs/` manifest: the video to run and the parameters to run it with. */
export interface Manifest {
  readonly video: string;
  readonly params: ParamsSource;
}

/**
 * Parse a sidecar (`<video key>.json`) or folder preset (`_defaults.json`).
 * @throws InputRejectedError `SIDECAR_INVALID` / `PRESET_INVALID` when the text is not a JSON
 *   object of the documented fields with the documented types.
 */
export function parseParamsDocument(text: string, kind: 'sidecar' | 'preset'): ParamsSource {
  return parseDocument(text, kind);
}

/**
 * Parse a `jobs/*.json` manifest.
 * @throws InputRejectedError `MANIFEST_INVALID`.
 */
export function parseManifest(text: string): Manifest {
  const params = parseDocument(text, 'manifest');
  return { video: (JSON.parse(text) as ManifestDocument).video, params };
}

function parseDocument(text: string, kind: ParamsDocumentKind): ParamsSource {
  const code = PARAMS_DOCUMENT_REJECTION[kind];
  if (Buffer.byteLength(text, 'utf8') > MAX_PARAMS_DOCUMENT_BYTES) {
    throw new InputRejectedError(code, `${kind} is larger than ${MAX_PARAMS_DOCUMENT_BYTES} bytes`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputRejectedError(code, `${kind} is not valid JSON`, { cause: error });
  }
  const allowed: readonly string[] = kind === 'manifest' ? MANIFEST_FIELDS : DOCUMENT_FIELDS;
  const issues = documentIssues(json, allowed);
  const extra = issues.filter((issue) => issue.startsWith('document: unknown field'));
  const invalid = issues.filter((issue) => !extra.includes(issue));
  if (invalid.length > 0) {
    const model = (json as { readonly model?: unknown } | null)?.model;
    const namesModel = typeof model === 'string' && model !== MODEL;
    const shown = namesModel ? invalid : issues;
    throw new InputRejectedError(code, `${kind} is invalid: ${shown.slice(0, 3).join('; ')}`);
  }
  refuseInexactNumbers(text, kind);
  const doc = json as Readonly<Record<string, unknown>>;
  const modelFields = Object.fromEntries(Object.entries(doc).filter(([field]) => !allowed.includes(field)));
  return compact({
    ...fromDocument(json as ParamsDocument),
    modelFields: extra.length > 0 ? modelFields : undefined,
    unknownFields:
      extra.length > 0 ? { code, message: `${kind} is invalid: ${extra.slice(0, 3).join('; ')}` } : undefined,
  });
}

/**
 * What is wrong with a parsed document, one `<where>: <what>` line per problem: not an object,
 * unknown fields, fields of the wrong type, a manifest without a video.
 */
function documentIssues(json: unknown, allowed: readonly string[]): string[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return [`document: expected a JSON object, got ${describeType(json)}`];
  }
  const doc = json as Readonly<Record<string, unknown>>;
  const issues: string[] = [];
  for (const field of Object.keys(doc)) {
    if (!allowed.includes(field)) issues.push(`document: unknown field "${truncate(field, 40)}"`);
  }
  const checkType = (field: string, type: 'string' | 'number') => {
    const value = doc[field];
    if (value !== undefined && typeof value !== type) {
      issues.push(`${field}: expected a ${type}, got ${describeType(value)}`);
    }
  };
  checkType('prompt', 'string');
  checkType('frame_size', 'string');
  checkType('duration', 'number');
  checkType('seed', 'number');
  checkType('model', 'string');
  const references = doc.references;
  if (references !== undefined) {
    if (!Array.isArray(references)) {
      issues.push(`references: expected an array, got ${describeType(references)}`);
    } else {
      references.forEach((reference: unknown, index) => {
        if (!isReference(reference)) {
          issues.push(
            `references.${index}: expected a URL string or {"type": "image", "url": "..."}, got ${describeType(reference)}`,
          );
        }
      });
    }
  }
  if (allowed.includes('video')) {
    const video = doc.video;
    if (video === undefined) issues.push('video: is required');
    else if (typeof video !== 'string') issues.push(`video: expected a string, got ${describeType(video)}`);
    else if (video.length === 0) issues.push('video: must not be empty');
  }
  return issues;
}

const JSON_TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
const NUMBER_FIELD_REJECTION: Readonly<Record<string, RejectionCode>> = {
  seed: RejectionCode.seedInvalid,
  duration: RejectionCode.durationInvalid,
};

/**
 * JSON.parse turns `42.0000000000000001`, `4.2e1` and `5.0` into plain integers: the numeric
 * fields are checked on their literal text instead, so only exact plain-decimal integers pass.
 * @throws InputRejectedError `SEED_INVALID` / `DURATION_INVALID`.
 */
function refuseInexactNumbers(text: string, kind: ParamsDocumentKind): void {
  let previous = '';
  for (const match of text.matchAll(JSON_TOKEN)) {
    const token = match[0];
    if (token.startsWith('"')) {
      const after = text.slice((match.index ?? 0) + token.length).trimStart();
      previous = after.startsWith(':') ? (JSON.parse(token) as string) : '';
      continue;
    }
    const field = previous;
    previous = '';
    const rejection = NUMBER_FIELD_REJECTION[field];
    if (rejection !== undefined && parseExactInteger(token) === undefined) {
      throw new InputRejectedError(
        rejection,
        `${kind} ${field} ${truncate(token, 40)} is not an integer in plain decimal digits`,
      );
    }
  }
}

function isReference(value: unknown): boolean {
  if (typeof value === 'string') return true;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  const record = value as Readonly<Record<string, unknown>>;
  return (
    keys.length === 2 &&
    keys.includes('type') &&
    keys.includes('url') &&
    record.type === 'image' &&
    typeof record.url === 'string'
  );
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function fromDocument(doc: ParamsDocument): ParamsSource {
  return compact({
    prompt: doc.prompt,
    frameSize: doc.frame_size,
    duration: doc.duration,
    seed: doc.seed,
    references: doc.references?.map((reference) =>
      typeof reference === 'string' ? reference : reference.url,
    ),
    model: doc.model,
  });
}
