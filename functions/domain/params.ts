/**
 * Generation parameters of a drop (contract section 1): where they come from, how sources
 * combine, and the provider's published rules (docs/conformance.md) they must pass before any paid call.
 */

import { InputRejectedError, RejectionCode } from './errors.js';
import { type AlephRequest, type GenerationRequest, MODEL } from './job.js';
import { DEFAULT_MODEL_SETTINGS, type ModelSettings } from './models/catalog.js';
import { modelTakesPrompt, resolveModel, validateCatalogRequest } from './models/catalog-request.js';
import { RUNWAY_FRAME_SIZES } from './models/runway.js';
import {
  MAX_IMAGE_DATA_URI_CHARS,
  MAX_INPUT_URL_CHARS,
  MAX_REFERENCES,
  REFERENCE_IMAGE_TYPES,
} from './provider-limits.js';

/** `runway/gen4_aleph`'s frame sizes: Runway publishes one list for its models (models/runway.ts). */
export const FRAME_SIZES = RUNWAY_FRAME_SIZES;
export const DEFAULT_FRAME_SIZE = '1280:720';
export const DEFAULT_DURATION_SECONDS = 5;
export const MAX_PROMPT_CHARACTERS = 1000;
export const MAX_SEED = 4_294_967_295;
/** Largest sidecar, preset or manifest read; anything bigger is refused unread. */
export const MAX_PARAMS_DOCUMENT_BYTES = 64 * 1024;
const MAX_URL_CHARACTERS = MAX_INPUT_URL_CHARS;

/** Parameters from one source, before validation. Absent fields fall through to the next source. */
export interface ParamsSource {
  readonly prompt?: string;
  readonly frameSize?: string;
  readonly duration?: number;
  readonly seed?: number;
  readonly references?: readonly string[];
  /** The catalog model to run (functions/domain/models/); absent: the deployment's default. */
  readonly model?: string;
  /** A document's other fields, under the model's published names; merged field by field. */
  readonly modelFields?: Readonly<Record<string, unknown>>;
  /**
   * A document's fields that are not common ones, as the rejection `runway/gen4_aleph` drops have
   * always got for them (other models take them as `modelFields`).
   */
  readonly unknownFields?: { readonly code: RejectionCode; readonly message: string };
}

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

/**
 * Read the parameters carried by a video's S3 user metadata (`prompt`, `frame-size`,
 * `duration`, `seed`, `references`). The prompt may be percent-encoded UTF-8, since S3
 * metadata is ASCII only.
 * @throws InputRejectedError when a numeric field is not a number, or the prompt's
 *   percent-encoding is broken.
 */
export function parseMetadataParams(metadata: Readonly<Record<string, string>>): ParamsSource {
  // An empty value counts as absent (S3 consoles and CLIs write empty values easily), so it
  // never hides a sidecar's or preset's real one. A value of blanks is a value, and refused.
  const get = (name: string): string | undefined => {
    const value = metadata[name] ?? metadata[name.toLowerCase()];
    return value === '' ? undefined : value;
  };
  const prompt = get('prompt');
  const frameSize = get('frame-size');
  const duration = get('duration');
  const seed = get('seed');
  const references = get('references');
  const model = get('model')?.trim();
  return compact({
    model,
    prompt: prompt === undefined ? undefined : decodeMetadataPrompt(prompt),
    frameSize: frameSize?.trim(),
    duration:
      duration === undefined
        ? undefined
        : parseMetadataNumber(duration, RejectionCode.durationInvalid, 'duration'),
    seed: seed === undefined ? undefined : parseMetadataNumber(seed, RejectionCode.seedInvalid, 'seed'),
    references:
      references === undefined
        ? undefined
        : references
            .split(',')
            .map((url) => url.trim())
            .filter((url) => url.length > 0),
  });
}

/**
 * A value S3 hands back RFC 2047-encoded: real S3 returns user metadata that was stored with
 * non-ASCII characters as `=?UTF-8?B?<base64>?=` (or `Q` encoding), one or more words.
 */
const RFC2047_WORDS = /^(?:=\?UTF-8\?[BQ]\?[^?]*\?=\s*)+$/i;
const RFC2047_WORD = /=\?UTF-8\?([BQ])\?([^?]*)\?=/gi;

function decodeRfc2047(raw: string): string {
  const bytes: number[] = [];
  for (const [, encoding, text = ''] of raw.matchAll(RFC2047_WORD)) {
    if (encoding?.toUpperCase() === 'B') {
      bytes.push(...Buffer.from(text, 'base64'));
    } else {
      const quoted = text.replace(/_/g, ' ');
      for (let i = 0; i < quoted.length; i += 1) {
        const hex = quoted[i] === '=' ? quoted.slice(i + 1, i + 3) : '';
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
          bytes.push(Number.parseInt(hex, 16));
          i += 2;
        } else {
          bytes.push(quoted.charCodeAt(i));
        }
      }
    }
  }
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
  if (decoded.includes('\uFFFD')) {
    throw new InputRejectedError(
      RejectionCode.metadataInvalid,
      'metadata prompt has broken RFC 2047 encoding',
    );
  }
  return decoded;
}

