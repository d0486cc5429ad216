/**
 * Errors crossing the state machine boundary, both ways. Step Functions matches
 * `Retry`/`Catch` on the error's name, and keeps only the name and message; so a function
 * throws its error with the job record's error code in the message, as `<CODE>: <message>`
 * ({@link toStepFunctionsError}), and record-failure reads it back from what the Catch hands
 * it ({@link decodeCaughtError}).
 */
import { isThrottlingError, isTransientError } from '@smithy/core/retry';
import { AwsServiceUnavailableError, VidflowError } from '../domain/errors.js';
import type { PipelineFailure } from '../domain/record-failure.js';

/**
 * A vidflow error in the form the state machine keeps: its name, and its code before its message.
 * An AWS SDK error the SDK's own classification calls transient or throttling becomes an
 * {@link AwsServiceUnavailableError} first, so the state machine retries the task.
 * @returns `error` itself when it is neither (Lambda reports it as it is).
 */
export function toStepFunctionsError(error: unknown): unknown {
  if (!(error instanceof VidflowError)) {
    if (!isTransientAwsError(error)) return error;
    return toStepFunctionsError(
      new AwsServiceUnavailableError(`${error.name}: ${error.message}`.slice(0, 500), { cause: error }),
    );
  }
  const crossing = new Error(`${error.code}: ${error.message}`);
  crossing.name = error.name;
  return crossing;
}

/**
 * Transient as the AWS SDK's retry strategy classes it (`@smithy/core/retry`, the code the SDK
 * itself runs): reset, refused or timed-out connections, 500/502/503/504, throttling codes.
 */
export function isTransientAwsError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  const classified = error as Parameters<typeof isTransientError>[0];
  return isTransientError(classified) || isThrottlingError(classified);
}

/** Run a task body, rethrowing its errors in the form the state machine understands. */
export async function asStateMachineTask<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toStepFunctionsError(error);
  }
}

/** What Step Functions puts in a Catch's ResultPath: the error name and its cause. */
export interface CaughtError {
  readonly Error?: string;
  readonly Cause?: string;
}

/** Step Functions' own errors (`States.Timeout`, `States.TaskFailed`, ...) carry this prefix. */
const STATES_PREFIX = 'States.';

/**
 * Decode a caught error: the name the state machine matched on, and the code and message a
 * function encoded with {@link toStepFunctionsError}. Never throws: a cause it cannot read
 * becomes the message of a `PIPELINE_ERROR` (or of the States error's own code).
 */
export function decodeCaughtError(caught: CaughtError): PipelineFailure {
  const name = caught.Error ?? 'Unknown';
  return { name, ...parseCause(name, caught.Cause), raisedByStateMachine: name.startsWith(STATES_PREFIX) };
}

/**
 * Functions throw `<CODE>: <message>` across the state machine boundary (see
 * {@link toStepFunctionsError}); Lambda wraps it as JSON `{ errorType, errorMessage }`.
 * States' own errors (`States.Timeout`) carry free text.
 */
export function parseCause(name: string, cause: string | undefined): { code: string; message: string } {
  let text = cause ?? '';
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && 'errorMessage' in parsed) {
      const { errorMessage } = parsed as { errorMessage: unknown };
      if (typeof errorMessage === 'string') text = errorMessage;
    }
  } catch {
    // plain text cause
  }
  const coded = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(text);
  if (coded?.[1] !== undefined && coded[2] !== undefined) return { code: coded[1], message: coded[2] };
  const fallbackCode = name.startsWith(STATES_PREFIX)
    ? name
        .slice(STATES_PREFIX.length)
        .replace(/([a-z])([A-Z])/g, '$1_$2')
        .toUpperCase()
    : 'PIPELINE_ERROR';
  return { code: fallbackCode, message: text.length > 0 ? text.slice(0, 1000) : name };
}
