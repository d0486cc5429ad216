/**
 * The emulator's HTTP plumbing: what one request records in the log (an {@link Exchange}), the
 * answers every route sends (JSON with the provider's documented error body, text, an S3-style XML
 * error), bodies read with a size limit, and the server itself, which tracks its sockets so that
 * stopping drops the connections an injected `timeout` left hanging.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listen, sendJson as writeJson } from '../http.js';
import type { FaultRule } from './faults.js';
import type { EmulatorStore, RequestLogEntry } from './store.js';

/** What one HTTP exchange records in the log; routes fill in `body` and `generationId`. */
export interface Exchange {
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  body?: unknown;
  generationId?: string;
}

/** The exchange of `request`, stamped with the emulator's clock. */
export function openExchange(request: IncomingMessage, now: () => number): Exchange {
  const url = new URL(request.url ?? '/', 'http://emulator');
  return {
    at: new Date(now()).toISOString(),
    method: request.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
  };
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** A request body over the emulator's limit (answered 413 by the create call). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/**
 * The whole request body. Past the limit the rest is drained, not read, so the route can still
 * answer 413 on the same connection.
 *
 * @throws BodyTooLargeError (rejection) over 64 MiB; the request's stream error.
 */
export function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLargeError(`request body exceeds ${MAX_BODY_BYTES} bytes`));
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** A JSON answer of the emulator's own (`/_emulator/*`, internal errors): not logged. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  writeJson(response, status, body, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
}

/**
 * The documented error body, `{ message, path, requestId, statusCode, timestamp }`, keeping any
 * other field the emulator adds (`errors` of a validation failure).
 */
export function documentedErrorBody(exchange: Exchange, status: number, body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  return {
    ...body,
    path: exchange.path,
    requestId: randomUUID(),
    statusCode: status,
    timestamp: new Date().toISOString(),
  };
}

/**
 * Answers provider calls and output downloads, each recorded in the request log (persisted, and
 * handed to `onRequest`) before its answer is written, so a client that reads the log after its
 * answer finds the entry.
 */
export class Responder {
  constructor(
    private readonly store: EmulatorStore,
    private readonly onRequest: ((entry: RequestLogEntry) => void) | undefined,
  ) {}

  /** Logs the exchange with the status answered (0: none) and the fault injected, if any. */
  record(exchange: Exchange, status: number, fault?: FaultRule): Promise<void> {
    const entry: RequestLogEntry = {
      at: exchange.at,
      method: exchange.method,
      path: exchange.path,
      query: exchange.query,
      ...(exchange.body === undefined ? {} : { body: exchange.body }),
      status,
      ...(fault ? { fault: fault.label } : {}),
      ...(exchange.generationId ? { generationId: exchange.generationId } : {}),
    };
    this.onRequest?.(entry);
    return this.store.appendRequest(entry);
  }

  /** A JSON answer; an error status gets the documented error fields. */
  async json(
    exchange: Exchange,
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<void> {
    await this.record(exchange, status);
    sendJson(response, status, status >= 400 ? documentedErrorBody(exchange, status, body) : body, headers);
  }

  /** A text answer (no body to a HEAD). */
  async text(
    exchange: Exchange,
    response: ServerResponse,
    status: number,
    contentType: string,
    text: string,
  ): Promise<void> {
    await this.record(exchange, status);
    response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
    response.end(exchange.method === 'HEAD' ? undefined : text);
  }

  /** An error as S3 and CDNs answer a download: `<Error><Code>…</Code><Message>…</Message></Error>`. */
  async xmlError(
    exchange: Exchange,
    response: ServerResponse,
    status: number,
    code: string,
    message: string,
    fault?: FaultRule,
  ): Promise<void> {
    await this.record(exchange, status, fault);
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    response.writeHead(status, {
      'Content-Type': 'application/xml',
      'Content-Length': Buffer.byteLength(text),
    });
    response.end(text);
  }
}

/** A listening emulator server. */
export interface EmulatorHttpServer {
  readonly url: string;
  readonly port: number;
  /** Stops listening and destroys every open connection (hanging ones included). */
  close(): Promise<void>;
}

/**
 * Serves `route` on `host:port`. A route that throws gets a 500 (or, once its headers are out, a
 * destroyed connection).
 *
 * @throws (rejection) the listen error, e.g. EADDRINUSE.
 */
export async function serveHttp(
  route: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
  port: number,
  host: string,
): Promise<EmulatorHttpServer> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendJson(response, 500, { message: `Internal emulator error: ${String(error)}` });
      } else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const address = await listen(server, port, host);
  return {
    ...address,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
