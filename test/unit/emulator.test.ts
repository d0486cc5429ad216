import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultInjector, FaultSyntaxError, parseFaults } from '../../local/emulator/faults.js';
import {
  type EmulatorOptions,
  type RequestLogEntry,
  type RunningEmulator,
  startEmulator,
} from '../../local/emulator/server.js';
import { makeTestClip, probeVideo } from '../../local/ffmpeg.js';

const API_KEY = 'test-key';
const TIME_SCALE = 0.002;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CREATE = '/v2/video/generations';
const LEGACY_CREATE = '/v2/generate/video/runway/generation';
/** Nothing listens on port 9 of loopback: fetching it fails at once. */
const UNREACHABLE_VIDEO_URL = 'http://127.0.0.1:9/clip.mp4';

let workDir: string;
let clipPath: string;
let clipBytes: Buffer;
let clipDataUri: string;
const started: RunningEmulator[] = [];

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: unknown;
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; key?: string | null; signal?: AbortSignal } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = options.key === undefined ? API_KEY : options.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function validBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'runway/gen4_aleph',
    prompt: 'a snowy winter evening',
    video_url: UNREACHABLE_VIDEO_URL,
    ...overrides,
  };
}

async function start(name: string, options: Partial<EmulatorOptions> = {}): Promise<RunningEmulator> {
  const emulator = await startEmulator({
    dataDir: join(workDir, name),
    apiKey: API_KEY,
    timeScale: TIME_SCALE,
    seed: 7,
    faults: '',
    ...options,
  });
  started.push(emulator);
  return emulator;
}

async function create(emulator: RunningEmulator, body: Record<string, unknown>): Promise<string> {
  const reply = await call(emulator.url, 'POST', CREATE, { body });
  expect(reply.status).toBe(200);
  const { id } = reply.json as { id: string };
  return id;
}

interface GenerationBody {
  readonly id: string;
  readonly status: string;
  readonly video?: unknown;
  readonly error?: { name: string; message: string };
  readonly meta?: { usage: { credits_used: number } };
}

function poll(emulator: RunningEmulator, id: string): Promise<Reply> {
  return call(emulator.url, 'GET', `${CREATE}?generation_id=${id}`);
}

/** Polls like a client would until the generation is `completed` or `error`; returns every status seen. */
async function waitUntilFinished(
  emulator: RunningEmulator,
  id: string,
): Promise<{ last: GenerationBody; seen: string[] }> {
  const seen: string[] = [];
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const reply = await poll(emulator, id);
    expect(reply.status).toBe(200);
    const body = reply.json as GenerationBody;
    if (seen[seen.length - 1] !== body.status) seen.push(body.status);
    if (body.status === 'completed' || body.status === 'error') return { last: body, seen };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`generation ${id} did not finish; statuses seen: ${seen.join(', ')}`);
}

function firstVideoUrl(body: GenerationBody): string {
  const [url] = body.video as string[];
  if (typeof url !== 'string') throw new Error(`no video URL in ${JSON.stringify(body)}`);
  return url;
}

beforeAll(async () => {
  workDir = join(tmpdir(), `vidflow-emulator-test-${process.pid}-${Date.now()}`);
  clipPath = await makeTestClip({ path: join(workDir, 'clip.mp4'), seconds: 2, width: 320, height: 240 });
  clipBytes = await readFile(clipPath);
  clipDataUri = `data:video/mp4;base64,${clipBytes.toString('base64')}`;
});

afterAll(async () => {
  await Promise.all(started.map((emulator) => emulator.stop()));
  await rm(workDir, { recursive: true, force: true });
});

/** The documented error body: `{ message, path, requestId, statusCode, timestamp }` (plus `errors`). */
function documentedError(statusCode: number, path: string, fields: Record<string, unknown>) {
  return {
    ...fields,
    path,
    requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    statusCode,
    timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
  };
}

