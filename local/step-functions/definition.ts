/**
 * The definition as the library runs it: parsed, its `TimeoutSeconds` taken out (the host enforces
 * it from the execution's original start, which survives restarts), every Task state's resource
 * checked to be a Lambda invocation, and Tasks without a timeout given an unlimited one.
 */
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { InvalidDefinitionError, UnsupportedTaskResourceError } from './errors.js';

const LAMBDA_INVOKE_RESOURCE = /^arn:aws[a-z-]*:states:::lambda:invoke$/;
const LAMBDA_FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[^:]+:[^:]+:function:[^:]+(:[^:]+)?$/;
/**
 * The library gives every Task without `TimeoutSeconds` a 60 s limit; Step Functions gives none
 * (the Lambda's own timeout applies). This is the largest value Node's `setTimeout` accepts;
 * Step Functions' own sentinel (99999999) would overflow it and fire at once.
 */
const UNLIMITED_TASK_TIMEOUT_SECONDS = 2_147_483;

/** How a Task state calls its Lambda. */
export interface TaskTarget {
  /** `lambda:invoke` takes FunctionName and Payload from Parameters; `function` is a bare function ARN. */
  readonly kind: 'lambda:invoke' | 'function';
  readonly resource: string;
}

/**
 * What the library runs: `TimeoutSeconds` removed (the host enforces it from the original start
 * date, which survives restarts), Tasks without a timeout given an unlimited one.
 */
export function prepareDefinition(definitionText: string): {
  definition: StateMachineDefinition;
  timeoutSeconds: number | undefined;
  taskTargets: ReadonlyMap<string, TaskTarget>;
} {
  let parsed: unknown;
  try {
    parsed = JSON.parse(definitionText);
  } catch (error) {
    throw new InvalidDefinitionError('The state machine definition is not JSON', { cause: error });
  }
  if (!isRecord(parsed) || !isRecord(parsed.States)) {
    throw new InvalidDefinitionError('The state machine definition has no States object');
  }
  const { TimeoutSeconds: timeoutSeconds, ...rest } = parsed;
  if (timeoutSeconds !== undefined && (typeof timeoutSeconds !== 'number' || timeoutSeconds <= 0)) {
    throw new InvalidDefinitionError('TimeoutSeconds must be a positive number');
  }
  const taskTargets = new Map<string, TaskTarget>();
  for (const [stateName, resource] of findTaskResources(rest)) {
    if (LAMBDA_INVOKE_RESOURCE.test(resource))
      taskTargets.set(stateName, { kind: 'lambda:invoke', resource });
    else if (LAMBDA_FUNCTION_ARN.test(resource)) taskTargets.set(stateName, { kind: 'function', resource });
    else {
      throw new UnsupportedTaskResourceError(
        `Task '${stateName}' uses ${resource}; the local runtime runs only Lambda tasks`,
      );
    }
  }
  withUnlimitedTaskTimeouts(rest);
  // The library validates the shape (asl-validator) in its constructor.
  return { definition: rest as unknown as StateMachineDefinition, timeoutSeconds, taskTargets };
}

/** Task state name -> Resource, through Parallel branches and Map processors. */
function findTaskResources(definition: unknown, found = new Map<string, string>()): Map<string, string> {
  if (!isRecord(definition) || !isRecord(definition.States)) return found;
  for (const [stateName, state] of Object.entries(definition.States)) {
    if (!isRecord(state)) continue;
    if (state.Type === 'Task' && typeof state.Resource === 'string') {
      const previous = found.get(stateName);
      if (previous !== undefined && previous !== state.Resource) {
        // The library keys local handlers by state name alone.
        throw new UnsupportedTaskResourceError(
          `Two Task states named '${stateName}' use different resources`,
        );
      }
      found.set(stateName, state.Resource);
    }
    for (const nested of nestedMachines(state)) findTaskResources(nested, found);
  }
  return found;
}

function withUnlimitedTaskTimeouts(definition: unknown): void {
  if (!isRecord(definition) || !isRecord(definition.States)) return;
  for (const state of Object.values(definition.States)) {
    if (!isRecord(state)) continue;
    if (
      state.Type === 'Task' &&
      state.TimeoutSeconds === undefined &&
      state.TimeoutSecondsPath === undefined
    ) {
      state.TimeoutSeconds = UNLIMITED_TASK_TIMEOUT_SECONDS;
    }
    for (const nested of nestedMachines(state)) withUnlimitedTaskTimeouts(nested);
  }
}

function nestedMachines(state: Record<string, unknown>): unknown[] {
  const branches = Array.isArray(state.Branches) ? state.Branches : [];
  return [...branches, state.Iterator, state.ItemProcessor].filter((machine) => machine !== undefined);
}

/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
