/**
 * HTTP helpers shared by the local servers (the provider emulator, the Step Functions API) and the
 * console's server: a JSON answer, a JSON request body, listening on a port. Each server keeps its
 * own headers and error types; only the mechanics live here.
 */
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Answers `body` as JSON text with its `Content-Length`, plus the caller's headers (its content type). */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders,
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** The errors {@link readJsonBody} throws, each server's own. */
export interface JsonBodyErrors {
  /** Thrown once the body passes `maxBytes` (the rest is not read). */
  readonly tooLarge: (maxBytes: number) => Error;
  /** Thrown for a body that is not JSON. */
  readonly notJson: () => Error;
}

/**
 * The JSON body of a request, `{}` when it is empty or blank.
 *
 * @throws what `errors.tooLarge` builds when the body is over `maxBytes`, what `errors.notJson`
 *   builds when it is not JSON; the request's own stream error.
 */
export async function readJsonBody(
  request: IncomingMessage,
  maxBytes: number,
  errors: JsonBodyErrors,
): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBytes) throw errors.tooLarge(maxBytes);
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw errors.notJson();
  }
}

/**
 * Starts `server` listening and resolves with its base URL (`http://127.0.0.1:41237`, an IPv6
 * address in brackets) and port.
 *
 * @throws (rejection) the listen error, e.g. EADDRINUSE for a taken port.
 */
export async function listen(
  server: Server,
  port: number,
  host: string,
): Promise<{ url: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${hostForUrl}:${address.port}`, port: address.port };
}
