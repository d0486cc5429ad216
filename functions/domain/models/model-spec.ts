/**
 * How a catalog model is described: its id, the published request fields with their rules, the
 * field that carries the drop's video, and the figures the pipeline plans with. Each field's rule
 * is a `zod/mini` schema (tree-shakable: about 20 KB of a Lambda bundle, where full zod was 444 KB)
 * built next to the plain description that `vidflow models` prints, so the two cannot drift.
 */
import * as z from 'zod/mini';

/** One request field as published, for people (`vidflow models`) and for validation. */
export interface FieldRule {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array';
  readonly required: boolean;
  readonly description: string;
  /** The provider's default, applied by the provider when the field is left out. */
  readonly default?: unknown;
  readonly enum?: readonly (string | number)[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  /** The rule in words, used in rejection messages (`an integer from 1 to 5`). */
  readonly rule: string;
  readonly schema: z.ZodMiniType;
}

/** Where the drop's video goes in the body: a `video_url` string, or a `{ type: "video", url }` object. */
export interface VideoField {
  readonly name: string;
  readonly shape: 'url' | 'video-object';
}

export interface ModelSpec {
  /** The provider's model id, sent as `model`. */
  readonly id: string;
  /** The provider's published OpenAPI file the rules come from (repository `aimlapi/api-docs`). */
  readonly openApiFile: string;
  readonly summary: string;
  readonly video: VideoField;
  /** Every documented field but `model` and the video field. */
  readonly fields: readonly FieldRule[];
  /** What a completed generation returns. */
  readonly outputs: readonly 'video'[];
  /** Credits reserved against the daily budget until the real cost is known. */
  estimateCredits(fields: Readonly<Record<string, unknown>>): number;
  /** Typical processing time of one generation, in seconds: the polling prior. */
  readonly typicalProcessingSeconds: number;
}

/** The longest input URL Runway-family providers fetch. */
const MAX_URL_CHARACTERS = 2048;

/** An HTTPS URL of at most 2,048 characters, or a `data:` URI: what the provider can fetch. */
export function isMediaUri(value: string): boolean {
  if (value.startsWith('data:')) return /^data:[^,]*,./s.test(value);
  if (value.length > MAX_URL_CHARACTERS) return false;
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}

const MEDIA_URI_RULE = 'an HTTPS URL (at most 2,048 characters) or a data: URI';
const mediaUri = () => z.string().check(z.refine(isMediaUri));

interface Common {
  readonly description: string;
  readonly required?: boolean;
}

function range(kind: string, minimum?: number, maximum?: number): string {
  if (minimum !== undefined && maximum !== undefined) return `${kind} from ${minimum} to ${maximum}`;
  if (minimum !== undefined) return `${kind} of at least ${minimum}`;
  if (maximum !== undefined) return `${kind} of at most ${maximum}`;
  return kind;
}

/** `1 to 7`, `at least 1`, `at most 7`. */
function span(minimum?: number, maximum?: number): string {
  if (minimum !== undefined && maximum !== undefined) return `${minimum} to ${maximum}`;
  if (minimum !== undefined) return `at least ${minimum}`;
  return `at most ${maximum}`;
}

function withDefault<T>(value: T | undefined): { readonly default?: T } {
  return value === undefined ? {} : { default: value };
}

/** What every field rule starts with: its name, its type, whether it is required, its words. */
function fieldBase(
  name: string,
  type: FieldRule['type'],
  options: Common,
): Pick<FieldRule, 'name' | 'type' | 'required' | 'description'> {
  return { name, type, required: options.required ?? false, description: options.description };
}

/** The `zod/mini` length checks of a string or a list, for the bounds that are set. */
function lengthChecks(minimum: number | undefined, maximum: number | undefined) {
  return [
    ...(minimum === undefined ? [] : [z.minLength(minimum)]),
    ...(maximum === undefined ? [] : [z.maxLength(maximum)]),
  ];
}

export function stringField(
  name: string,
  options: Common & { readonly minLength?: number; readonly maxLength?: number },
): FieldRule {
  const checks = lengthChecks(options.minLength, options.maxLength);
  const lengths =
    options.minLength !== undefined || options.maxLength !== undefined
      ? ` of ${span(options.minLength, options.maxLength)} characters`
      : '';
  return {
    ...fieldBase(name, 'string', options),
    ...(options.minLength === undefined ? {} : { minLength: options.minLength }),
    ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }),
    rule: `a string${lengths}`,
    schema: checks.length === 0 ? z.string() : z.string().check(...checks),
  };
}

