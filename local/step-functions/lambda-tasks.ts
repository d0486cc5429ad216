/**
 * Task states as Step Functions runs Lambda tasks: the function called with its payload, its
 * result shaped as `lambda:invoke` returns it, a thrown error reported as the Lambda runtime
 * reports it, and each step written into the execution's history.
 */
import { ExecutionError, type RunOptions } from 'aws-local-stepfunctions';
import { isRecord, type TaskTarget } from './definition.js';
import { type HistoryRecorder, TaskEvents } from './execution-history.js';
import type { ExecutionRecord } from './execution-store.js';

/** Runs a Lambda function: resolves with its result, rejects with the error it threw. */
export type InvokeLambda = (functionArn: string, payload: unknown) => Promise<unknown>;

export type LocalHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type LocalHandler = LocalHandlers[string];
export type JsonValue = Parameters<LocalHandler>[0];

/**
 * A failure thrown by a Lambda, as Step Functions reports it: `name` is the error's name (what
 * `Retry`/`Catch` `ErrorEquals` match) and `message` is the Lambda runtime's error document,
 * `{"errorType","errorMessage","trace"}` as JSON text (what `Catch` records as `Cause`).
 */
class LambdaFunctionError extends Error {
  constructor(errorType: string, cause: string) {
    super(cause);
    this.name = errorType;
  }
}

/**
 * An error that neither `Retry` nor `Catch` (not even `States.ALL`) handles: the library reads
 * `isRetryable`/`isCatchable`. Used for `States.Runtime` and for tasks of an aborted run.
 */
class UnhandledTaskError extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** What one run's Task states call. */
export interface TaskRunContext {
  readonly taskTargets: ReadonlyMap<string, TaskTarget>;
  readonly invokeLambda: InvokeLambda;
  /** The region of the execution, written into the history's Lambda events. */
  readonly region: string;
  /** Aborted when the run stops: a Lambda still running finishes, its result is ignored. */
  readonly signal: AbortSignal;
  readonly history: HistoryRecorder;
}

/** The library's local handlers for every Task state of the definition. */
export function createTaskHandlers(context: TaskRunContext): LocalHandlers {
  const handlers: LocalHandlers = {};
  for (const [stateName, target] of context.taskTargets) {
    handlers[stateName] = (input) => runTask(context, stateName, target, input);
  }
  return handlers;
}

async function runTask(
  context: TaskRunContext,
  stateName: string,
  target: TaskTarget,
  input: JsonValue,
): Promise<JsonValue> {
  const { signal, history } = context;
  const abortedError = () =>
    new UnhandledTaskError('ExecutionAborted', `The execution stopped before '${stateName}' finished`);
  if (signal.aborted) throw abortedError();
  let functionArn: string;
  let payload: unknown;
  if (target.kind === 'lambda:invoke') {
    if (!isRecord(input) || typeof input.FunctionName !== 'string') {
      throw new UnhandledTaskError(
        'States.Runtime',
        `'${stateName}': lambda:invoke needs Parameters with a FunctionName string`,
      );
    }
    functionArn = input.FunctionName;
    payload = input.Payload ?? {};
  } else {
    functionArn = target.resource;
    payload = input;
  }
  const events = new TaskEvents(history, stateName, target, context.region, functionArn);
  events.scheduled(target.kind === 'lambda:invoke' ? input : payload);
  let result: unknown;
  try {
    result = await context.invokeLambda(functionArn, payload);
  } catch (error) {
    if (signal.aborted) throw abortedError();
    const failure = toLambdaFunctionError(error);
    events.failed(failure.name, failure.message);
    throw failure;
  }
  if (signal.aborted) throw abortedError();
  const json = toJsonValue(result);
  const output: JsonValue =
    target.kind === 'lambda:invoke' ? { ExecutedVersion: '$LATEST', Payload: json, StatusCode: 200 } : json;
  events.succeeded(output);
  return output;
}

/** The end of a run that rejected: the Lambda's error (name and cause), else `States.Runtime`. */
export function failureOf(error: unknown): Partial<ExecutionRecord> {
  const reason = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : error;
  if (reason instanceof Error) return { status: 'FAILED', error: reason.name, cause: reason.message };
  return { status: 'FAILED', error: 'States.Runtime', cause: String(reason) };
}

/** What the Node.js Lambda runtime reports for a thrown value. */
function toLambdaFunctionError(thrown: unknown): LambdaFunctionError {
  const errorType = thrown instanceof Error ? thrown.name : 'Error';
  const errorMessage = thrown instanceof Error ? thrown.message : String(thrown);
  const trace = thrown instanceof Error && thrown.stack !== undefined ? thrown.stack.split('\n') : [];
  return new LambdaFunctionError(errorType, JSON.stringify({ errorType, errorMessage, trace }));
}

/** The result as Lambda would return it: JSON-serialized, `undefined` as null. */
function toJsonValue(value: unknown): JsonValue {
  const text = value === undefined ? undefined : JSON.stringify(value);
  return text === undefined ? null : parseJson(text);
}

export function parseJson(text: string): JsonValue {
  // Only ever called on text produced by JSON.stringify or validated as JSON.
  return JSON.parse(text) as JsonValue;
}
