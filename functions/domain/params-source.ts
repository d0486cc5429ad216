/**
 * A drop's parameters as one source gives them (S3 metadata, a sidecar, a folder preset, a
 * manifest), how sources combine, and the helpers the parameter modules share. Parsing lives in
 * params-metadata.ts and params-documents.ts, the rules in params.ts.
 */
import type { RejectionCode } from './errors.js';

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

/** `text` cut to `max` characters, with an ellipsis when cut: for quoting input in messages. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** `value` without its undefined fields, so that absent stays absent in records and merges. */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