function decodeMetadataPrompt(raw: string): string {
  if (RFC2047_WORDS.test(raw.trim())) return decodeRfc2047(raw.trim());
  // A value with no escape sequence is taken as it is, so "100% natural" stays readable.
  if (!/%[0-9A-Fa-f]{2}/.test(raw)) return raw;
  try {
    return decodeURIComponent(raw);
  } catch (error) {
    throw new InputRejectedError(
      RejectionCode.metadataInvalid,
      'metadata prompt has broken percent-encoding',
      {
        cause: error,
      },
    );
  }
}

function parseMetadataNumber(raw: string, code: RejectionCode, field: string): number {
  const value = parseExactInteger(raw.trim());
  if (value === undefined) {
    throw new InputRejectedError(
      code,
      `metadata ${field} "${truncate(raw.trim(), 40)}" is not an integer in plain decimal digits`,
    );
  }
  return value;
}

const PLAIN_DECIMAL_INTEGER = /^-?[0-9]+$/;

/**
 * The value of `text` when it is exactly an integer written in plain decimal (`42`, `-7`,
 * `007`), else undefined: no sign `+`, fraction (`5.0`), exponent (`1e3`), hex, spaces, digit
 * characters of other scripts, or value beyond exact double precision. Used for S3 metadata,
 * JSON number literals and the CLI's numeric options alike.
 */