describe('credits (VIDFLOW_EMULATOR_CREDITS)', () => {
  it('takes each generation\'s price, answers 403 "out of credits" when the balance cannot pay, and resumes once raised', async () => {
    const emulator = await start('credits', { credits: 80, creditsPerGeneration: 40 });
    const first = await call(emulator.url, 'POST', CREATE, { body: validBody() });
    const second = await call(emulator.url, 'POST', CREATE, { body: validBody() });
    const refused = await call(emulator.url, 'POST', CREATE, { body: validBody() });
    expect([first.status, second.status, refused.status]).toEqual([200, 200, 403]);
    expect(refused.json).toEqual(documentedError(403, CREATE, { message: "You've run out of credits" }));

    const raised = await fetch(`${emulator.url}/_emulator/credits`, {
      method: 'POST',
      body: JSON.stringify({ balance: 40 }),
    });
    expect(await raised.json()).toEqual({ balance: 40 });
    expect((await call(emulator.url, 'POST', CREATE, { body: validBody() })).status).toBe(200);
    expect(await (await fetch(`${emulator.url}/_emulator/credits`)).json()).toEqual({ balance: 0 });
  });
});

describe('upstream input rules', () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await start('upstream-rules');
  });

  it('refuses a second reference image (upstream takes one)', async () => {
    const image = { type: 'image', url: 'https://example.com/a.png' };
    const reply = await call(emulator.url, 'POST', CREATE, {
      body: validBody({ references: [image, image] }),
    });
    expect(reply.status).toBe(400);
  });

  it('counts the prompt in UTF-16 code units: 500 emoji pass, 501 do not', async () => {
    const ok = await call(emulator.url, 'POST', CREATE, { body: validBody({ prompt: '🎬'.repeat(500) }) });
    const long = await call(emulator.url, 'POST', CREATE, { body: validBody({ prompt: '🎬'.repeat(501) }) });
    expect([ok.status, long.status]).toEqual([200, 400]);
  });

  it('measures a data URI as encoded: 16,000,000 characters pass, one more does not', async () => {
    const prefix = 'data:video/mp4;base64,';
    const fits = `${prefix}${'A'.repeat(16_000_000 - prefix.length)}`;
    const over = `${prefix}${'A'.repeat(16_000_000 - prefix.length + 4)}`;
    const accepted = await call(emulator.url, 'POST', CREATE, { body: validBody({ video_url: fits }) });
    const refused = await call(emulator.url, 'POST', CREATE, { body: validBody({ video_url: over }) });
    expect([accepted.status, refused.status]).toEqual([200, 400]);
  });
});

describe('authentication', () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await start('auth');
  });

  it('answers 401 to a create call without an Authorization header', async () => {
    const reply = await call(emulator.url, 'POST', CREATE, { body: validBody(), key: null });
    expect(reply.status).toBe(401);
    expect(reply.json).toEqual(
      documentedError(401, CREATE, {
        message: 'Unauthorized: an Authorization: Bearer <API key> header is required',
      }),
    );
  });

  it('answers 401 (a bad key, as documented; 403 means out of credits) to a create call with a wrong Bearer key', async () => {
    const reply = await call(emulator.url, 'POST', CREATE, { body: validBody(), key: 'not-the-key' });
    expect(reply.status).toBe(401);
    expect(reply.json).toEqual(
      documentedError(401, CREATE, { message: 'Unauthorized: the API key is not valid' }),
    );
  });

  it('answers 401 to status calls without or with a wrong key', async () => {
    const missing = await call(emulator.url, 'GET', `${CREATE}?generation_id=x`, { key: null });
    const wrong = await call(emulator.url, 'GET', `${CREATE}?generation_id=x`, { key: 'nope' });
    expect([missing.status, wrong.status]).toEqual([401, 401]);
  });
});

