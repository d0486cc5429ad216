/**
 * The model catalog: every video-to-video model a drop may name. Adding a model is one module
 * (see `krea.ts` for a short one) and one line in `CATALOG`.
 */
import { FLUX_3_VIDEO_DRAFT_V2V, FLUX_3_VIDEO_V2V } from './black-forest-labs.js';
import { KLING_O1_V2V_EDIT } from './kling.js';
import { KREA_WAN_14B_V2V } from './krea.js';
import type { ModelSpec } from './model-spec.js';
import { ACT_TWO, GEN4_ALEPH } from './runway.js';

export const CATALOG: readonly ModelSpec[] = [
  GEN4_ALEPH,
  ACT_TWO,
  KREA_WAN_14B_V2V,
  KLING_O1_V2V_EDIT,
  FLUX_3_VIDEO_V2V,
  FLUX_3_VIDEO_DRAFT_V2V,
];

/** The model of a drop that names none, unless the deployment sets another. */
export const DEFAULT_MODEL_ID = GEN4_ALEPH.id;

/** Which models a deployment runs: its default and, optionally, the only ones allowed. */
export interface ModelSettings {
  /** @default `runway/gen4_aleph` */
  readonly defaultModel: string;
  /** Model ids a drop may use; absent: every catalog model. */
  readonly allowedModels?: readonly string[];
}

export const DEFAULT_MODEL_SETTINGS: ModelSettings = { defaultModel: DEFAULT_MODEL_ID };

/** The catalog entry of a model id, or `undefined` when the catalog has none. */
export function findModel(id: string): ModelSpec | undefined {
  return CATALOG.find((spec) => spec.id === id);
}

/**
 * Problems with a deployment's model settings, one line each (empty when valid): ids that are
 * not in the catalog, or a default the allowed list leaves out.
 */
export function modelSettingsProblems(settings: ModelSettings): string[] {
  const problems: string[] = [];
  if (findModel(settings.defaultModel) === undefined) {
    problems.push(`default model "${settings.defaultModel}" is not in the catalog`);
  }
  for (const id of settings.allowedModels ?? []) {
    if (findModel(id) === undefined) problems.push(`allowed model "${id}" is not in the catalog`);
  }
  if (settings.allowedModels !== undefined && !settings.allowedModels.includes(settings.defaultModel)) {
    problems.push(`default model "${settings.defaultModel}" is not among the allowed models`);
  }
  return problems;
}
