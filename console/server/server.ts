/**
 * The vidflow console's server: the page and a small JSON API over the CLI's own queries and
 * actions (`cli/commands/*`), for the local runtime or a deployed stack, on 127.0.0.1 only.
 *
 * API: GET /api/target, GET /api/jobs?status&since&source&before&limit, GET /api/jobs/<id>,
 * GET /api/jobs/<id>/timeline, POST /api/jobs/<id>/retry, POST /api/jobs/<id>/cancel,
 * POST /api/uploads/check, PUT /api/uploads?key&prompt&frameSize&seed (the video as the body),
 * GET /api/overview?since, GET /api/stream[?job=<id>] (server-sent events),
 * GET /media/<id>/input|output[?download=1] (range requests).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { queryJobs, uploadVideo } from '../../cli/commands/jobs.js';
import { cancelJobOf, retryJobOf } from '../../cli/commands/manage.js';
import type { CliContext } from '../../cli/context.js';
import { toPublicRecord } from '../../functions/domain/finalize-job.js';
import type { Job } from '../../functions/domain/job.js';
import { FRAME_SIZES, MAX_PROMPT_CHARACTERS, MAX_SEED } from '../../functions/domain/params.js';
import { loadAssets } from './assets.js';
import { describeFailure, HttpError, readJson, sendJson } from './http.js';
import { LiveUpdates } from './live.js';
import { type MediaKind, mediaObjectOf, streamObject } from './media.js';
import { collectOverview } from './overview.js';
import { paramSourcesOf } from './param-sources.js';
import { loadTimeline } from './timeline-sources.js';
import { checkUpload } from './upload-rules.js';

/** The pipeline's default input limit, for stacks whose setting the console cannot read. */
const DEFAULT_MAX_INPUT_BYTES = 16 * 1024 * 1024;

export interface ConsoleServerOptions {
  readonly ctx: CliContext;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** How often live updates look for changes. @default 1000 locally, 3000 for a stack */
  readonly liveIntervalMs?: number;
  /** Unexpected failures (500s), for the runtime's log. @default ignored */
  readonly onError?: (error: unknown) => void;
}

