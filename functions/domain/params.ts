/**
 * Generation parameters of a drop (README, "Dropping a video"): the provider's published rules
 * (docs/conformance.md) they must pass before any paid call. Where they come from and how
 * sources combine: params-source.ts, params-metadata.ts, params-documents.ts.
 */

import { InputRejectedError, RejectionCode } from './errors.js';
import { type AlephRequest, type GenerationRequest, MODEL } from './job.js';
import { DEFAULT_MODEL_SETTINGS, type ModelSettings } from './models/catalog.js';
import { modelTakesPrompt, resolveModel, validateCatalogRequest } from './models/catalog-request.js';
import { RUNWAY_FRAME_SIZES } from './models/runway.js';
import { compact, type ParamsSource, truncate } from './params-source.js';
import {
  MAX_IMAGE_DATA_URI_CHARS,
  MAX_INPUT_URL_CHARS,
  MAX_REFERENCES,
  REFERENCE_IMAGE_TYPES,
} from './provider-limits.js';

// The drop's parameters in one import: where they come from (params-source.ts,
// params-metadata.ts, params-documents.ts) beside the rules they must pass (this file).
export {
  MAX_PARAMS_DOCUMENT_BYTES,
  type Manifest,
  PARAMS_DOCUMENT_REJECTION,
  type ParamsDocumentKind,
  parseManifest,
  parseParamsDocument,
} from './params-documents.js';
export { parseMetadataParams } from './params-metadata.js';
export { mergeParams, type ParamsSource, parseExactInteger } from './params-source.js';

/** `runway/gen4_aleph`'s frame sizes: Runway publishes one list for its models (models/runway.ts). */
export const FRAME_SIZES = RUNWAY_FRAME_SIZES;
export const DEFAULT_FRAME_SIZE = '1280:720';
export const DEFAULT_DURATION_SECONDS = 5;
export const MAX_PROMPT_CHARACTERS = 1000;
export const MAX_SEED = 4_294_967_295;
const MAX_URL_CHARACTERS = MAX_INPUT_URL_CHARS;

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
