import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HttpOutputFetcher,
  type HttpOutputFetcherOptions,
  isPrivateAddress,
} from '../../functions/adapters/output-fetcher.js';
import { OutputDownloadError, OutputRejectedError } from '../../functions/domain/errors.js';
import { rejectionOf } from '../support/assertions.js';
import { minimalMp4 } from '../support/media.js';

const VIDEO = minimalMp4(2000);
const MAX_BYTES = 10_000;

type Route = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let origin: string;
let port: number;
const requested: string[] = [];

const routes: Record<string, Route> = {
  '/video': (_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(VIDEO.length) }).end(VIDEO);
  },
  '/octet': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(VIDEO);
  },
  '/forbidden': (_req, res) => void res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error/>'),
  '/gone': (_req, res) => void res.writeHead(410).end(),
  '/missing': (_req, res) => void res.writeHead(404).end('not found'),
  '/unavailable': (_req, res) => void res.writeHead(500).end('oops'),
  '/throttled': (_req, res) => void res.writeHead(429).end(),
  '/html': (_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'),
  '/too-large': (_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(MAX_BYTES + 1) });
    res.write(Buffer.alloc(100));
  },
  '/too-large-unannounced': (_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4' });
    res.write(Buffer.alloc(MAX_BYTES / 2));
    res.write(Buffer.alloc(MAX_BYTES / 2));
    res.end(Buffer.alloc(1));
  },
  '/short': (_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(VIDEO.length) });
    res.write(VIDEO.subarray(0, 500), () => res.socket?.destroy());
  },
  '/stall': (_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(VIDEO.length) });
    res.write(VIDEO.subarray(0, 100));
  },
  '/slow': (_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(VIDEO.length) });
    const chunks = [0, 1, 2, 3].map((i) =>
      VIDEO.subarray((i * VIDEO.length) / 4, ((i + 1) * VIDEO.length) / 4),
    );
    const next = () => {
      const chunk = chunks.shift();
      if (chunk === undefined) return void res.end();
      res.write(chunk);
      setTimeout(next, 80);
    };
    next();
  },
  '/redirect-same-origin': (_req, res) => void res.writeHead(302, { location: '/video' }).end(),
  '/redirect-loopback': (_req, res) => {
    res.writeHead(302, { location: `http://localhost:${port}/video` }).end();
  },
  '/redirect-private': (_req, res) => {
    res.writeHead(301, { location: 'https://internal.example.test/video' }).end();
  },
  '/redirect-loop': (_req, res) => void res.writeHead(302, { location: '/redirect-loop' }).end(),
  '/redirect-nowhere': (_req, res) => void res.writeHead(302).end(),
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    requested.push(path);
    const route = routes[path];
    if (route === undefined) res.writeHead(418).end();
    else route(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function fetcher(options: Partial<HttpOutputFetcherOptions> = {}): HttpOutputFetcher {
  return new HttpOutputFetcher({
    maxBytes: MAX_BYTES,
    allowedOrigins: [origin],
    stallTimeoutMs: 1000,
    ...options,
  });
}

async function consume(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The error of opening `path` on the test server, or of reading its body. */
async function failureOf(path: string, options: Partial<HttpOutputFetcherOptions> = {}): Promise<unknown> {
  return rejectionOf(
    (async () => {
      const download = await fetcher(options).open(`${origin}${path}`);
      await consume(download.body);
    })(),
  );
}

describe('HttpOutputFetcher from an allowed origin', () => {
  it('streams the body with its content type and length', async () => {
    const download = await fetcher().open(`${origin}/video`);

    expect(download.contentType).toBe('video/mp4');
    expect(download.contentLength).toBe(VIDEO.length);
    expect(new Uint8Array(await consume(download.body))).toStrictEqual(VIDEO);
  });

  it('accepts application/octet-stream without a length', async () => {
    const download = await fetcher().open(`${origin}/octet`);

    expect(download.contentLength).toBeUndefined();
    expect((await consume(download.body)).length).toBe(VIDEO.length);
  });

  it('follows a redirect within the allowed origin', async () => {
    const download = await fetcher().open(`${origin}/redirect-same-origin`);

    expect((await consume(download.body)).length).toBe(VIDEO.length);
  });

  it('keeps streaming a slow body past the headers timeout (that timeout covers the headers only)', async () => {
    const download = await fetcher({ headersTimeoutMs: 100, stallTimeoutMs: 1000 }).open(`${origin}/slow`);

    expect(new Uint8Array(await consume(download.body))).toStrictEqual(VIDEO);
  });

  it.each([
    ['/forbidden', 'OUTPUT_EXPIRED'],
    ['/gone', 'OUTPUT_EXPIRED'],
    ['/missing', 'OUTPUT_MISSING'],
    ['/html', 'OUTPUT_NOT_VIDEO'],
    ['/too-large', 'OUTPUT_TOO_LARGE'],
  ])('refuses %s with OutputRejectedError %s', async (path, code) => {
    const error = await failureOf(path);

    expect(error).toBeInstanceOf(OutputRejectedError);
    expect(error).toMatchObject({ name: 'OutputRejectedError', code, retryable: false });
  });

  it.each([
    ['/unavailable', 'OUTPUT_UNAVAILABLE'],
    ['/throttled', 'OUTPUT_UNAVAILABLE'],
  ])('fails %s with the retryable OutputDownloadError %s', async (path, code) => {
    const error = await failureOf(path);

    expect(error).toBeInstanceOf(OutputDownloadError);
    expect(error).toMatchObject({ name: 'OutputDownloadError', code, retryable: true });
  });

  it('fails a body that passes the cap without announcing its length with OUTPUT_TOO_LARGE', async () => {
    const error = await failureOf('/too-large-unannounced');

    expect(error).toBeInstanceOf(OutputRejectedError);
    expect(error).toMatchObject({ code: 'OUTPUT_TOO_LARGE' });
  });

  it('fails a body that ends short of its Content-Length with OUTPUT_TRUNCATED when consumed', async () => {
    const download = await fetcher().open(`${origin}/short`);
    const error = await rejectionOf(consume(download.body));

    expect(error).toBeInstanceOf(OutputDownloadError);
    expect(error).toMatchObject({
      code: 'OUTPUT_TRUNCATED',
      message: `the output ended after 500 of ${VIDEO.length} announced bytes`,
    });
  });

  it('fails a body that stalls with OUTPUT_STALLED', async () => {
    const download = await fetcher({ stallTimeoutMs: 100 }).open(`${origin}/stall`);
    const error = await rejectionOf(consume(download.body));

    expect(error).toBeInstanceOf(OutputDownloadError);
    expect(error).toMatchObject({
      code: 'OUTPUT_STALLED',
      message: 'the output download stalled for 100 ms',
    });
  });

  it('fails an unreachable server with the retryable OUTPUT_UNREACHABLE', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedOrigin = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));

    const error = await rejectionOf(
      fetcher({ allowedOrigins: [closedOrigin] }).open(`${closedOrigin}/video`),
    );

    expect(error).toBeInstanceOf(OutputDownloadError);
    expect(error).toMatchObject({ code: 'OUTPUT_UNREACHABLE' });
  });

  it('refuses a redirect to a loopback URL outside the allowed origins, without following it', async () => {
    requested.length = 0;

    const error = await failureOf('/redirect-loopback');

    expect(error).toBeInstanceOf(OutputRejectedError);
    expect(error).toMatchObject({ code: 'OUTPUT_URL_UNSAFE' });
    expect(requested).toStrictEqual(['/redirect-loopback']);
  });

  it('refuses a redirect to an HTTPS host that resolves to a private address', async () => {
    const error = await failureOf('/redirect-private', { resolve: async () => ['10.1.2.3'] });

    expect(error).toMatchObject({ code: 'OUTPUT_URL_UNSAFE' });
  });

  it('refuses to follow more than maxRedirects redirects', async () => {
    const error = await failureOf('/redirect-loop', { maxRedirects: 3 });

    expect(error).toBeInstanceOf(OutputRejectedError);
    expect(error).toMatchObject({ code: 'OUTPUT_REDIRECT_REFUSED' });
  });

  it('refuses a redirect without a Location', async () => {
    expect(await failureOf('/redirect-nowhere')).toMatchObject({ code: 'OUTPUT_REDIRECT_REFUSED' });
  });
});

