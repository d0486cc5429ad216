import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HttpProviderClient,
  legacyCreatePath,
  type ProviderClientOptions,
} from '../../functions/adapters/provider-client.js';
import { parseRetryAfterMs } from '../../functions/adapters/provider-wire.js';
import {
  ConfigError,
  GenerationNotFoundError,
  ProviderAuthError,
  ProviderMalformedResponseError,
  ProviderOutOfCreditsError,
  ProviderRateLimitedError,
  ProviderRejectedRequestError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  SubmissionOutcomeUnknownError,
} from '../../functions/domain/errors.js';
import type { CreateGenerationInput } from '../../functions/domain/provider.js';

const API_KEY = 'sk-test-4f9c2b7e1d-SECRET';
const GENERATIONS_PATH = '/v2/video/generations';

/** One scripted answer of the fake provider: the n-th request gets the n-th reply. */
type Reply = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface FakeProvider {
  readonly baseUrl: string;
  readonly port: number;
  readonly received: Received[];
  close(): Promise<void>;
}

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
});

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A real HTTP server on 127.0.0.1 answering each request with the next scripted reply. */
async function startProvider(replies: readonly Reply[], port = 0): Promise<FakeProvider> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const reply = replies[received.length];
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (reply === undefined) {
        res.writeHead(418, { 'content-type': 'text/plain' }).end('unscripted request');
        return;
      }
      reply(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('the fake provider has no TCP address');
  const boundPort = address.port;
  return {
    baseUrl: `http://127.0.0.1:${boundPort}`,
    port: boundPort,
    received,
    close: () => closeServer(server),
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
}

function text(status: number, body: string, headers: Record<string, string> = {}): Reply {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
  };
}

/** Reads the request and never answers. */
const neverAnswer: Reply = () => {};

/** Sends the status line, headers and part of the body, then kills the connection. */
const destroyMidResponse: Reply = (req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
  res.write('{"id":"gen-', () => req.socket.destroy());
};

/** Reads the whole request, then closes the connection without a byte of answer. */
const closeWithoutAnswer: Reply = (req) => {
  req.socket.destroy();
};

/** Echoes the request's Authorization header back, as a misbehaving server might. */
function echoAuth(status: number, shape: 'message' | 'error' | 'text'): Reply {
  return (req, res) => {
    const auth = req.headers.authorization ?? '';
    if (shape === 'text') {
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`bad header ${auth}`);
      return;
    }
    const body =
      shape === 'message' ? { message: `bad header ${auth}` } : { error: { message: `bad header ${auth}` } };
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
}

interface Harness {
  readonly client: HttpProviderClient;
  readonly sleeps: number[];
  readonly warnings: { msg: string; extra: Record<string, unknown> | undefined }[];
}

function clientFor(baseUrl: string, options: Partial<ProviderClientOptions> = {}): Harness {
  const sleeps: number[] = [];
  const warnings: { msg: string; extra: Record<string, unknown> | undefined }[] = [];
  const client = new HttpProviderClient({
    baseUrl,
    apiKey: API_KEY,
    timeoutMs: 2_000,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    logger: { warn: (msg, extra) => warnings.push({ msg, extra }) },
    ...options,
  });
  return { client, sleeps, warnings };
}

