/**
 * `vidflow models [--json]`: the model catalog (functions/domain/models/), each model with its
 * fields, their rules and defaults. Needs no target: the catalog is part of the code.
 */
import { CATALOG } from '../../functions/domain/models/catalog.js';
import type { FieldRule, ModelSpec } from '../../functions/domain/models/model-spec.js';
import { printJson, printTable, type TextSink } from '../format.js';

/** One model as `--json` prints it. */
export interface ModelListing {
  readonly id: string;
  readonly summary: string;
  /** The published OpenAPI file of the model in `aimlapi/api-docs`. */
  readonly openApiFile: string;
  /** The field that carries the drop's video, filled by vidflow. */
  readonly videoField: string;
  readonly outputs: readonly string[];
  /** Credits reserved per job against the daily budget (gen4_aleph: VIDFLOW_CREDITS_PER_JOB_ESTIMATE). */
  readonly creditsPerJobEstimate: number;
  readonly typicalProcessingSeconds: number;
  readonly fields: readonly FieldListing[];
}

export type FieldListing = Omit<FieldRule, 'schema'>;

/** The catalog, as listed. */
export function listModels(): ModelListing[] {
  return CATALOG.map((spec: ModelSpec) => ({
    id: spec.id,
    summary: spec.summary,
    openApiFile: spec.openApiFile,
    videoField: spec.video.name,
    outputs: spec.outputs,
    creditsPerJobEstimate: spec.estimateCredits({}),
    typicalProcessingSeconds: spec.typicalProcessingSeconds,
    fields: spec.fields.map(({ schema: _schema, ...field }) => field),
  }));
}

/** Prints the catalog; returns the exit code (0). */
export function showModels(out: TextSink, options: { readonly json?: boolean }): number {
  const models = listModels();
  if (options.json) {
    printJson(out, models);
    return 0;
  }
  for (const [index, model] of models.entries()) {
    if (index > 0) out.write('\n');
    out.write(`${model.id}${index === 0 ? '  (default)' : ''}\n  ${model.summary}\n`);
    out.write(`  video goes in: ${model.videoField}; rules: ${model.openApiFile}\n\n`);
    printTable(
      out,
      model.fields.map((field) => [
        field.name,
        field.required ? 'yes' : 'no',
        field.default === undefined ? '-' : JSON.stringify(field.default),
        field.rule,
      ]),
      ['FIELD', 'REQUIRED', 'DEFAULT', 'RULE'],
    );
  }
  return 0;
}