export function numberField(
  name: string,
  options: Common & {
    readonly integer: boolean;
    readonly minimum?: number;
    readonly maximum?: number;
    readonly default?: number;
  },
): FieldRule {
  const base = options.integer ? z.int() : z.number();
  const checks = [
    ...(options.minimum === undefined ? [] : [z.gte(options.minimum)]),
    ...(options.maximum === undefined ? [] : [z.lte(options.maximum)]),
  ];
  return {
    ...fieldBase(name, options.integer ? 'integer' : 'number', options),
    ...withDefault(options.default),
    ...(options.minimum === undefined ? {} : { minimum: options.minimum }),
    ...(options.maximum === undefined ? {} : { maximum: options.maximum }),
    rule: range(options.integer ? 'an integer' : 'a number', options.minimum, options.maximum),
    schema: checks.length === 0 ? base : base.check(...checks),
  };
}

export function booleanField(name: string, options: Common & { readonly default?: boolean }): FieldRule {
  return {
    ...fieldBase(name, 'boolean', options),
    ...withDefault(options.default),
    rule: 'true or false',
    schema: z.boolean(),
  };
}

export function enumField(
  name: string,
  values: readonly [string, ...string[]],
  options: Common & { readonly default?: string },
): FieldRule {
  return {
    ...fieldBase(name, 'string', options),
    ...withDefault(options.default),
    enum: values,
    rule: `one of ${values.join(', ')}`,
    schema: z.enum(values),
  };
}

/** A string the published description limits to a few values, compared without case. */
export function caseInsensitiveEnumField(
  name: string,
  values: readonly string[],
  options: Common & { readonly default?: string },
): FieldRule {
  const lower = values.map((value) => value.toLowerCase());
  return {
    ...fieldBase(name, 'string', options),
    ...withDefault(options.default),
    enum: values,
    rule: `one of ${values.join(', ')} (any case)`,
    schema: z.string().check(z.refine((value) => lower.includes(value.toLowerCase()))),
  };
}

export function mediaUriListField(
  name: string,
  options: Common & { readonly minItems?: number; readonly maxItems?: number },
): FieldRule {
  const checks = lengthChecks(options.minItems, options.maxItems);
  const items = z.array(mediaUri());
  return {
    ...fieldBase(name, 'array', options),
    ...(options.minItems === undefined ? {} : { minItems: options.minItems }),
    ...(options.maxItems === undefined ? {} : { maxItems: options.maxItems }),
    rule:
      options.minItems === undefined && options.maxItems === undefined
        ? `a list, each item ${MEDIA_URI_RULE}`
        : `a list of ${span(options.minItems, options.maxItems)} items, each ${MEDIA_URI_RULE}`,
    schema: checks.length === 0 ? items : items.check(...checks),
  };
}

/** `{ "type": <one of types>, "url": <media URI> }`, as Runway's `character` and `reference`. */
export function mediaObjectField(
  name: string,
  types: readonly [string, ...string[]],
  options: Common,
): FieldRule {
  return {
    ...fieldBase(name, 'object', options),
    rule: `an object { "type": ${types.map((type) => `"${type}"`).join(' or ')}, "url": ${MEDIA_URI_RULE} }`,
    schema: z.strictObject({ type: z.enum(types), url: mediaUri() }),
  };
}

/** A field whose shape the builders above do not cover; `schema` states its rule. */
export function customField(
  name: string,
  options: Common & {
    readonly type: FieldRule['type'];
    readonly rule: string;
    readonly schema: z.ZodMiniType;
    readonly maxItems?: number;
  },
): FieldRule {
  return {
    ...fieldBase(name, options.type, options),
    ...(options.maxItems === undefined ? {} : { maxItems: options.maxItems }),
    rule: options.rule,
    schema: options.schema,
  };
}

/** Helpers for `customField` schemas. */
export const schemas = { mediaUri, MEDIA_URI_RULE } as const;