describe('HttpOutputFetcher URL rules', () => {
  /** A fetch that fails the test if the fetcher ever gets as far as calling it. */
  const noFetch: typeof fetch = async () => {
    throw new Error('the fetcher must refuse before fetching');
  };

  it('refuses http:// to an origin that is not allowed', async () => {
    const error = await rejectionOf(fetcher({ fetch: noFetch }).open('http://cdn.example.com/out.mp4'));

    expect(error).toBeInstanceOf(OutputRejectedError);
    expect(error).toMatchObject({
      code: 'OUTPUT_URL_UNSAFE',
      message: 'the output URL uses http:; only https is accepted',
    });
  });

  it('refuses the loopback server itself when its origin is not allowed', async () => {
    const error = await rejectionOf(fetcher({ allowedOrigins: [], fetch: noFetch }).open(`${origin}/video`));

    expect(error).toMatchObject({ code: 'OUTPUT_URL_UNSAFE' });
  });

  it.each(['10.0.0.1', '127.0.0.1', '169.254.169.254', '::1', '192.168.1.20', '::ffff:127.0.0.1'])(
    'refuses an https URL whose host resolves to %s',
    async (address) => {
      const error = await rejectionOf(
        fetcher({ fetch: noFetch, resolve: async () => ['93.184.215.14', address] }).open(
          'https://cdn.example.test/out.mp4',
        ),
      );

      expect(error).toBeInstanceOf(OutputRejectedError);
      expect(error).toMatchObject({
        code: 'OUTPUT_URL_UNSAFE',
        message: `the output URL's host resolves to ${address}, a private, loopback or link-local address`,
      });
    },
  );

  it.each([
    'https://127.0.0.1/out.mp4',
    'https://[::1]/out.mp4',
    'https://169.254.169.254/latest/meta-data/',
    'https://[::ffff:127.0.0.1]/out.mp4',
    'https://[::ffff:a9fe:a9fe]/latest/meta-data/',
    'https://0x7f000001/out.mp4',
  ])('refuses the literal private address in %s', async (url) => {
    const error = await rejectionOf(
      fetcher({ fetch: noFetch, resolve: async () => ['93.184.215.14'] }).open(url),
    );

    expect(error).toMatchObject({ code: 'OUTPUT_URL_UNSAFE' });
  });

  it('opens an https URL whose host resolves to public addresses only', async () => {
    const seen: string[] = [];
    const publicFetch: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(VIDEO, { status: 200, headers: { 'content-type': 'video/mp4' } });
    };

    const download = await fetcher({
      allowedOrigins: [],
      fetch: publicFetch,
      resolve: async () => ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    }).open('https://cdn.example.test/out.mp4?sig=1');

    expect(seen).toStrictEqual(['https://cdn.example.test/out.mp4?sig=1']);
    expect((await consume(download.body)).length).toBe(VIDEO.length);
  });

  it('fails a host that does not resolve with the retryable OUTPUT_UNREACHABLE', async () => {
    const error = await rejectionOf(
      fetcher({
        fetch: noFetch,
        resolve: async () => {
          throw new Error('getaddrinfo ENOTFOUND');
        },
      }).open('https://nowhere.example.test/out.mp4'),
    );

    expect(error).toBeInstanceOf(OutputDownloadError);
    expect(error).toMatchObject({ code: 'OUTPUT_UNREACHABLE' });
  });

  it('refuses a string that is not a URL', async () => {
    expect(await rejectionOf(fetcher({ fetch: noFetch }).open('not a url'))).toMatchObject({
      code: 'OUTPUT_URL_INVALID',
    });
  });
});

describe('isPrivateAddress', () => {
  it.each([
    ['0.0.0.0', true],
    ['10.0.0.1', true],
    ['10.255.255.255', true],
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['169.254.169.254', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['192.168.0.1', true],
    ['100.64.0.1', true],
    ['100.127.255.255', true],
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['::', true],
    ['::1', true],
    ['fe80::1', true],
    ['febf::1', true],
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['::ffff:10.0.0.1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::FFFF:A9FE:A9FE', true],
    ['0:0:0:0:0:ffff:7f00:1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['0:0:0:0:0:0:0:0', true],
    ['FE80::1', true],
    ['fe80::1%eth0', true],
    ['8.8.8.8', false],
    ['93.184.215.14', false],
    ['172.15.255.255', false],
    ['172.32.0.1', false],
    ['100.63.255.255', false],
    ['100.128.0.1', false],
    ['169.253.0.1', false],
    ['192.169.0.1', false],
    ['2606:4700:4700::1111', false],
    ['::ffff:8.8.8.8', false],
    ['::ffff:808:808', false],
  ])('says %s is private: %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });
});
