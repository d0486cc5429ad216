/**
 * A drop's parameters checked against its model's published rules, before any paid call, and the
 * body sent for it. `runway/gen4_aleph` keeps its historical rules (../params.ts); every other
 * catalog model goes through its `zod/mini` field rules here.
 */
import * as z from 'zod/mini';
import { InputRejectedError, RejectionCode } from '../errors.js';
import { type CatalogRequest, MODEL } from '../job.js';
import type { ParamsSource } from '../params-source.js';
import { DEFAULT_MODEL_SETTINGS, findModel, type ModelSettings } from './catalog.js';
import type { FieldRule, ModelSpec } from './model-spec.js';

/** What the catalog needs from a drop's merged parameters. */
export type ModelParams = Pick<
  ParamsSource,
  'model' | 'prompt' | 'frameSize' | 'duration' | 'seed' | 'references' | 'modelFields'
>;

/**
 * The model a drop runs: its own `model`, else the deployment's default; checked against the
 * catalog and the deployment's allowed models.
 * @throws InputRejectedError `MODEL_UNKNOWN` or `MODEL_NOT_ALLOWED`, naming the model and field `model`.
 */
export function resolveModel(
  params: ModelParams,
  settings: ModelSettings = DEFAULT_MODEL_SETTINGS,
): ModelSpec {
  const id = params.model ?? settings.defaultModel;
  const spec = findModel(id);
  const details = { model: id, field: 'model' };
  if (spec === undefined) {
    throw new InputRejectedError(
      RejectionCode.modelUnknown,
      `model "${truncate(id, 80)}" is not in the catalog (see vidflow models)`,
      details,
    );
  }
  if (settings.allowedModels !== undefined && !settings.allowedModels.includes(id)) {
    throw new InputRejectedError(
      RejectionCode.modelNotAllowed,
      `model "${id}" is not allowed by this deployment (allowed: ${settings.allowedModels.join(', ')})`,
      details,
    );
  }
  return spec;
}

/** Whether the drop's model takes a prompt at all (`runway/act_two` does not). */
export function modelTakesPrompt(spec: ModelSpec): boolean {
  return spec.fields.some((field) => field.name === 'prompt');
}

/**
 * Validate a drop's parameters for a catalog model other than `runway/gen4_aleph`.
 * @throws InputRejectedError `MODEL_FIELD_UNKNOWN` for a field the model does not take (or the
 *   video field, which vidflow fills), `MODEL_FIELD_INVALID` for a value outside its rules or a
 *   missing required field; both name the model and the field.
 */
export function validateCatalogRequest(spec: ModelSpec, params: ModelParams): CatalogRequest {
  const body: Record<string, unknown> = { ...params.modelFields };
  // The common parameters (metadata, or the documented names of a sidecar) under published names.
  const common: Readonly<Record<string, unknown>> = {
    prompt: params.prompt,
    frame_size: params.frameSize,
    duration: params.duration,
    seed: params.seed,
    references: params.references?.map((url) => ({ type: 'image', url })),
  };
  for (const [name, value] of Object.entries(common)) if (value !== undefined) body[name] = value;

  const reject = (code: RejectionCode, field: string, why: string) =>
    new InputRejectedError(code, `model ${spec.id}, field ${field}: ${why}`, { model: spec.id, field });
  for (const name of Object.keys(body)) {
    if (name === spec.video.name) {
      throw reject(RejectionCode.modelFieldUnknown, name, 'is filled from the drop’s video; do not set it');
    }
    if (name === 'model' || !spec.fields.some((field) => field.name === name)) {
      throw reject(
        RejectionCode.modelFieldUnknown,
        name,
        `is not a field of this model (it takes ${spec.fields.map((field) => field.name).join(', ')})`,
      );
    }
  }
  for (const field of spec.fields) {
    const value = body[field.name];
    if (value === undefined) {
      if (field.required)
        throw reject(RejectionCode.modelFieldInvalid, field.name, `is required: ${field.rule}`);
      continue;
    }
    if (!fieldAccepts(field, value)) {
      throw reject(
        RejectionCode.modelFieldInvalid,
        field.name,
        `must be ${field.rule}, got ${preview(value)}`,
      );
    }
  }
  const prompt = body.prompt;
  const frameSize = body.frame_size;
  return {
    model: spec.id,
    fields: body,
    videoField: spec.video.name,
    ...(typeof prompt === 'string' ? { prompt } : {}),
    ...(typeof frameSize === 'string' ? { frameSize } : {}),
  };
}

function fieldAccepts(field: FieldRule, value: unknown): boolean {
  return z.safeParse(field.schema, value).success;
}

/**
 * The create-generation body of a catalog request: its fields plus the drop's video where the
 * model takes it.
 */
export function catalogRequestBody(request: CatalogRequest, videoUrl: string): Record<string, unknown> {
  const spec = findModel(request.model);
  const video = spec?.video.shape === 'video-object' ? { type: 'video', url: videoUrl } : videoUrl;
  return { model: request.model, ...request.fields, [request.videoField]: video };
}

/** The credits to reserve for a request: its model's estimate, or `fallback` for `runway/gen4_aleph`. */
export function estimateRequestCredits(
  request: { readonly model: string; readonly fields?: Readonly<Record<string, unknown>> },
  fallback: number,
): number {
  if (request.model === MODEL || request.fields === undefined) return fallback;
  return findModel(request.model)?.estimateCredits(request.fields) ?? fallback;
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return truncate(text, 60);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