describe('validation of a create call', () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await start('validation');
  });

  const invalid: readonly [string, Record<string, unknown>, string, string][] = [
    ['a missing model', { model: undefined }, 'model', 'model is required'],
    ['another model', { model: 'runway/gen4' }, 'model', 'model must be "runway/gen4_aleph"'],
    ['a missing prompt', { prompt: undefined }, 'prompt', 'prompt is required'],
    ['a prompt that is not a string', { prompt: 42 }, 'prompt', 'prompt must be a string'],
    ['an empty prompt', { prompt: '' }, 'prompt', 'prompt must not be empty'],
    [
      'a prompt over 1000 characters',
      { prompt: 'x'.repeat(1001) },
      'prompt',
      'prompt must be at most 1000 characters',
    ],
    ['a missing video_url', { video_url: undefined }, 'video_url', 'video_url is required'],
    [
      'an http video_url on a public host',
      { video_url: 'http://example.com/clip.mp4' },
      'video_url',
      'video_url must be an HTTPS URL or a data: URI',
    ],
    [
      'a video_url that is no URL',
      { video_url: 'clip.mp4' },
      'video_url',
      'video_url must be an HTTPS URL or a data: URI',
    ],
    [
      'a video_url over 2048 characters',
      { video_url: `https://example.com/${'a'.repeat(2030)}` },
      'video_url',
      'video_url must be at most 2048 characters',
    ],
    [
      'an unknown frame_size',
      { frame_size: '1920:1080' },
      'frame_size',
      'frame_size must be one of 1280:720, 720:1280, 1104:832, 832:1104, 960:960, 1584:672, 848:480, 640:480',
    ],
    ['a duration other than 5', { duration: 10 }, 'duration', 'duration must be 5'],
    ['a duration given as a string', { duration: '5' }, 'duration', 'duration must be 5'],
    ['a negative seed', { seed: -1 }, 'seed', 'seed must be an integer from 0 to 4294967295'],
    ['a seed above 4294967295', { seed: 4294967296 }, 'seed', 'seed must be an integer from 0 to 4294967295'],
    ['a fractional seed', { seed: 1.5 }, 'seed', 'seed must be an integer from 0 to 4294967295'],
    ['references that are not an array', { references: 'x' }, 'references', 'references must be an array'],
    [
      'a reference that is not an image',
      { references: [{ type: 'video', url: 'https://example.com/a.png' }] },
      'references[0].type',
      'references[].type must be "image"',
    ],
    [
      'a reference without url',
      { references: [{ type: 'image' }] },
      'references[0].url',
      'references[].url is required',
    ],
  ];

  it.each(invalid)('rejects %s with 400 and the reason', async (_case, overrides, path, message) => {
    const reply = await call(emulator.url, 'POST', CREATE, { body: validBody(overrides) });
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual(
      documentedError(400, CREATE, { message: `Invalid request: ${message}`, errors: [{ path, message }] }),
    );
  });

  it('rejects a body that is not JSON with 400', async () => {
    const reply = await call(emulator.url, 'POST', CREATE, { rawBody: '{"model":' });
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual(
      documentedError(400, CREATE, {
        message: 'Invalid request: the body must be valid JSON',
        errors: [{ path: '', message: 'the body must be valid JSON' }],
      }),
    );
  });

  it('lists every invalid field in errors', async () => {
    const reply = await call(emulator.url, 'POST', CREATE, {
      body: { model: 'runway/gen4_aleph', duration: 4 },
    });
    expect(reply.status).toBe(400);
    expect((reply.json as { errors: unknown[] }).errors).toEqual([
      { path: 'prompt', message: 'prompt is required' },
      { path: 'video_url', message: 'video_url is required' },
      { path: 'duration', message: 'duration must be 5' },
    ]);
  });

  it.each([CREATE, LEGACY_CREATE])(
    'accepts a valid body on %s with 200 (as documented) and a queued generation',
    async (path) => {
      const reply = await call(emulator.url, 'POST', path, { body: validBody() });
      expect(reply.status).toBe(200);
      const body = reply.json as { id: string; status: string };
      expect(body.status).toBe('queued');
      expect(body.id).toMatch(UUID);
      expect(Object.keys(body).sort()).toEqual(['id', 'status']);
    },
  );

  it('accepts every documented field at its limits', async () => {
    const reply = await call(emulator.url, 'POST', CREATE, {
      body: validBody({
        prompt: '🎬'.repeat(500),
        frame_size: '640:480',
        duration: 5,
        seed: 4294967295,
        references: [{ type: 'image', url: 'https://example.com/style.png' }],
        video_url: 'https://example.com/clip.mp4',
      }),
    });
    expect(reply.status).toBe(200);
  });

  it('answers 404 for an unknown generation id and 400 without one', async () => {
    const unknown = await call(
      emulator.url,
      'GET',
      `${CREATE}?generation_id=00000000-0000-0000-0000-000000000000`,
    );
    const missing = await call(emulator.url, 'GET', CREATE);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual(
      documentedError(404, CREATE, { message: 'Generation 00000000-0000-0000-0000-000000000000 not found' }),
    );
    expect(missing.status).toBe(400);
  });
});

