/**
 * The provider emulator: a local stand-in for the AI/ML API model `runway/gen4_aleph` (the provider
 * rules in `docs/conformance.md`). It speaks the same HTTP API, validates like the provider,
 * fetches the input from `video_url`, and after a realistic (scaled) delay serves a real video of
 * the requested frame size and duration, visibly derived from the input. State lives under
 * `dataDir`, so it survives restarts and crashes; faults are injected on demand.
 *
 * This file wires the parts (see `README.md` in this folder): `options.ts` (settings),
 * `generations.ts` (the records and their life cycle), `worker.ts` (input fetch and render),
 * `api-routes.ts` (create and status calls), `output-route.ts` (downloads), `control-routes.ts`
 * (`/_emulator/*`), `http.ts` (request log, answers, the server).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiRoutes } from './api-routes.js';
import { answerControlRoute } from './control-routes.js';
import { FaultInjector } from './faults.js';
import { Generations } from './generations.js';
import { type EmulatorHttpServer, openExchange, Responder, serveHttp } from './http.js';
import { type EmulatorOptions, resolveOptions } from './options.js';
import { OUTPUT_PATH, OutputRoute } from './output-route.js';
import { EmulatorStore, type RequestLogEntry } from './store.js';
import { GenerationWorker } from './worker.js';

export type { EmulatorOptions } from './options.js';
export type { RequestLogEntry } from './store.js';

/** A running emulator. */
export interface RunningEmulator {
  /** `http://host:port`, the base URL for the provider client. */
  readonly url: string;
  readonly port: number;
  /** Closes the server, drops hanging connections, stops renders and flushes state. */
  stop(): Promise<void>;
  /** The request log (persisted entries included). */
  requests(): RequestLogEntry[];
}

/** The provider's create/status path, and the older per-model alias of it. */
const API_PATHS = new Set(['/v2/video/generations', '/v2/generate/video/runway/generation']);

/**
 * Starts the emulator and resolves once it listens. Generations left unfinished by a previous
 * process on the same `dataDir` resume (their input is fetched or their render restarted).
 * @throws EmulatorConfigError for invalid options; FaultSyntaxError for an invalid fault specification.
 */
export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const settings = resolveOptions(options);
  const faults = new FaultInjector(settings.faultRules, settings.random);
  const store = await EmulatorStore.open(options.dataDir);
  const worker = await GenerationWorker.create({
    store,
    now: settings.now,
    maxUrlInputBytes: settings.maxUrlInputBytes,
    inputRefusedRetryMs: settings.inputRefusedRetryMs,
    renderConcurrency: options.renderConcurrency ?? 2,
  });
  let baseUrl = '';
  const generations = new Generations({
    store,
    worker,
    faults,
    settings,
    outputBaseUrl: () => options.publicUrl ?? baseUrl,
  });
  const responder = new Responder(store, options.onRequest);
  const api = new ApiRoutes({
    apiKey: options.apiKey,
    generations,
    store,
    faults,
    responder,
    maxDataUriChars: settings.maxDataUriChars,
  });
  const outputs = new OutputRoute({ generations, store, faults, responder });

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const exchange = openExchange(request, settings.now);
    const { path, method } = exchange;
    if (await answerControlRoute({ generations, store }, request, response, path)) return;
    const output = OUTPUT_PATH.exec(path);
    if (output && (method === 'GET' || method === 'HEAD')) {
      await outputs.serve(request, response, exchange, output[1] ?? '');
      return;
    }
    if (API_PATHS.has(path) && method === 'POST') {
      await api.create(request, response, exchange);
      return;
    }
    if (API_PATHS.has(path) && method === 'GET') {
      await api.poll(request, response, exchange);
      return;
    }
    request.resume();
    const status = API_PATHS.has(path) ? 405 : 404;
    await responder.json(exchange, response, status, {
      message: status === 405 ? 'Method not allowed' : 'Not found',
    });
  }

  const http: EmulatorHttpServer = await serveHttp(route, options.port ?? 0, options.host ?? '127.0.0.1');
  baseUrl = http.url;
  generations.resumeAll();

  let stopped: Promise<void> | undefined;
  return {
    url: http.url,
    port: http.port,
    requests: () => store.requests(),
    stop: () => {
      stopped ??= (async () => {
        worker.abort();
        await http.close();
        await worker.drain();
        await store.flush();
      })();
      return stopped;
    },
  };
}