async function rejectionOf<T extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => T,
): Promise<T> {
  const outcome = await promise.then(
    (value) => ({ rejected: false as const, value }),
    (error: unknown) => ({ rejected: true as const, error }),
  );
  if (!outcome.rejected) throw new Error(`expected a ${type.name}, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(type);
  if (!(outcome.error instanceof type)) throw outcome.error;
  return outcome.error;
}

const minimalInput: CreateGenerationInput = {
  model: 'runway/gen4_aleph',
  prompt: 'make it snow',
  video_url: 'https://bucket.example/in.mp4?sig=abc',
};

describe('HttpProviderClient.createGeneration', () => {
  it('POSTs exactly the set input fields as JSON with bearer auth and returns the 201 answer', async () => {
    const provider = await startProvider([json(201, { id: 'gen-1', status: 'queued' })]);
    const { client } = clientFor(provider.baseUrl);

    const generation = await client.createGeneration({
      ...minimalInput,
      seed: undefined,
      frame_size: undefined,
    });

    expect(generation).toEqual({ id: 'gen-1', status: 'queued' });
    expect(provider.received).toHaveLength(1);
    const [request] = provider.received;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(GENERATIONS_PATH);
    expect(request?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual({
      model: 'runway/gen4_aleph',
      prompt: 'make it snow',
      video_url: 'https://bucket.example/in.mp4?sig=abc',
    });
    expect(Object.keys(JSON.parse(request?.body ?? '{}'))).toEqual(['model', 'prompt', 'video_url']);
  });

  it('sends every optional field the input sets, and nothing it does not declare', async () => {
    const provider = await startProvider([json(201, { id: 'gen-2', status: 'queued' })]);
    const { client } = clientFor(provider.baseUrl);
    const input = {
      ...minimalInput,
      frame_size: '960:960',
      duration: 5,
      seed: 4294967295,
      references: [{ type: 'image' as const, url: 'https://bucket.example/ref.png', extra: 'dropped' }],
      notAProviderField: 'dropped',
    };

    await client.createGeneration(input);

    expect(JSON.parse(provider.received[0]?.body ?? '')).toEqual({
      model: 'runway/gen4_aleph',
      prompt: 'make it snow',
      video_url: 'https://bucket.example/in.mp4?sig=abc',
      frame_size: '960:960',
      duration: 5,
      seed: 4294967295,
      references: [{ type: 'image', url: 'https://bucket.example/ref.png' }],
    });
  });

  it('accepts a 200 answer and keeps the documented status the provider gave', async () => {
    const provider = await startProvider([json(200, { id: 'gen-3', status: 'generating' })]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.createGeneration(minimalInput)).toEqual({ id: 'gen-3', status: 'generating' });
  });

  it('treats a create answer without a status as queued', async () => {
    const provider = await startProvider([json(201, { id: 'gen-4' })]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.createGeneration(minimalInput)).toEqual({ id: 'gen-4', status: 'queued' });
  });

  it('keeps the generation when the create answer has an undocumented status, assuming queued with a warning', async () => {
    const provider = await startProvider([json(201, { id: 'gen-5', status: 'processing' })]);
    const { client, warnings } = clientFor(provider.baseUrl);

    expect(await client.createGeneration(minimalInput)).toEqual({ id: 'gen-5', status: 'queued' });
    expect(warnings).toEqual([
      {
        msg: 'provider create answer has an undocumented status, assuming queued',
        extra: { generationId: 'gen-5', status: 'processing' },
      },
    ]);
  });

  it('strips a trailing slash from the base URL', async () => {
    const provider = await startProvider([json(201, { id: 'gen-6', status: 'queued' })]);
    const { client } = clientFor(`${provider.baseUrl}/`);

    await client.createGeneration(minimalInput);

    expect(provider.received[0]?.url).toBe(GENERATIONS_PATH);
  });

  it('calls an async API key function once per request and sends what it returns', async () => {
    const provider = await startProvider([json(503, { message: 'busy' }), json(201, { id: 'gen-7' })]);
    let calls = 0;
    const { client } = clientFor(provider.baseUrl, {
      apiKey: async () => {
        calls += 1;
        return `${API_KEY}-${calls}`;
      },
    });

    await client.createGeneration(minimalInput);

    expect(calls).toBe(2);
    expect(provider.received.map((r) => r.headers.authorization)).toEqual([
      `Bearer ${API_KEY}-1`,
      `Bearer ${API_KEY}-2`,
    ]);
  });

  it('answers a 2xx body that is not JSON with SubmissionOutcomeUnknownError and does not resend', async () => {
    const provider = await startProvider([text(201, '<html>ok</html>')]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), SubmissionOutcomeUnknownError);

    expect(error.message).toBe(
      'the provider accepted the create request (HTTP 201) but its answer has no usable generation id ' +
        '(not JSON: <html>ok</html>); a generation may have been created and charged',
    );
    expect(error.cause).toBeInstanceOf(ProviderMalformedResponseError);
    expect(provider.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it.each([
    ['has no id', { status: 'queued' }, 'id is undefined'],
    ['has a numeric id', { id: 42, status: 'queued' }, 'id is number'],
    ['has an empty id', { id: '', status: 'queued' }, 'id is empty'],
    ['is an array', [{ id: 'gen-1' }], 'not a JSON object'],
  ])('answers a 2xx create body that %s with SubmissionOutcomeUnknownError', async (_case, body, detail) => {
    const provider = await startProvider([json(200, body)]);
    const { client } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), SubmissionOutcomeUnknownError);

    expect(error.message).toBe(
      `the provider accepted the create request (HTTP 200) but its answer has no usable generation id (${detail}); ` +
        'a generation may have been created and charged',
    );
    expect(error.code).toBe('SUBMISSION_OUTCOME_UNKNOWN');
    expect(provider.received).toHaveLength(1);
  });

  it.each([
    [400, { message: 'prompt is required' }, 'prompt is required'],
    [422, { error: { message: 'frame_size must be one of ...' } }, 'frame_size must be one of ...'],
    [422, { error: 'duration must be 5' }, 'duration must be 5'],
    [400, { message: ['prompt too long', 'seed out of range'] }, 'prompt too long; seed out of range'],
    [413, { message: 'payload too large' }, 'payload too large'],
  ])('rejects HTTP %i with the provider message and does not retry (%j)', async (status, body, said) => {
    const provider = await startProvider([json(status, body)]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderRejectedRequestError);

    expect(error.message).toBe(`the provider rejected the create request (HTTP ${status}): ${said}`);
    expect(error.httpStatus).toBe(status);
    expect(error.code).toBe('PROVIDER_REJECTED');
    expect(provider.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('rejects HTTP 400 with a plain-text body, keeping the text as the message', async () => {
    const provider = await startProvider([text(400, '  video_url is not reachable  ')]);
    const { client } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderRejectedRequestError);

    expect(error.message).toBe(
      'the provider rejected the create request (HTTP 400): video_url is not reachable',
    );
  });

  it('truncates the provider message to 500 characters', async () => {
    const provider = await startProvider([json(422, { message: 'x'.repeat(2_000) })]);
    const { client } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderRejectedRequestError);

    expect(error.message).toBe(`the provider rejected the create request (HTTP 422): ${'x'.repeat(500)}…`);
  });

  it('fails HTTP 401 with ProviderAuthError without retrying', async () => {
    const provider = await startProvider([json(401, { message: 'invalid api key' })]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderAuthError);

    expect(error.message).toBe(
      'the provider refused the API key for the create request (HTTP 401): invalid api key',
    );
    expect(error.httpStatus).toBe(401);
    expect(provider.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('fails HTTP 402 with ProviderOutOfCreditsError without retrying', async () => {
    const provider = await startProvider([json(402, { error: { message: 'insufficient credits' } })]);
    const { client } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderOutOfCreditsError);

    expect(error.message).toBe(
      'the provider account is out of credits for the create request (HTTP 402): insufficient credits',
    );
    expect(error.code).toBe('PROVIDER_OUT_OF_CREDITS');
    expect(provider.received).toHaveLength(1);
  });

  it('reads HTTP 403 with the documented error body as out of credits (not a bad key), without retrying', async () => {
    const provider = await startProvider([
      json(403, {
        message: "You've run out of credits",
        path: '/v2/video/generations',
        requestId: 'req-1',
        statusCode: 403,
        timestamp: '2026-02-04T10:00:00.000Z',
      }),
    ]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderOutOfCreditsError);

    expect(error.message).toBe(
      "the provider account is out of credits for the create request (HTTP 403): You've run out of credits",
    );
    expect(error.httpStatus).toBe(403);
    expect(provider.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('accepts the documented 200 answer to a create', async () => {
    const provider = await startProvider([json(200, { id: 'gen-200', status: 'queued' })]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.createGeneration(minimalInput)).toEqual({ id: 'gen-200', status: 'queued' });
  });

  it.each([500, 502, 504])(
    'answers HTTP %i with SubmissionOutcomeUnknownError after exactly one request',
    async (status) => {
      const provider = await startProvider([
        json(status, { message: 'internal error' }),
        json(201, { id: 'dup' }),
      ]);
      const { client, sleeps } = clientFor(provider.baseUrl);

      const error = await rejectionOf(client.createGeneration(minimalInput), SubmissionOutcomeUnknownError);

      expect(error.message).toBe(
        `the provider failed while handling the create request (HTTP ${status}): internal error; ` +
          'a generation may have been created and charged',
      );
      expect(error.retryable).toBe(false);
      expect(provider.received).toHaveLength(1);
      expect(sleeps).toEqual([]);
    },
  );

  it('retries HTTP 503 on create, since the provider refused the work, and returns the later answer', async () => {
    const provider = await startProvider([json(503, { message: 'overloaded' }), json(201, { id: 'gen-8' })]);
    const { client, sleeps, warnings } = clientFor(provider.baseUrl);

    expect(await client.createGeneration(minimalInput)).toEqual({ id: 'gen-8', status: 'queued' });
    expect(provider.received).toHaveLength(2);
    expect(sleeps).toEqual([250]);
    expect(warnings).toEqual([
      {
        msg: 'provider request failed, retrying',
        extra: {
          operation: 'createGeneration',
          attempt: 1,
          maxAttempts: 4,
          delayMs: 250,
          error: 'ProviderUnavailableError',
          httpStatus: 503,
          message: 'the provider refused the create request as unavailable (HTTP 503): overloaded',
        },
      },
    ]);
  });

  it('throws the last ProviderUnavailableError when every create attempt gets HTTP 503', async () => {
    const provider = await startProvider(
      Array.from({ length: 4 }, () => json(503, { message: 'overloaded' })),
    );
    const { client, sleeps } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderUnavailableError);

    expect(error.httpStatus).toBe(503);
    expect(provider.received).toHaveLength(4);
    expect(sleeps).toEqual([250, 500, 1000]);
  });

  it('retries HTTP 429 on create after the Retry-After seconds', async () => {
    const provider = await startProvider([
      json(429, { message: 'slow down' }, { 'retry-after': '7' }),
      json(201, { id: 'gen-9', status: 'queued' }),
    ]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    expect(await client.createGeneration(minimalInput)).toEqual({ id: 'gen-9', status: 'queued' });
    expect(sleeps).toEqual([7000]);
    expect(provider.received).toHaveLength(2);
  });

  it('throws ProviderRateLimitedError with full-jitter delays when every create attempt gets 429', async () => {
    const provider = await startProvider(
      Array.from({ length: 4 }, () => json(429, { message: 'slow down' })),
    );
    const { client, sleeps } = clientFor(provider.baseUrl, { random: () => 0.25 });

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderRateLimitedError);

    expect(error.message).toBe('the provider rate limited the request (HTTP 429): slow down');
    expect(error.retryAfterSeconds).toBe(undefined);
    expect(provider.received).toHaveLength(4);
    expect(sleeps).toEqual([125, 250, 500]);
  });

  it('retries a refused connection on create, then submits once the provider listens', async () => {
    const closed = await startProvider([]);
    const port = closed.port;
    await closed.close();
    let provider: FakeProvider | undefined;
    const sleeps: number[] = [];
    const { client } = clientFor(`http://127.0.0.1:${port}`, {
      sleep: async (ms) => {
        sleeps.push(ms);
        provider = await startProvider([json(201, { id: 'gen-10', status: 'queued' })], port);
      },
    });

    expect(await client.createGeneration(minimalInput)).toEqual({ id: 'gen-10', status: 'queued' });
    expect(sleeps).toEqual([250]);
    expect(provider?.received).toHaveLength(1);
  });

  it('throws ProviderUnavailableError when the connection is refused on every create attempt', async () => {
    const closed = await startProvider([]);
    await closed.close();
    const { client, sleeps } = clientFor(closed.baseUrl, { maxAttempts: 3 });

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderUnavailableError);

    expect(error.message).toMatch(
      /^could not connect to the provider, the generation was not submitted: ECONNREFUSED \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/,
    );
    expect(error.httpStatus).toBe(undefined);
    expect(sleeps).toEqual([250, 500]);
  });

  it('answers a create timeout with SubmissionOutcomeUnknownError after exactly one request', async () => {
    const provider = await startProvider([neverAnswer, json(201, { id: 'dup' })]);
    const { client, sleeps } = clientFor(provider.baseUrl, { timeoutMs: 150 });

    const error = await rejectionOf(client.createGeneration(minimalInput), SubmissionOutcomeUnknownError);

    expect(error.message).toBe(
      'the provider did not answer the create request within 150 ms; a generation may have been created and charged',
    );
    expect(provider.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('answers a connection destroyed mid-response on create with SubmissionOutcomeUnknownError', async () => {
    const provider = await startProvider([destroyMidResponse, json(201, { id: 'dup' })]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), SubmissionOutcomeUnknownError);

    expect(error.message).toBe(
      'the connection to the provider broke before its answer to the create request was read ' +
        '(HTTP 200 received, body incomplete): UND_ERR_SOCKET (other side closed); ' +
        'a generation may have been created and charged',
    );
    expect(provider.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('answers a connection closed after the request was read, before any answer, with SubmissionOutcomeUnknownError', async () => {
    const provider = await startProvider([closeWithoutAnswer, json(201, { id: 'dup' })]);
    const { client } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), SubmissionOutcomeUnknownError);

    expect(error.message).toBe(
      'the connection to the provider broke before its answer to the create request was read: ' +
        'UND_ERR_SOCKET (other side closed); a generation may have been created and charged',
    );
    expect(provider.received).toHaveLength(1);
  });

  it('does not follow a redirect on create, so the POST is never resent elsewhere', async () => {
    const provider = await startProvider([
      (_req, res) => {
        res.writeHead(307, { location: legacyCreatePath }).end();
      },
      json(201, { id: 'dup' }),
    ]);
    const { client } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderMalformedResponseError);

    expect(error.message).toBe('unexpected HTTP status 307 for the create request: no message given');
    expect(provider.received).toHaveLength(1);
  });

  it('fails an unexpected 404 on create as a malformed answer, not as a rejected input', async () => {
    const provider = await startProvider([text(404, 'Cannot POST /v2/video/generations')]);
    const { client } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderMalformedResponseError);

    expect(error.message).toBe(
      'unexpected HTTP status 404 for the create request: Cannot POST /v2/video/generations',
    );
    expect(provider.received).toHaveLength(1);
  });

  it.each([
    ['empty', ''],
    ['holding a newline', `${API_KEY}\nX-Injected: 1`],
  ])('refuses an API key that is %s with ConfigError, sending nothing', async (_case, key) => {
    const provider = await startProvider([json(201, { id: 'gen-x' })]);
    const { client } = clientFor(provider.baseUrl, { apiKey: key });

    const error = await rejectionOf(client.createGeneration(minimalInput), ConfigError);

    expect(String(error)).not.toContain(API_KEY);
    expect(provider.received).toHaveLength(0);
  });
});