describe('a generation', () => {
  let emulator: RunningEmulator;
  let clock = 0;
  let completedId: string;
  let completed: { last: GenerationBody; seen: string[] };
  beforeAll(async () => {
    emulator = await start('generation', { now: () => Date.now() + clock });
    completedId = await create(
      emulator,
      validBody({ video_url: clipDataUri, frame_size: '848:480', seed: 42 }),
    );
    completed = await waitUntilFinished(emulator, completedId);
  });

  it('turns a data URI clip into a completed 848x480, 5 s H.264 video with its credits', async () => {
    expect(completed.last).toEqual({
      id: completedId,
      status: 'completed',
      video: [expect.stringMatching(/\/_emulator\/outputs\/.+\.mp4\?expires=\d+&sig=[0-9a-f]{64}$/)],
      meta: { usage: { credits_used: 40 } },
    });
    expect(completed.seen.every((status) => ['queued', 'generating', 'completed'].includes(status))).toBe(
      true,
    );
    const download = await fetch(firstVideoUrl(completed.last));
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('video/mp4');
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(Number(download.headers.get('content-length'))).toBe(bytes.length);
    const outputPath = join(workDir, 'output.mp4');
    await writeFile(outputPath, bytes);
    const probe = await probeVideo(outputPath);
    expect({
      width: probe.width,
      height: probe.height,
      duration: probe.durationSeconds,
      codec: probe.codec,
    }).toEqual({
      width: 848,
      height: 480,
      duration: 5,
      codec: 'h264',
    });
  });

  it('answers HEAD on an output URL with its type and length, without a body', async () => {
    const url = firstVideoUrl(completed.last);
    const [head, get] = [await fetch(url, { method: 'HEAD' }), await fetch(url)];
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('video/mp4');
    expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'));
    expect(await head.text()).toBe('');
  });

  it('refuses an output URL with 403 once it has expired, or when its signature is wrong', async () => {
    const url = firstVideoUrl(completed.last);
    const tampered = await fetch(url.replace(/sig=[0-9a-f]/, 'sig=g'));
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain('<Message>Invalid signature</Message>');
    clock = 3601 * 1000;
    try {
      const expired = await fetch(url);
      expect(expired.status).toBe(403);
      expect(await expired.text()).toContain('<Message>Request has expired</Message>');
    } finally {
      clock = 0;
    }
  });

  it('ends in error when a data URI does not declare a video media type', async () => {
    const id = await create(
      emulator,
      validBody({ video_url: `data:application/octet-stream;base64,${clipBytes.toString('base64')}` }),
    );
    const { last } = await waitUntilFinished(emulator, id);
    expect(last.error).toEqual({
      name: 'InvalidInputError',
      message: 'video_url data URI has media type application/octet-stream; a video/* type is required',
    });
  });

  it('ends in error when the input is not a video', async () => {
    const notVideo = `data:video/mp4;base64,${Buffer.from('this is plain text, not a video').toString('base64')}`;
    const id = await create(emulator, validBody({ video_url: notVideo }));
    const { last } = await waitUntilFinished(emulator, id);
    expect(last).toEqual({
      id,
      status: 'error',
      error: { name: 'InvalidInputError', message: 'video_url does not hold a video the model can read' },
    });
  });

  it('ends in error when the input URL cannot be fetched', async () => {
    const id = await create(emulator, validBody({ video_url: UNREACHABLE_VIDEO_URL }));
    const { last } = await waitUntilFinished(emulator, id);
    expect(last.status).toBe('error');
    expect(last.error?.name).toBe('InputFetchError');
  });

  it('fetches a URL input with HEAD then GET, and refuses a redirect or a generic Content-Type', async () => {
    const methods: string[] = [];
    const origin: Server = createServer((request, response) => {
      methods.push(`${request.method} ${request.url}`);
      if (request.url === '/moved.mp4') {
        response.writeHead(302, { location: '/clip.mp4' }).end();
        return;
      }
      const contentType = request.url === '/generic.mp4' ? 'application/octet-stream' : 'video/mp4';
      response.writeHead(200, { 'content-type': contentType, 'content-length': clipBytes.length });
      response.end(request.method === 'HEAD' ? undefined : clipBytes);
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    try {
      const fetched = await create(
        emulator,
        validBody({ video_url: `${originUrl}/clip.mp4`, frame_size: '640:480' }),
      );
      const redirected = await create(emulator, validBody({ video_url: `${originUrl}/moved.mp4` }));
      const generic = await create(emulator, validBody({ video_url: `${originUrl}/generic.mp4` }));
      const [done, refused, untyped] = await Promise.all([
        waitUntilFinished(emulator, fetched),
        waitUntilFinished(emulator, redirected),
        waitUntilFinished(emulator, generic),
      ]);
      expect(done.last.status).toBe('completed');
      expect(refused.last.error).toEqual({
        name: 'InputFetchError',
        message: 'HEAD of video_url answered 302 (redirect); redirects are not followed',
      });
      expect(untyped.last.error?.name).toBe('InvalidInputError');
      expect(methods.filter((line) => line.endsWith('/clip.mp4'))).toEqual([
        'HEAD /clip.mp4',
        'GET /clip.mp4',
      ]);
      expect(methods.filter((line) => line.endsWith('/generic.mp4'))).toEqual(['HEAD /generic.mp4']);
    } finally {
      await new Promise((resolve) => origin.close(resolve));
    }
  });

  it('logs each call with its status and the data URI reduced to its size', async () => {
    const id = await create(emulator, validBody({ video_url: clipDataUri, prompt: 'log me' }));
    const reply = await call(emulator.url, 'GET', '/_emulator/requests', { key: null });
    expect(reply.status).toBe(200);
    const log = reply.json as RequestLogEntry[];
    const entry = log.find((item) => item.generationId === id && item.method === 'POST');
    expect(entry).toEqual({
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      method: 'POST',
      path: '/v2/video/generations',
      query: {},
      body: {
        model: 'runway/gen4_aleph',
        prompt: 'log me',
        video_url: `data:video/mp4;base64,<${clipBytes.length} bytes>`,
      },
      status: 200,
      generationId: id,
    });
    expect(reply.text).not.toContain(clipBytes.toString('base64').slice(0, 200));
    expect(emulator.requests()).toHaveLength(log.length);
  });
});

describe('persistence', () => {
  it('serves the same generations and request log after a restart, resuming an interrupted render', async () => {
    const first = await start('persistence');
    const id = await create(first, validBody({ video_url: clipDataUri, frame_size: '640:480' }));
    const firstLog = first.requests();
    await first.stop(); // Mid-queue or mid-render: the next process must finish the job.

    const second = await start('persistence');
    expect(second.requests()).toEqual(firstLog);
    const { last } = await waitUntilFinished(second, id);
    expect(last.status).toBe('completed');
    expect(last.meta).toEqual({ usage: { credits_used: 40 } });
    await second.stop();
    const secondLog = second.requests();

    const third = await start('persistence', { videoShape: 'object' });
    expect(third.requests()).toEqual(secondLog);
    const again = (await poll(third, id)).json as GenerationBody;
    expect(again.status).toBe('completed');
    const download = await fetch((again.video as { url: string }).url);
    expect(download.status).toBe(200);
    expect(firstLog.map(({ method, status, generationId }) => ({ method, status, generationId }))).toEqual([
      { method: 'POST', status: 200, generationId: id },
    ]);
  });
});

describe('fault injection', () => {
  it('answers the first create with 500 and creates nothing (post:500:count=1)', async () => {
    const emulator = await start('fault-post-500', { faults: 'post:500:count=1' });
    const faulted = await call(emulator.url, 'POST', CREATE, { body: validBody() });
    const next = await call(emulator.url, 'POST', CREATE, { body: validBody() });
    expect([faulted.status, next.status]).toEqual([500, 200]);
    expect(
      emulator.requests().map(({ status, fault, generationId }) => ({ status, fault, generationId })),
    ).toEqual([
      { status: 500, fault: 'post:500', generationId: undefined },
      { status: 200, fault: undefined, generationId: (next.json as { id: string }).id },
    ]);
  });

  it('creates the generation but never answers (post:timeout-after-create)', async () => {
    const emulator = await start('fault-timeout', { faults: 'post:timeout-after-create:count=1' });
    await expect(
      call(emulator.url, 'POST', CREATE, { body: validBody(), signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow();
    const [entry] = emulator.requests();
    expect(entry?.status).toBe(0);
    expect(entry?.fault).toBe('post:timeout-after-create');
    const known = await poll(emulator, entry?.generationId ?? '');
    expect(known.status).toBe(200);
  });

  it('creates the generation then answers 500 (post:500-after-create)', async () => {
    const emulator = await start('fault-500-after', { faults: 'post:500-after-create:count=1' });
    const reply = await call(emulator.url, 'POST', CREATE, { body: validBody() });
    expect(reply.status).toBe(500);
    const [entry] = emulator.requests();
    expect(entry?.fault).toBe('post:500-after-create');
    expect((await poll(emulator, entry?.generationId ?? '')).status).toBe(200);
  });

  it('rate-limits the first status call with Retry-After (get:429:retry-after=2)', async () => {
    const emulator = await start('fault-429', { faults: 'get:429:count=1:retry-after=2' });
    const id = await create(emulator, validBody());
    const limited = await poll(emulator, id);
    const next = await poll(emulator, id);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(next.status).toBe(200);
  });

  it('answers a status call with a body that is not JSON (get:malformed)', async () => {
    const emulator = await start('fault-malformed', { faults: 'get:malformed:count=1' });
    const id = await create(emulator, validBody());
    const reply = await poll(emulator, id);
    expect(reply.status).toBe(200);
    expect(reply.json).toBeUndefined();
    expect(reply.text).toBe(`{"id":"${id}","status":`);
  });

  it('drops the connection of a status call (get:reset)', async () => {
    const emulator = await start('fault-reset', { faults: 'get:reset:count=1' });
    const id = await create(emulator, validBody());
    await expect(poll(emulator, id)).rejects.toThrow('fetch failed');
    expect((await poll(emulator, id)).status).toBe(200);
  });

  it('ends the generation in error (result:error)', async () => {
    const emulator = await start('fault-result', { faults: 'result:error:count=1' });
    const id = await create(emulator, validBody({ video_url: clipDataUri }));
    const { last } = await waitUntilFinished(emulator, id);
    expect(last).toEqual({
      id,
      status: 'error',
      error: {
        name: 'GenerationFailedError',
        message: 'The generation failed (injected fault result:error)',
      },
    });
  });

  it('answers downloads with 404, then half the bytes, then the video (output:404, output:truncate)', async () => {
    const emulator = await start('fault-output', { faults: 'output:404:count=1,output:truncate:count=1' });
    const id = await create(emulator, validBody({ video_url: clipDataUri, frame_size: '640:480' }));
    const { last } = await waitUntilFinished(emulator, id);
    const url = firstVideoUrl(last);
    const missing = await fetch(url);
    const truncated = await fetch(url);
    await expect(truncated.arrayBuffer()).rejects.toThrow();
    const found = await fetch(url);
    const bytes = await found.arrayBuffer();
    expect([missing.status, truncated.status, found.status]).toEqual([404, 200, 200]);
    expect(Number(truncated.headers.get('content-length'))).toBe(bytes.byteLength);
    const downloads = emulator.requests().filter((entry) => entry.path.startsWith('/_emulator/outputs/'));
    expect(downloads.map((entry) => [entry.status, entry.fault ?? null])).toEqual([
      [404, 'output:404'],
      [200, 'output:truncate'],
      [200, null],
    ]);
  });

  it('answers a create with a truncated body and creates nothing (post:malformed)', async () => {
    const emulator = await start('fault-post-malformed', { faults: 'post:malformed:count=1' });
    const reply = await call(emulator.url, 'POST', CREATE, { body: validBody() });
    expect(reply.status).toBe(200);
    expect(reply.json).toBeUndefined();
    const [entry] = emulator.requests();
    expect(entry?.fault).toBe('post:malformed');
    expect(entry?.generationId).toBeUndefined();
  });

  it('draws the same faults for the same seed (get:503@0.5)', async () => {
    const statuses = async (name: string): Promise<number[]> => {
      const emulator = await start(name, { faults: 'get:503@0.5', seed: 3 });
      const id = await create(emulator, validBody());
      const seen: number[] = [];
      for (let i = 0; i < 12; i += 1) seen.push((await poll(emulator, id)).status);
      return seen;
    };
    const first = await statuses('fault-seed-a');
    expect(await statuses('fault-seed-b')).toEqual(first);
    expect([...new Set(first)].sort()).toEqual([200, 503]);
  });
});

describe('fault specification', () => {
  it('parses output faults of results with percent-decoded URLs and prompt filters', () => {
    expect(
      parseFaults(
        'result:url=https%3A//[%3A%3A1]/a%2Cb.mp4:prompt=case%3A1,result:redirect=http%3A//10.0.0.7/,result:not-video,result:oversize=2048',
      ).map(({ kind, value, prompt, label }) => ({ kind, value, prompt, label })),
    ).toEqual([
      {
        kind: 'url',
        value: 'https://[::1]/a,b.mp4',
        prompt: 'case:1',
        label: 'result:url=https%3A//[%3A%3A1]/a%2Cb.mp4',
      },
      {
        kind: 'redirect',
        value: 'http://10.0.0.7/',
        prompt: undefined,
        label: 'result:redirect=http%3A//10.0.0.7/',
      },
      { kind: 'not-video', value: undefined, prompt: undefined, label: 'result:not-video' },
      { kind: 'oversize', value: '2048', prompt: undefined, label: 'result:oversize=2048' },
    ]);
  });

  it('applies a result rule with prompt= only to generations whose prompt contains it, without counting others', () => {
    const faults = new FaultInjector(parseFaults('result:error:prompt=[fail]:count=1,result:stuck'), () => 0);

    expect(faults.pick('result', { prompt: 'make it pop' })?.kind).toBe('stuck');
    expect(faults.pick('result', { prompt: 'make it pop [fail]' })?.kind).toBe('error');
    expect(faults.pick('result', { prompt: 'again [fail]' })?.kind).toBe('stuck');
  });

  it('parses scope, kind, probability and options', () => {
    expect(parseFaults('get:429@0.25:retry-after=3:count=2:after=1, post:reset-after-create')).toEqual([
      {
        scope: 'get',
        kind: '429',
        status: 429,
        afterCreate: false,
        probability: 0.25,
        count: 2,
        after: 1,
        retryAfterSeconds: 3,
        label: 'get:429',
      },
      {
        scope: 'post',
        kind: 'reset-after-create',
        afterCreate: true,
        probability: 1,
        count: Number.POSITIVE_INFINITY,
        after: 0,
        label: 'post:reset-after-create',
      },
    ]);
  });

  it.each([
    ['put:500', 'scope must be one of post, get, output, result'],
    ['get:stall', 'unknown get fault "stall"'],
    ['get:500@2', 'probability must be a number in 0..1'],
    ['get:500:tries=2', 'unknown option "tries"'],
    ['result:500', 'unknown result fault "500"'],
    ['result:url=not-a-url', 'url= needs a URL, percent-encoded'],
    ['result:oversize=big', 'oversize= needs a number of bytes'],
    ['result:redirect=%E2%82', 'has broken percent-encoding'],
    ['get:500:prompt=x', 'unknown option "prompt"'],
  ])('rejects %s', (spec, message) => {
    expect(() => parseFaults(spec)).toThrow(FaultSyntaxError);
    expect(() => parseFaults(spec)).toThrow(message);
  });
});