export function parseExactInteger(text: string): number | undefined {
  if (!PLAIN_DECIMAL_INTEGER.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Combine sources field by field, the first source that has a field winning. */
export function mergeParams(...sourcesHighestFirst: readonly (ParamsSource | undefined)[]): ParamsSource {
  const merged: { -readonly [K in keyof ParamsSource]: ParamsSource[K] } = {};
  for (const source of [...sourcesHighestFirst].reverse()) {
    if (source === undefined) continue;
    const modelFields = { ...merged.modelFields, ...source.modelFields };
    Object.assign(merged, compact(source));
    if (Object.keys(modelFields).length > 0) merged.modelFields = modelFields;
  }
  return merged;
}

/**
 * False when the drop's model takes a prompt and no source named one: the job waits in
 * `AWAITING_PROMPT`. True for a model without prompt, and for a model that is not in the catalog
 * or not allowed (so that validation rejects it).
 */
export function hasPrompt(params: ParamsSource, models: ModelSettings = DEFAULT_MODEL_SETTINGS): boolean {
  if (params.prompt !== undefined) return true;
  try {
    const spec = resolveModel(params, models);
    if (spec.id === MODEL) return params.unknownFields !== undefined;
    return !modelTakesPrompt(spec);
  } catch {
    return true;
  }
}

// C0 and C1 control characters other than tab, line feed and carriage return.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/**
 * Characters that render as nothing on their own: white space and separators, controls, format
 * characters (zero-width space and joiners, BOM, bidi marks, soft hyphen), default-ignorable
 * code points (variation selectors, tags, Hangul fillers), combining marks with no base, and the
 * blank Braille pattern.
 */
const INVISIBLE_CHARACTER =
  /[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Mn}\p{Me}\u2800\u3164\uFFA0\u115F\u1160]/u;

/** True when `prompt` has no character that renders as something visible. */
export function isBlankPrompt(prompt: string): boolean {
  for (const character of prompt) if (!INVISIBLE_CHARACTER.test(character)) return false;
  return true;
}

/**
 * Check a prompt against the provider's rules.
 * @throws InputRejectedError `PROMPT_MISSING` when nothing in it is visible, `PROMPT_TOO_LONG`,
 *   `PROMPT_INVALID` (control characters).
 */
export function validatePrompt(prompt: string): void {
  if (isBlankPrompt(prompt)) {
    throw new InputRejectedError(
      RejectionCode.promptMissing,
      'the prompt is blank: nothing in it is visible',
    );
  }
  // Upstream counts UTF-16 code units (JavaScript's length): an emoji counts as two.
  if (prompt.length > MAX_PROMPT_CHARACTERS) {
    throw new InputRejectedError(
      RejectionCode.promptTooLong,
      `the prompt has ${prompt.length} characters (UTF-16 code units, as the provider counts); it accepts at most ${MAX_PROMPT_CHARACTERS}`,
    );
  }
  if (CONTROL_CHARACTERS.test(prompt)) {
    throw new InputRejectedError(RejectionCode.promptInvalid, 'the prompt contains control characters');
  }
}

/**
 * Check a seed: an exact integer from 0 to {@link MAX_SEED}.
 * @throws InputRejectedError `SEED_INVALID`.
 */
export function validateSeed(seed: number): void {
  if (!(Number.isSafeInteger(seed) && seed >= 0 && seed <= MAX_SEED)) {
    throw new InputRejectedError(
      RejectionCode.seedInvalid,
      `seed ${seed} is not an integer from 0 to ${MAX_SEED}`,
    );
  }
}

/**
 * Check a duration: only 5 seconds is allowed.
 * @throws InputRejectedError `DURATION_INVALID`.
 */
export function validateDuration(duration: number): void {
  if (duration !== DEFAULT_DURATION_SECONDS) {
    throw new InputRejectedError(
      RejectionCode.durationInvalid,
      `duration ${duration} is not allowed; only ${DEFAULT_DURATION_SECONDS} seconds is`,
    );
  }
}

/**
 * Validate a drop's merged parameters against its model's rules: `runway/gen4_aleph` by
 * {@link validateRequest}, every other catalog model by its published field rules.
 * @throws InputRejectedError `MODEL_UNKNOWN`, `MODEL_NOT_ALLOWED`, `MODEL_FIELD_UNKNOWN`,
 *   `MODEL_FIELD_INVALID` (naming the model and the field), or a `runway/gen4_aleph` rule's code.
 */
export function validateDropRequest(
  params: ParamsSource,
  models: ModelSettings = DEFAULT_MODEL_SETTINGS,
): GenerationRequest {
  const spec = resolveModel(params, models);
  return spec.id === MODEL ? validateRequest(params) : validateCatalogRequest(spec, params);
}

/**
 * Validate merged parameters of a `runway/gen4_aleph` drop against the provider's published rules and fill the provider's defaults.
 * @throws InputRejectedError with the code of the first rule broken.
 */
export function validateRequest(params: ParamsSource): AlephRequest {
  if (params.unknownFields !== undefined) {
    throw new InputRejectedError(params.unknownFields.code, params.unknownFields.message);
  }
  const prompt = params.prompt;
  if (prompt === undefined) throw new InputRejectedError(RejectionCode.promptMissing, 'no prompt was given');
  validatePrompt(prompt);
  const frameSize = params.frameSize ?? DEFAULT_FRAME_SIZE;
  if (!(FRAME_SIZES as readonly string[]).includes(frameSize)) {
    throw new InputRejectedError(
      RejectionCode.frameSizeInvalid,
      `frame size "${truncate(frameSize, 40)}" is not one of ${FRAME_SIZES.join(', ')}`,
    );
  }
  const duration = params.duration ?? DEFAULT_DURATION_SECONDS;
  validateDuration(duration);
  const seed = params.seed;
  if (seed !== undefined) validateSeed(seed);
  const references = params.references;
  if (references !== undefined) {
    if (references.length > MAX_REFERENCES) {
      throw new InputRejectedError(
        RejectionCode.referencesInvalid,
        `${references.length} references were given; the provider takes at most ${MAX_REFERENCES}`,
      );
    }
    for (const url of references) validateReferenceUrl(url);
  }
  return compact({
    model: MODEL,
    prompt,
    frameSize,
    duration,
    seed,
    references: references !== undefined && references.length > 0 ? [...references] : undefined,
  }) as AlephRequest;
}

/** A reference is an HTTPS URL or a base64 `data:` URI of a JPEG, PNG or WebP image, within upstream's limits. */
function validateReferenceUrl(url: string): void {
  const reject = (why: string) =>
    new InputRejectedError(RejectionCode.referencesInvalid, `reference "${truncate(url, 60)}" ${why}`);
  if (url.startsWith('data:')) {
    const type = /^data:([^;,]+);base64,[A-Za-z0-9+/]+={0,2}$/.exec(url)?.[1]?.toLowerCase();
    if (type === undefined) throw reject('is not a base64 data: URI');
    if (!(REFERENCE_IMAGE_TYPES as readonly string[]).includes(type)) {
      throw reject(`is a ${type} data: URI; the provider takes ${REFERENCE_IMAGE_TYPES.join(', ')}`);
    }
    if (url.length > MAX_IMAGE_DATA_URI_CHARS) {
      throw reject(
        `is ${url.length} characters long; an image data: URI may have at most ${MAX_IMAGE_DATA_URI_CHARS}`,
      );
    }
    return;
  }
  if (url.length > MAX_URL_CHARACTERS) throw reject(`is longer than ${MAX_URL_CHARACTERS} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw reject('is not a URL');
  }
  if (parsed.protocol !== 'https:') throw reject('is not an HTTPS URL');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
