/**
 * In-process synthesis of the same app `cdk synth` builds (same stack, same `cdk.json` context),
 * for the local runtime and the infra tests: the local runtime executes the synthesized state
 * machine and configures the functions from the synthesized environment.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { readStackNameFromContext, readStackPropsFromContext } from './context.js';
import { assertNoNagFindings } from './nag.js';
import { FUNCTION_TAG, type OptionalFunctionName, VidflowFunctionName } from './vidflow-function.js';
import { VidflowStack } from './vidflow-stack.js';

export interface SynthesizeOptions {
  /**
   * Bundle the functions with esbuild, as `cdk synth` does. Leave off for speed when only the
   * template is needed: asset bundling is then skipped entirely.
   * @default false
   */
  readonly bundle?: boolean;
  /**
   * Context on top of `cdk.json`'s, e.g. `{ jobTimeoutMinutes: 5 }` (see `infra/context.ts`).
   * @default - only `cdk.json`'s context
   */
  readonly context?: Readonly<Record<string, unknown>>;
  /**
   * Where to write the cloud assembly (and bundled assets), kept afterwards.
   * @default - a temporary directory, removed once the template is read
   */
  readonly outdir?: string;
}

/** A CloudFormation template as JSON. */
export type CfnTemplate = Record<string, unknown>;

/** A synthesized function of the stack, found by its `vidflow:function` tag. */
export interface TemplateFunction {
  readonly logicalId: string;
  /** Values are strings or unresolved intrinsics (`Ref`, `Fn::GetAtt`). */
  readonly environment: Readonly<Record<string, unknown>>;
  readonly timeoutSeconds: number;
  readonly memorySizeMiB: number;
}

/**
 * Builds the vidflow app and stack in-process without synthesizing, e.g. for
 * `Template.fromStack` in tests. Checks the stack with cdk-nag's AwsSolutions pack, as `cdk synth`
 * does (`infra/app.ts`), but directly rather than as a CDK validation plugin, which would add
 * seconds to every synthesis.
 *
 * @throws NagFindingsError when the stack has an unacknowledged AwsSolutions finding.
 *
 * @throws StackContextError when a context value is malformed.
 */
export function createVidflowStack(options: SynthesizeOptions = {}): {
  readonly app: App;
  readonly stack: VidflowStack;
} {
  const context: Record<string, unknown> = { ...readCdkJsonContext(), ...options.context };
  if (options.bundle !== true) context[BUNDLING_STACKS] = [];
  const app = new App({
    context,
    analyticsReporting: false,
    stackTraces: false,
    ...(options.outdir !== undefined && { outdir: options.outdir }),
  });
  const stack = new VidflowStack(
    app,
    readStackNameFromContext(app.node),
    readStackPropsFromContext(app.node),
  );
  assertNoNagFindings(stack);
  return { app, stack };
}

/**
 * Synthesizes the stack in-process and returns its CloudFormation template.
 *
 * Without `bundle` this takes a few seconds and needs no esbuild run; the functions' code
 * assets then point at unbundled sources, which is fine for reading the template.
 *
 * @throws StackContextError when a context value is malformed; NagFindingsError on an
 * unacknowledged cdk-nag finding; esbuild errors when bundling fails.
 */
