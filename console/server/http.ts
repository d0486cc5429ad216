/**
 * Small HTTP helpers of the console's server: JSON answers, request bodies, errors with a status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { explainAwsError } from '../../cli/aws-errors.js';
import { CliError } from '../../cli/context.js';

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

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  response.end(text);
}

/**
 * The JSON body of a request (at most `maxBytes`).
 * @throws HttpError 413 when larger, 400 when not JSON.
 */
export async function readJson(request: IncomingMessage, maxBytes = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBytes) throw new HttpError(413, `the request is over ${maxBytes} bytes`);
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'the request body is not JSON');
  }
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