describe('HttpProviderClient.getGeneration', () => {
  it('GETs the generation by its URL-encoded id with bearer auth', async () => {
    const provider = await startProvider([json(200, { id: 'gen/1 2?x', status: 'queued' })]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen/1 2?x')).toEqual({ id: 'gen/1 2?x', status: 'queued' });
    expect(provider.received).toHaveLength(1);
    expect(provider.received[0]?.method).toBe('GET');
    expect(provider.received[0]?.url).toBe(`${GENERATIONS_PATH}?generation_id=gen%2F1%202%3Fx`);
    expect(provider.received[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it.each(['queued', 'generating'] as const)('reports a %s generation', async (status) => {
    const provider = await startProvider([json(200, { id: 'gen-1', status, video: null })]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({ id: 'gen-1', status });
  });

  it('falls back to the requested id when the answer has none', async () => {
    const provider = await startProvider([json(200, { status: 'generating' })]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({ id: 'gen-1', status: 'generating' });
  });

  it.each([
    ['an object with url', { url: 'https://cdn.example/out.mp4?sig=1' }],
    ['an array of URL strings', ['https://cdn.example/out.mp4?sig=1', 'https://cdn.example/other.mp4']],
    ['an array of objects with url', [{ url: 'https://cdn.example/out.mp4?sig=1' }]],
  ])('reads the video URL of a completed generation from %s', async (_shape, video) => {
    const provider = await startProvider([
      json(200, { id: 'gen-1', status: 'completed', video, meta: { usage: { credits_used: 120 } } }),
    ]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({
      id: 'gen-1',
      status: 'completed',
      videoUrl: 'https://cdn.example/out.mp4?sig=1',
      creditsUsed: 120,
    });
  });

  it('records fractional credits and ignores credits that are not a number', async () => {
    const provider = await startProvider([
      json(200, { id: 'gen-1', status: 'generating', meta: { usage: { credits_used: 12.5 } } }),
      json(200, { id: 'gen-1', status: 'generating', meta: { usage: { credits_used: '12' } } }),
    ]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({
      id: 'gen-1',
      status: 'generating',
      creditsUsed: 12.5,
    });
    expect(await client.getGeneration('gen-1')).toEqual({ id: 'gen-1', status: 'generating' });
  });

  it.each([
    ['no video field', {}],
    ['a null video', { video: null }],
    ['an empty video array', { video: [] }],
    ['a video object without url', { video: {} }],
  ])(
    'fails a completed generation with %s as malformed after asking again maxAttempts times',
    async (_case, fields) => {
      const reply = json(200, { id: 'gen-1', status: 'completed', ...fields });
      const provider = await startProvider([reply, reply, reply, reply]);
      const { client, sleeps } = clientFor(provider.baseUrl);

      const error = await rejectionOf(client.getGeneration('gen-1'), ProviderMalformedResponseError);

      expect(error.message).toBe('the status answer for generation gen-1 is completed without a video URL');
      expect(provider.received).toHaveLength(4);
      expect(sleeps).toHaveLength(3);
    },
  );

  it.each([
    ['a string', 'https://cdn.example/out.mp4', 'a string'],
    ['a number', 7, 'a number'],
    ['an array of numbers', [7], 'its URL is not an http(s) URL'],
    ['a non-http URL', { url: 'ftp://cdn.example/out.mp4' }, 'its URL is not an http(s) URL'],
  ])('fails a video field that is %s as malformed, in every answer', async (_case, video, detail) => {
    const reply = json(200, { id: 'gen-1', status: 'completed', video });
    const provider = await startProvider([reply, reply]);
    const { client } = clientFor(provider.baseUrl, { maxAttempts: 2 });

    const error = await rejectionOf(client.getGeneration('gen-1'), ProviderMalformedResponseError);

    expect(error.message).toBe(
      `the status answer for generation gen-1 has a video field of no documented shape: ${detail}`,
    );
  });

  it.each([
    [
      'name and message',
      { name: 'ContentModeration', message: 'prompt flagged' },
      'ContentModeration',
      'prompt flagged',
    ],
    ['a message only', { message: 'prompt flagged' }, 'ProviderError', 'prompt flagged'],
    ['a plain string', 'render crashed', 'ProviderError', 'render crashed'],
    ['a name only', { name: 'Oops' }, 'Oops', 'no message given'],
  ])('reports a failed generation with an error of %s', async (_case, error, name, message) => {
    const provider = await startProvider([json(200, { id: 'gen-1', status: 'error', error })]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({
      id: 'gen-1',
      status: 'error',
      error: { name, message },
    });
  });

  it('reports a failed generation without an error field as just its status', async () => {
    const provider = await startProvider([json(200, { id: 'gen-1', status: 'error' })]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({ id: 'gen-1', status: 'error' });
  });

  it.each(['waiting', 'active', 'processing'])(
    'reads a status it does not know (%s) as still in progress, keeping the word',
    async (word) => {
      const provider = await startProvider([json(200, { id: 'gen-1', status: word })]);
      const { client } = clientFor(provider.baseUrl);

      expect(await client.getGeneration('gen-1')).toEqual({
        id: 'gen-1',
        status: 'pending',
        reportedStatus: word,
      });
    },
  );

  it.each([
    ['no status', { id: 'gen-1' }, 'has no status: undefined'],
    ['a non-object body', ['gen-1'], 'is not a JSON object'],
  ])('fails a poll answer with %s as malformed, in every answer', async (_case, body, detail) => {
    const provider = await startProvider([json(200, body), json(200, body)]);
    const { client } = clientFor(provider.baseUrl, { maxAttempts: 2 });

    const error = await rejectionOf(client.getGeneration('gen-1'), ProviderMalformedResponseError);

    expect(error.message).toBe(`the status answer for generation gen-1 ${detail}`);
  });

  it('asks again after a poll answer that is not JSON: a read is idempotent, and the generation is paid for', async () => {
    const provider = await startProvider([
      text(200, '{"id": "gen-1", "status":'),
      json(200, { status: 'generating' }),
    ]);
    const { client, sleeps, warnings } = clientFor(provider.baseUrl);

    await expect(client.getGeneration('gen-1')).resolves.toEqual({ id: 'gen-1', status: 'generating' });
    expect(provider.received).toHaveLength(2);
    expect(sleeps).toEqual([250]); // random() 0.5 of the 500 ms base
    expect(warnings[0]?.extra).toMatchObject({ error: 'ProviderMalformedResponseError' });
  });

  it('fails a poll answer that is never JSON as malformed after maxAttempts reads', async () => {
    const truncated = text(200, '{"id": "gen-1", "status":');
    const provider = await startProvider([truncated, truncated, truncated]);
    const { client, sleeps } = clientFor(provider.baseUrl, { maxAttempts: 3 });

    const error = await rejectionOf(client.getGeneration('gen-1'), ProviderMalformedResponseError);

    expect(error.message).toBe(
      'the status answer for generation gen-1 is not JSON: {"id": "gen-1", "status":',
    );
    expect(error.retryable).toBe(false);
    expect(provider.received).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('fails HTTP 404 with GenerationNotFoundError without retrying', async () => {
    const provider = await startProvider([json(404, { message: 'Generation not found' })]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.getGeneration('gen-404'), GenerationNotFoundError);

    expect(error.message).toBe(
      'the provider does not know generation gen-404 (HTTP 404): Generation not found',
    );
    expect(provider.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('fails HTTP 401 on poll with ProviderAuthError without retrying', async () => {
    const provider = await startProvider([text(401, 'Unauthorized')]);
    const { client } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.getGeneration('gen-1'), ProviderAuthError);

    expect(error.message).toBe(
      'the provider refused the API key for the status request for generation gen-1 (HTTP 401): Unauthorized',
    );
    expect(error.httpStatus).toBe(401);
    expect(provider.received).toHaveLength(1);
  });

  it('waits the Retry-After seconds after a 429 on poll, then returns the answer', async () => {
    const provider = await startProvider([
      json(429, { message: 'slow down' }, { 'retry-after': '3' }),
      json(200, { id: 'gen-1', status: 'generating' }),
    ]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({ id: 'gen-1', status: 'generating' });
    expect(sleeps).toEqual([3000]);
  });

  it('reports the Retry-After seconds on the rate-limit error when every attempt gets 429', async () => {
    const provider = await startProvider([
      json(429, {}, { 'retry-after': '2' }),
      json(429, {}, { 'retry-after': '2' }),
    ]);
    const { client, sleeps } = clientFor(provider.baseUrl, { maxAttempts: 2 });

    const error = await rejectionOf(client.getGeneration('gen-1'), ProviderRateLimitedError);

    expect(error.retryAfterSeconds).toBe(2);
    expect(sleeps).toEqual([2000]);
  });

  it('caps a Retry-After beyond 60 seconds at 60 seconds, as seconds or as an HTTP date', async () => {
    const farFuture = new Date(Date.now() + 3_600_000).toUTCString();
    const provider = await startProvider([
      json(429, {}, { 'retry-after': '3600' }),
      json(429, {}, { 'retry-after': farFuture }),
      json(200, { id: 'gen-1', status: 'queued' }),
    ]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    await client.getGeneration('gen-1');

    expect(sleeps).toEqual([60_000, 60_000]);
  });

  it('retries a 429 without Retry-After after a full-jitter delay from the injected random', async () => {
    const provider = await startProvider([
      json(429, { message: 'slow down' }),
      json(429, { message: 'slow down' }),
      json(200, { id: 'gen-1', status: 'queued' }),
    ]);
    const draws = [0.1, 0.9];
    const { client, sleeps } = clientFor(provider.baseUrl, { random: () => draws.shift() ?? 0 });

    await client.getGeneration('gen-1');

    // 0.1 * min(20000, 500 * 2^0), then 0.9 * min(20000, 500 * 2^1)
    expect(sleeps).toEqual([50, 900]);
  });

  it('caps the jittered delay at maxDelayMs', async () => {
    const provider = await startProvider(Array.from({ length: 4 }, () => json(500, {})));
    const { client, sleeps } = clientFor(provider.baseUrl, {
      random: () => 1,
      baseDelayMs: 1_000,
      maxDelayMs: 3_000,
    });

    await rejectionOf(client.getGeneration('gen-1'), ProviderUnavailableError);

    expect(sleeps).toEqual([1000, 2000, 3000]);
  });

  it('retries 5xx on poll and returns the answer that follows', async () => {
    const provider = await startProvider([
      json(500, { message: 'internal' }),
      text(502, 'Bad Gateway'),
      json(200, { id: 'gen-1', status: 'completed', video: ['https://cdn.example/o.mp4'] }),
    ]);
    const { client, sleeps, warnings } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({
      id: 'gen-1',
      status: 'completed',
      videoUrl: 'https://cdn.example/o.mp4',
    });
    expect(provider.received).toHaveLength(3);
    expect(sleeps).toEqual([250, 500]);
    expect(warnings.map((w) => w.extra?.message)).toEqual([
      'the provider failed the status request for generation gen-1 (HTTP 500): internal',
      'the provider failed the status request for generation gen-1 (HTTP 502): Bad Gateway',
    ]);
  });

  it('throws the last attempt’s ProviderUnavailableError after maxAttempts 5xx answers', async () => {
    const provider = await startProvider([json(500, {}), json(502, {}), json(504, {}), text(503, 'down')]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.getGeneration('gen-1'), ProviderUnavailableError);

    expect(error.message).toBe(
      'the provider failed the status request for generation gen-1 (HTTP 503): down',
    );
    expect(error.httpStatus).toBe(503);
    expect(provider.received).toHaveLength(4);
    expect(sleeps).toEqual([250, 500, 1000]);
  });

  it('retries a connection destroyed mid-response on poll', async () => {
    const provider = await startProvider([
      destroyMidResponse,
      json(200, { id: 'gen-1', status: 'generating' }),
    ]);
    const { client, sleeps } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({ id: 'gen-1', status: 'generating' });
    expect(provider.received).toHaveLength(2);
    expect(sleeps).toEqual([250]);
  });

  it('throws ProviderTimeoutError after maxAttempts polls the provider never answers', async () => {
    const provider = await startProvider(Array.from({ length: 3 }, () => neverAnswer));
    const { client, sleeps } = clientFor(provider.baseUrl, { timeoutMs: 100, maxAttempts: 3 });

    const error = await rejectionOf(client.getGeneration('gen-1'), ProviderTimeoutError);

    expect(error.message).toBe(
      'the provider did not answer the status request for generation gen-1 within 100 ms',
    );
    expect(error.retryable).toBe(true);
    expect(provider.received).toHaveLength(3);
    expect(sleeps).toEqual([250, 500]);
  });

  it('gives a status read up after readTimeoutMs while a create still gets timeoutMs', async () => {
    const slowCreate: Reply = (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'gen-slow', status: 'queued' }));
      }, 300);
    };
    const provider = await startProvider([slowCreate, neverAnswer]);
    const { client } = clientFor(provider.baseUrl, { timeoutMs: 2_000, readTimeoutMs: 100, maxAttempts: 1 });

    expect(await client.createGeneration(minimalInput)).toEqual({ id: 'gen-slow', status: 'queued' });
    const error = await rejectionOf(client.getGeneration('gen-slow'), ProviderTimeoutError);

    expect(error.message).toBe(
      'the provider did not answer the status request for generation gen-slow within 100 ms',
    );
    expect(provider.received.map((request) => request.method)).toEqual(['POST', 'GET']);
  });

  it('times out a poll whose body never finishes', async () => {
    const provider = await startProvider([
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":');
      },
    ]);
    const { client } = clientFor(provider.baseUrl, { timeoutMs: 100, maxAttempts: 1 });

    const error = await rejectionOf(client.getGeneration('gen-1'), ProviderTimeoutError);

    expect(error.message).toBe(
      'the provider did not answer the status request for generation gen-1 within 100 ms (HTTP 200 received, body incomplete)',
    );
  });

  it('makes exactly one request when maxAttempts is 1', async () => {
    const provider = await startProvider([json(500, {}), json(200, { id: 'gen-1', status: 'queued' })]);
    const { client, sleeps } = clientFor(provider.baseUrl, { maxAttempts: 1 });

    await rejectionOf(client.getGeneration('gen-1'), ProviderUnavailableError);

    expect(provider.received).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });
});

describe('HttpProviderClient secrecy of the API key', () => {
  it('never puts the key in an error message, serialized error, cause chain or warning', async () => {
    const errors: unknown[] = [];
    const warnings: unknown[] = [];
    const collect = async (
      replies: readonly Reply[],
      call: (client: HttpProviderClient) => Promise<unknown>,
    ) => {
      const provider = await startProvider(replies);
      const harness = clientFor(provider.baseUrl, { maxAttempts: 2, timeoutMs: 150 });
      await call(harness.client).then(
        () => errors.push(new Error('expected a failure')),
        (error: unknown) => errors.push(error),
      );
      warnings.push(...harness.warnings);
    };
    const create = (client: HttpProviderClient) => client.createGeneration(minimalInput);
    const poll = (client: HttpProviderClient) => client.getGeneration('gen-1');

    await collect([echoAuth(400, 'message')], create);
    await collect([echoAuth(422, 'error')], create);
    await collect([echoAuth(401, 'text')], create);
    await collect([echoAuth(403, 'message')], poll);
    await collect([echoAuth(402, 'text')], create);
    await collect([echoAuth(429, 'message'), echoAuth(429, 'text')], create);
    await collect([echoAuth(503, 'error'), echoAuth(503, 'message')], create);
    await collect([echoAuth(500, 'text')], create);
    await collect([echoAuth(201, 'text')], create);
    await collect([echoAuth(404, 'message')], poll);
    await collect([echoAuth(502, 'text'), echoAuth(500, 'error')], poll);
    await collect([echoAuth(200, 'text'), echoAuth(200, 'message')], poll);
    await collect([neverAnswer], create);
    await collect([destroyMidResponse], create);
    await collect([neverAnswer, neverAnswer], poll);
    const closed = await startProvider([]);
    await closed.close();
    const refused = clientFor(closed.baseUrl, { maxAttempts: 2 });
    errors.push(await refused.client.createGeneration(minimalInput).catch((error: unknown) => error));
    warnings.push(...refused.warnings);

    expect(errors).toHaveLength(16);
    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      expect(String(error)).not.toContain(API_KEY);
      expect(JSON.stringify(error)).not.toContain(API_KEY);
      let cause: unknown = error;
      for (let depth = 0; cause instanceof Error && depth < 10; depth++) {
        expect(cause.message).not.toContain(API_KEY);
        expect(cause.stack ?? '').not.toContain(API_KEY);
        cause = cause.cause;
      }
    }
    expect(warnings.length).toBe(6);
    expect(JSON.stringify(warnings)).not.toContain(API_KEY);
  });

  it('redacts the key from a transport error cause that quotes it, keeping names and codes', async () => {
    const socketError = Object.assign(new Error(`write failed for Authorization: Bearer ${API_KEY}`), {
      name: 'SocketError',
      code: 'UND_ERR_SOCKET',
    });
    const leakyFetch: typeof fetch = async () => {
      throw new TypeError('fetch failed', { cause: socketError });
    };
    const { client } = clientFor('http://127.0.0.1:9', { fetch: leakyFetch });

    const error = await rejectionOf(client.createGeneration(minimalInput), SubmissionOutcomeUnknownError);

    expect(error.message).toBe(
      'the connection to the provider broke before its answer to the create request was read: ' +
        'UND_ERR_SOCKET (write failed for Authorization: Bearer ***); a generation may have been created and charged',
    );
    const cause = error.cause;
    expect(cause).toBeInstanceOf(Error);
    expect(cause).not.toBe(socketError);
    if (!(cause instanceof Error)) return;
    expect(cause.name).toBe('TypeError');
    expect(cause.message).toBe('fetch failed');
    expect(cause.cause).toMatchObject({
      name: 'SocketError',
      code: 'UND_ERR_SOCKET',
      message: 'write failed for Authorization: Bearer ***',
    });
  });

  it('keeps a transport error cause as is when it does not quote the key', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const original = new TypeError('fetch failed', { cause: refused });
    const { client } = clientFor('http://127.0.0.1:9', {
      maxAttempts: 1,
      fetch: async () => {
        throw original;
      },
    });

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderUnavailableError);

    expect(error.cause).toBe(original);
  });

  it('replaces the key with *** in messages taken from the provider', async () => {
    const provider = await startProvider([echoAuth(400, 'message')]);
    const { client } = clientFor(provider.baseUrl);

    const error = await rejectionOf(client.createGeneration(minimalInput), ProviderRejectedRequestError);

    expect(error.message).toBe('the provider rejected the create request (HTTP 400): bad header Bearer ***');
  });

  it('replaces the key in the generation error the provider reports', async () => {
    const provider = await startProvider([
      json(200, { id: 'gen-1', status: 'error', error: { name: 'Auth', message: `key ${API_KEY} revoked` } }),
    ]);
    const { client } = clientFor(provider.baseUrl);

    expect(await client.getGeneration('gen-1')).toEqual({
      id: 'gen-1',
      status: 'error',
      error: { name: 'Auth', message: 'key *** revoked' },
    });
  });
});

describe('HttpProviderClient configuration', () => {
  it.each([
    ['a base URL that is not a URL', { baseUrl: 'api.aimlapi.com' }],
    ['a non-http base URL', { baseUrl: 'ftp://api.aimlapi.com' }],
    ['zero maxAttempts', { maxAttempts: 0 }],
    ['a fractional maxAttempts', { maxAttempts: 1.5 }],
    ['a negative timeout', { timeoutMs: -1 }],
    ['a zero read timeout', { readTimeoutMs: 0 }],
  ])('refuses %s with ConfigError', (_case, options) => {
    expect(
      () => new HttpProviderClient({ baseUrl: 'https://api.aimlapi.com', apiKey: API_KEY, ...options }),
    ).toThrow(ConfigError);
  });

  it('exports the legacy create path the emulator serves', () => {
    expect(legacyCreatePath).toBe('/v2/generate/video/runway/generation');
  });

  it.each([
    ['delay-seconds', '120', 120_000],
    ['fractional seconds', '1.5', 1_500],
    ['an HTTP date 30 s ahead', 'Thu, 01 Jan 2026 00:00:30 GMT', 30_000],
    ['an HTTP date in the past', 'Wed, 31 Dec 2025 23:59:00 GMT', 0],
    ['garbage', 'soon', undefined],
  ])('parses a Retry-After of %s', (_case, value, expected) => {
    expect(parseRetryAfterMs(value, Date.parse('2026-01-01T00:00:00Z'))).toBe(expected);
  });
});
