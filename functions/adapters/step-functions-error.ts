/**
 * Errors crossing into the state machine. Step Functions matches `Retry`/`Catch` on the
 * error's name, and keeps only the name and message; so the message carries the job
 * record's error code as `<CODE>: <message>`, which record-failure reads back.
 */
import { VidflowError } from '../domain/errors.js';

export function toStepFunctionsError(error: unknown): unknown {
  if (!(error instanceof VidflowError)) return error;
  const crossing = new Error(`${error.code}: ${error.message}`);
  crossing.name = error.name;
  return crossing;
}

/** Run a task body, rethrowing its errors in the form the state machine understands. */
export async function asStateMachineTask<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toStepFunctionsError(error);
  }
}