export function synthesizeTemplate(options: SynthesizeOptions = {}): CfnTemplate {
  const outdir = options.outdir ?? mkdtempSync(join(tmpdir(), 'vidflow-synth-'));
  try {
    const { app, stack } = createVidflowStack({ ...options, outdir });
    const template: unknown = app.synth().getStackArtifact(stack.artifactId).template;
    if (!isRecord(template)) throw new Error('vidflow: the synthesized template is not an object');
    return template;
  } finally {
    if (options.outdir === undefined) rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The `DefinitionString` of the template's one `AWS::StepFunctions::StateMachine`, as synthesized:
 * a string, or an `Fn::Join` whose parts hold intrinsics (function ARNs, the partition).
 * Turn it into the ASL object with {@link renderDefinition}.
 *
 * @throws Error when the template has no state machine, or more than one.
 */
export function stateMachineDefinition(template: CfnTemplate): unknown {
  const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  const only = machines[0];
  if (machines.length !== 1 || only === undefined) {
    throw new Error(`vidflow: expected one state machine in the template, found ${machines.length}`);
  }
  const definition = only.properties.DefinitionString;
  if (definition === undefined) throw new Error('vidflow: the state machine has no DefinitionString');
  return definition;
}

/**
 * Resolves a synthesized `DefinitionString` into the ASL object: `Fn::Join`s are joined, and every
 * other intrinsic (`Ref`, `Fn::GetAtt`, ...) is replaced by what `resolveToken` returns for it,
 * e.g. a local ARN for `{ "Fn::GetAtt": ["CheckFunction…", "Arn"] }` or `aws` for
 * `{ "Ref": "AWS::Partition" }`.
 *
 * @throws Error when the definition is not a string or `Fn::Join`, or the result is not JSON.
 */
export function renderDefinition(
  definition: unknown,
  resolveToken: (intrinsic: Readonly<Record<string, unknown>>) => string,
): Record<string, unknown> {
  const parsed: unknown = JSON.parse(resolveIntrinsicString(definition, resolveToken));
  if (!isRecord(parsed)) throw new Error('vidflow: the state machine definition is not a JSON object');
  return parsed;
}

/**
 * The five pipeline functions of a template, by name (`submit`, `check`, `finalize`,
 * `record-failure`, `sweep`). The webhook delivery's (see {@link findOptionalFunction}) are not
 * among them.
 *
 * @throws Error when one is missing or tagged twice.
 */
export function findVidflowFunctions(template: CfnTemplate): Record<VidflowFunctionName, TemplateFunction> {
  const found = taggedFunctions(template);
  const pick = (name: VidflowFunctionName): TemplateFunction => {
    const fn = found.get(name);
    if (fn === undefined)
      throw new Error(`vidflow: no function tagged ${FUNCTION_TAG}=${name} in the template`);
    return fn;
  };
  return {
    [VidflowFunctionName.submit]: pick(VidflowFunctionName.submit),
    [VidflowFunctionName.check]: pick(VidflowFunctionName.check),
    [VidflowFunctionName.finalize]: pick(VidflowFunctionName.finalize),
    [VidflowFunctionName.recordFailure]: pick(VidflowFunctionName.recordFailure),
    [VidflowFunctionName.sweep]: pick(VidflowFunctionName.sweep),
  };
}

/**
 * One of the webhook delivery's functions (`webhook`, `webhook-fanout`), outside the pipeline's five.
 *
 * @returns undefined when the template does not have it.
 * @throws Error when a function is tagged twice.
 */
export function findOptionalFunction(
  template: CfnTemplate,
  name: OptionalFunctionName,
): TemplateFunction | undefined {
  return taggedFunctions(template).get(name);
}

/** Every function carrying the `vidflow:function` tag, by the tag's value. */
function taggedFunctions(template: CfnTemplate): Map<string, TemplateFunction> {
  const found = new Map<string, TemplateFunction>();
  for (const { logicalId, properties } of resourcesOfType(template, 'AWS::Lambda::Function')) {
    const tags = Array.isArray(properties.Tags) ? properties.Tags : [];
    const tag = tags.find((t: unknown) => isRecord(t) && t.Key === FUNCTION_TAG);
    if (!isRecord(tag) || typeof tag.Value !== 'string') continue;
    if (found.has(tag.Value)) throw new Error(`vidflow: two functions are tagged ${tag.Value}`);
    const environment = isRecord(properties.Environment) ? properties.Environment.Variables : undefined;
    found.set(tag.Value, {
      logicalId,
      environment: isRecord(environment) ? environment : {},
      timeoutSeconds: typeof properties.Timeout === 'number' ? properties.Timeout : 3,
      memorySizeMiB: typeof properties.MemorySize === 'number' ? properties.MemorySize : 128,
    });
  }
  return found;
}

function resolveIntrinsicString(
  value: unknown,
  resolveToken: (intrinsic: Readonly<Record<string, unknown>>) => string,
): string {
  if (typeof value === 'string') return value;
  if (!isRecord(value)) throw new Error(`vidflow: cannot resolve ${JSON.stringify(value)} to a string`);
  const join = value['Fn::Join'];
  if (join === undefined) return resolveToken(value);
  if (!Array.isArray(join) || join.length !== 2 || typeof join[0] !== 'string' || !Array.isArray(join[1])) {
    throw new Error(`vidflow: malformed Fn::Join ${JSON.stringify(join)}`);
  }
  const separator: string = join[0];
  const parts: unknown[] = join[1];
  return parts.map((part) => resolveIntrinsicString(part, resolveToken)).join(separator);
}

function resourcesOfType(
  template: CfnTemplate,
  type: string,
): Array<{ logicalId: string; properties: Record<string, unknown> }> {
  const resources = isRecord(template.Resources) ? template.Resources : {};
  return Object.entries(resources).flatMap(([logicalId, resource]) =>
    isRecord(resource) && resource.Type === type
      ? [{ logicalId, properties: isRecord(resource.Properties) ? resource.Properties : {} }]
      : [],
  );
}

function readCdkJsonContext(): Record<string, unknown> {
  const cdkJson: unknown = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8'));
  return isRecord(cdkJson) && isRecord(cdkJson.context) ? cdkJson.context : {};
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
