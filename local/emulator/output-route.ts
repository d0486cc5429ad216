/**
 * The output route, `GET`/`HEAD /_emulator/outputs/<id>.mp4?expires=&sig=`: the rendered video
 * behind the signed URL a completed generation hands out, answered as a CDN would (XML errors,
 * `403 AccessDenied` once expired), or misbehaving as an `output:` fault or a `result:` fault
 * chosen at creation says.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FaultInjector, FaultRule } from './faults.js';
import type { Generations } from './generations.js';
import type { Exchange, Responder } from './http.js';
import type { EmulatorStore, InjectedOutput } from './store.js';

/** The path of an output URL; the group is the generation id. */
export const OUTPUT_PATH = /^\/_emulator\/outputs\/([A-Za-z0-9-]+)\.mp4$/;

const NOT_A_VIDEO_PAGE =
  '<!doctype html>\n<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>\n';

export interface OutputRouteProps {
  readonly generations: Generations;
  readonly store: EmulatorStore;
  readonly faults: FaultInjector;
  readonly responder: Responder;
}

/** Serves output downloads. */
export class OutputRoute {
  constructor(private readonly props: OutputRouteProps) {}

  /** Answers a download of generation `id`'s output. */
  async serve(
    request: IncomingMessage,
    response: ServerResponse,
    exchange: Exchange,
    id: string,
  ): Promise<void> {
    const { responder, store } = this.props;
    request.resume();
    exchange.generationId = id;
    const check = this.props.generations.checkOutputUrl(
      id,
      exchange.query.expires ?? '',
      exchange.query.sig ?? '',
    );
    if (check !== 'valid') {
      const message = check === 'expired' ? 'Request has expired' : 'Invalid signature';
      await responder.xmlError(exchange, response, 403, 'AccessDenied', message);
      return;
    }
    const fault = this.props.faults.pick('output');
    const path = store.outputPath(id);
    const size = await stat(path).then(
      (s) => s.size,
      () => undefined,
    );
    if (fault) {
      await this.injectFault(request, response, exchange, fault, path, size);
      return;
    }
    if (size === undefined) {
      await responder.xmlError(exchange, response, 404, 'NoSuchKey', 'The specified key does not exist.');
      return;
    }
    const injected = this.props.generations.get(id)?.injectedOutput;
    if (injected !== undefined && injected.kind !== 'url') {
      await this.serveInjectedOutput(request, response, exchange, injected, path, size);
      return;
    }
    await responder.record(exchange, 200);
    response.writeHead(200, {
      'Content-Type': 'video/mp4',
      'Content-Length': String(size),
      'Accept-Ranges': 'none',
      'Cache-Control': 'private, max-age=0',
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    createReadStream(path).pipe(response);
  }

  /** A download under an `output:` fault. */
  private async injectFault(
    request: IncomingMessage,
    response: ServerResponse,
    exchange: Exchange,
    fault: FaultRule,
    path: string,
    size: number | undefined,
  ): Promise<void> {
    const { responder } = this.props;
    const status = fault.status;
    if (fault.kind === 'expired') {
      await responder.xmlError(exchange, response, 403, 'AccessDenied', 'Request has expired', fault);
    } else if (status !== undefined) {
      await responder.xmlError(
        exchange,
        response,
        status,
        status === 404 ? 'NoSuchKey' : status === 403 ? 'AccessDenied' : 'InternalError',
        'Injected fault',
        fault,
      );
    } else if (fault.kind === 'reset') {
      await responder.record(exchange, 0, fault);
      response.socket?.destroy();
    } else if (fault.kind === 'timeout') {
      await responder.record(exchange, 0, fault);
    } else if (size === undefined) {
      await responder.xmlError(exchange, response, 404, 'NoSuchKey', 'The specified key does not exist.');
    } else {
      // stall: headers then silence; truncate: half the promised bytes, then the connection drops.
      await responder.record(exchange, 200, fault);
      response.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': String(size) });
      if (fault.kind === 'stall') response.flushHeaders();
      else if (request.method === 'HEAD') response.end();
      else {
        const half = (await readFile(path)).subarray(0, Math.floor(size / 2));
        response.write(half, () => response.socket?.destroy());
      }
    }
  }

  /** A download of a generation created under `result:redirect=`, `not-video` or `oversize=`. */
  private async serveInjectedOutput(
    request: IncomingMessage,
    response: ServerResponse,
    exchange: Exchange,
    injected: Exclude<InjectedOutput, { kind: 'url' }>,
    path: string,
    size: number,
  ): Promise<void> {
    const { responder } = this.props;
    if (injected.kind === 'redirect') {
      await responder.record(exchange, 302);
      response.writeHead(302, { Location: injected.url, 'Content-Length': '0' });
      response.end();
      return;
    }
    if (injected.kind === 'not-video') {
      // A CDN's error page served with 200, as misconfigured edges do.
      await responder.text(exchange, response, 200, 'text/html; charset=utf-8', NOT_A_VIDEO_PAGE);
      return;
    }
    const total = Math.max(injected.bytes, size);
    await responder.record(exchange, 200);
    response.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': String(total) });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    // A client that refuses the announced length hangs up: that ends the pipeline, quietly.
    await pipeline(Readable.from(paddedOutput(path, total - size)), response).catch(() => undefined);
  }
}

/** The video file, then `paddingBytes` zeros, read lazily. */
async function* paddedOutput(path: string, paddingBytes: number): AsyncGenerator<Buffer> {
  yield* createReadStream(path);
  const zeros = Buffer.alloc(64 * 1024);
  for (let left = paddingBytes; left > 0; left -= zeros.length) {
    yield left >= zeros.length ? zeros : zeros.subarray(0, left);
  }
}
