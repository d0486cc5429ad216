/**
 * Small HTTP helpers of the console's server: JSON answers, request bodies, errors with a status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { explainAwsError } from '../../cli/aws-errors.js';
import { CliError } from '../../cli/context.js';
import { readJsonBody, sendJson as writeJson } from '../../local/http.js';

/** A failure with the HTTP status it is answered with; the message is shown to the user. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Answers `body` as JSON, never cached (the console's data changes under it). */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  writeJson(response, status, body, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
}

/**
 * The JSON body of a request (at most `maxBytes`).
 * @throws HttpError 413 when larger, 400 when not JSON.
 */
export function readJson(request: IncomingMessage, maxBytes = 64 * 1024): Promise<unknown> {
  return readJsonBody(request, maxBytes, {
    tooLarge: (max) => new HttpError(413, `the request is over ${max} bytes`),
    notJson: () => new HttpError(400, 'the request body is not JSON'),
  });
}

/**
 * What a failure means to the person at the browser, as an HTTP status and a sentence: the CLI's
 * own messages for its errors and for AWS refusals, a stopped runtime as 503.
 */
export function describeFailure(
  error: unknown,
  localRuntime: boolean,
): { status: number; message: string; code?: string } {
  if (error instanceof HttpError) {
    return { status: error.status, message: error.message, ...(error.code ? { code: error.code } : {}) };
  }
  if (error instanceof CliError) return { status: error.exitCode === 2 ? 400 : 409, message: error.message };
  const aws = explainAwsError(error);
  if (aws !== undefined) return { status: 502, message: aws.message };
  const text = error instanceof Error ? `${error.message} ${String(error.cause ?? '')}` : String(error);
  if (/ECONNREFUSED|ECONNRESET|socket hang up|fetch failed/.test(text)) {
    return {
      status: 503,
      message: localRuntime
        ? 'the local runtime is not answering: is `vidflow dev` still running? Start it again and reload.'
        : `AWS could not be reached: ${text.trim()}`,
    };
  }
  return { status: 500, message: error instanceof Error ? error.message : String(error) };
}