export interface ConsoleServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serve the console on 127.0.0.1 (never another interface: it acts with the user's credentials).
 * @throws (rejection) the listen error, e.g. EADDRINUSE, or esbuild's if the page does not build.
 */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { ctx } = options;
  await loadAssets();
  const onError = options.onError ?? (() => undefined);
  const live = new LiveUpdates(
    ctx,
    options.liveIntervalMs ?? (ctx.target.kind === 'local' ? 1000 : 3000),
    onError,
  );
  const server = createServer((request, response) => {
    route(ctx, live, request, response).catch((error: unknown) => {
      const failure = describeFailure(error, ctx.target.kind === 'local');
      if (failure.status >= 500 && failure.status !== 503) onError(error);
      if (response.headersSent) {
        response.destroy();
        return;
      }
      sendJson(response, failure.status, {
        error: { message: failure.message, ...(failure.code ? { code: failure.code } : {}) },
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        live.close();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function route(
  ctx: CliContext,
  live: LiveUpdates,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname;
  const method = request.method ?? 'GET';
  const query = (name: string) => url.searchParams.get(name) ?? undefined;
  if (method === 'GET' && (path === '/' || path === '/index.html')) return sendAsset(response, 'html');
  if (method === 'GET' && path === '/assets/app.js') return sendAsset(response, 'script');
  if (method === 'GET' && path === '/assets/app.css') return sendAsset(response, 'styles');
  if (method === 'GET' && path === '/api/target') return sendJson(response, 200, targetInfo(ctx));
  if (method === 'GET' && path === '/api/jobs') {
    const limit = Number(query('limit') ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500)
      throw new HttpError(400, 'limit must be a whole number from 1 to 500');
    const optional = (name: 'status' | 'since' | 'source' | 'before') => {
      const value = query(name);
      return value === undefined || value === '' ? {} : { [name]: value };
    };
    const { jobs, more } = await queryJobs(ctx, {
      limit,
      ...optional('status'),
      ...optional('since'),
      ...optional('source'),
      ...optional('before'),
    });
    return sendJson(response, 200, {
      jobs: jobs.map(toPublicRecord),
      more,
      ...(more ? { nextBefore: jobs.at(-1)?.statusChangedAt } : {}),
    });
  }
  if (method === 'GET' && path === '/api/overview')
    return sendJson(response, 200, await collectOverview(ctx, query('since') ?? '24h'));
  if (method === 'GET' && path === '/api/stream') return live.attach(request, response, query('job'));
  if (method === 'POST' && path === '/api/uploads/check') {
    const body = (await readJson(request)) as Record<string, unknown>;
    const problem = checkUpload(
      uploadOf(
        (name) => (typeof body[name] === 'string' ? body[name] : undefined),
        Number(body.sizeBytes ?? 0),
      ),
      maxInputBytesOf(ctx),
    );
    return sendJson(
      response,
      problem === undefined ? 200 : 400,
      problem === undefined ? { ok: true } : { error: problem },
    );
  }
  if (method === 'PUT' && path === '/api/uploads') return upload(ctx, request, response, query);
  const jobRoute = /^\/api\/jobs\/([a-z2-7]{20})(\/timeline|\/retry|\/cancel)?$/.exec(path);
  if (jobRoute !== null) {
    const job = await jobOf(ctx, jobRoute[1] ?? '');
    const action = jobRoute[2];
    if (method === 'GET' && action === undefined) {
      const params = await paramSourcesOf(job, ctx.objects);
      return sendJson(response, 200, {
        job: toPublicRecord(job),
        params: params.rows,
        paramProblems: params.problems,
      });
    }
    if (method === 'GET' && action === '/timeline')
      return sendJson(response, 200, await loadTimeline(ctx, job));
    if (method === 'POST' && action === '/retry')
      return sendJson(response, 200, { job: toPublicRecord(await retryJobOf(ctx, job.jobId)) });
    if (method === 'POST' && action === '/cancel') {
      const body = (await readJson(request)) as { reason?: unknown };
      const result = await cancelJobOf(
        ctx,
        job.jobId,
        typeof body.reason === 'string' && body.reason !== '' ? body.reason : undefined,
      );
      return sendJson(response, 200, {
        job: toPublicRecord(result.job),
        executionStopped: result.executionStopped,
      });
    }
  }
  const media = /^\/media\/([a-z2-7]{20})\/(input|output)$/.exec(path);
  if (media !== null && (method === 'GET' || method === 'HEAD')) {
    const job = await jobOf(ctx, media[1] ?? '');
    const kind = media[2] as MediaKind;
    const object = mediaObjectOf(job, kind);
    const name = object.key.slice(object.key.lastIndexOf('/') + 1);
    return streamObject(
      ctx.clients.s3,
      object,
      request,
      response,
      query('download') === '1' ? { download: kind === 'output' ? `${job.jobId}.mp4` : name } : {},
    );
  }
  if (path.startsWith('/api/') || path.startsWith('/media/'))
    throw new HttpError(404, `no such console route: ${method} ${path}`);
  // Any other path is a page of the app (its router reads the hash).
  if (method === 'GET') return sendAsset(response, 'html');
  throw new HttpError(405, `${method} is not served here`);
}

async function jobOf(ctx: CliContext, jobId: string): Promise<Job> {
  const job = await ctx.jobs.get(jobId);
  if (job === undefined)
    throw new HttpError(404, `no job ${jobId} in ${ctx.target.description}`, 'UNKNOWN_JOB');
  return job;
}

function uploadOf(get: (name: string) => string | undefined, sizeBytes: number) {
  const frameSize = get('frameSize');
  const seed = get('seed');
  return {
    key: get('key') ?? '',
    prompt: get('prompt') ?? '',
    ...(frameSize ? { frameSize } : {}),
    ...(seed ? { seed } : {}),
    sizeBytes,
  };
}

async function upload(
  ctx: CliContext,
  request: IncomingMessage,
  response: ServerResponse,
  query: (name: string) => string | undefined,
): Promise<void> {
  const size = Number(request.headers['content-length'] ?? Number.NaN);
  if (!Number.isInteger(size)) throw new HttpError(411, 'the upload needs a Content-Length');
  const request_ = uploadOf(query, size);
  const problem = checkUpload(request_, maxInputBytesOf(ctx));
  if (problem !== undefined) {
    request.resume();
    return sendJson(response, 400, { error: problem });
  }
  const uploaded = await uploadVideo(ctx, { ...request_, body: request, contentLength: size });
  sendJson(response, 201, uploaded);
}

function maxInputBytesOf(ctx: CliContext): number {
  return ctx.target.submitConfig?.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES;
}

function targetInfo(ctx: CliContext) {
  return {
    kind: ctx.target.kind,
    description: ctx.target.description,
    inputBucket: ctx.target.inputBucket,
    outputBucket: ctx.target.outputBucket,
    rules: {
      frameSizes: FRAME_SIZES,
      maxPromptCharacters: MAX_PROMPT_CHARACTERS,
      maxSeed: MAX_SEED,
      maxInputBytes: maxInputBytesOf(ctx),
    },
  };
}

async function sendAsset(response: ServerResponse, which: 'html' | 'script' | 'styles'): Promise<void> {
  const assets = await loadAssets();
  const types = {
    html: 'text/html; charset=utf-8',
    script: 'text/javascript; charset=utf-8',
    styles: 'text/css; charset=utf-8',
  };
  const body = assets[which];
  response.writeHead(200, {
    'content-type': types[which],
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(which === 'html'
      ? {
          'content-security-policy':
            "default-src 'self'; media-src 'self'; img-src 'self' data:; style-src 'self'",
        }
      : {}),
  });
  response.end(body);
}
