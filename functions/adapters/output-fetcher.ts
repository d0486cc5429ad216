/**
 * Downloading the provider's output: a URL handed to us by a third party, so it is checked
 * before and while it is read. HTTPS only, to public addresses only (checked after every
 * redirect), with a size cap, a content-type check, a connect timeout and a stall timeout.
 * Origins listed in `allowedOrigins` (the local emulator) skip the HTTPS and address rules.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { OutputDownloadError, OutputRejectedError } from '../domain/errors.js';
import type { OutputDownload, OutputFetcher } from '../domain/ports.js';

export interface HttpOutputFetcherOptions {
  readonly maxBytes: number;
  readonly allowedOrigins?: readonly string[];
  /** Time to receive the response headers. @default 30000 */
  readonly headersTimeoutMs?: number;
  /** Longest pause between two chunks of the body. @default 30000 */
  readonly stallTimeoutMs?: number;
  readonly maxRedirects?: number;
  readonly fetch?: typeof fetch;
  readonly resolve?: (hostname: string) => Promise<readonly string[]>;
}

const ACCEPTED_CONTENT_TYPES = /^(video\/|application\/octet-stream|binary\/octet-stream)/i;

export class HttpOutputFetcher implements OutputFetcher {
  private readonly fetch: typeof fetch;
  private readonly resolve: (hostname: string) => Promise<readonly string[]>;

  constructor(private readonly options: HttpOutputFetcherOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.resolve =
      options.resolve ??
      (async (hostname) => (await lookup(hostname, { all: true })).map((entry) => entry.address));
  }

  async open(url: string): Promise<OutputDownload> {
    let current = url;
    for (let redirects = 0; ; redirects++) {
      await this.checkUrl(current);
      let response: Response;
      // The timeout covers the headers only: a fetch signal also aborts the body, and a large
      // output may take longer than this to stream (the stall timeout guards the body).
      const headers = new AbortController();
      const headersTimeoutMs = this.options.headersTimeoutMs ?? 30_000;
      const timer = setTimeout(
        () =>
          headers.abort(
            new DOMException(`no response headers within ${headersTimeoutMs} ms`, 'TimeoutError'),
          ),
        headersTimeoutMs,
      );
      try {
        response = await this.fetch(current, { redirect: 'manual', signal: headers.signal });
      } catch (error) {
        throw new OutputDownloadError(
          'OUTPUT_UNREACHABLE',
          `the output could not be fetched: ${describe(error)}`,
          {
            cause: error,
          },
        );
      } finally {
        clearTimeout(timer);
      }
      if (response.status >= 300 && response.status < 400) {
        const location = response.headers.get('location');
        await response.body?.cancel();
        if (location === null || redirects >= (this.options.maxRedirects ?? 3)) {
          throw new OutputRejectedError(
            'OUTPUT_REDIRECT_REFUSED',
            `the output URL redirects too often or nowhere`,
          );
        }
        current = new URL(location, current).toString();
        continue;
      }
      return this.accept(response);
    }
  }

  private accept(response: Response): OutputDownload {
    const status = response.status;
    if (status === 403 || status === 410) {
      void response.body?.cancel();
      throw new OutputRejectedError(
        'OUTPUT_EXPIRED',
        `the output URL answered ${status}: it has expired or is refused`,
      );
    }
    if (status === 404) {
      void response.body?.cancel();
      throw new OutputRejectedError('OUTPUT_MISSING', 'the output URL answered 404');
    }
    if (status >= 500 || status === 429) {
      void response.body?.cancel();
      throw new OutputDownloadError('OUTPUT_UNAVAILABLE', `the output URL answered ${status}`);
    }
    if (status !== 200 || response.body === null) {
      void response.body?.cancel();
      throw new OutputRejectedError('OUTPUT_HTTP_ERROR', `the output URL answered ${status}`);
    }
    const contentType = response.headers.get('content-type') ?? '';
    if (!ACCEPTED_CONTENT_TYPES.test(contentType)) {
      void response.body.cancel();
      throw new OutputRejectedError(
        'OUTPUT_NOT_VIDEO',
        `the output has content type "${contentType}", not a video`,
      );
    }
    const lengthHeader = response.headers.get('content-length');
    const contentLength = lengthHeader === null ? undefined : Number(lengthHeader);
    if (contentLength !== undefined && contentLength > this.options.maxBytes) {
      void response.body.cancel();
      throw new OutputRejectedError(
        'OUTPUT_TOO_LARGE',
        `the output is ${contentLength} bytes; the limit is ${this.options.maxBytes}`,
      );
    }
    const guard = new DownloadGuard(
      this.options.maxBytes,
      contentLength,
      this.options.stallTimeoutMs ?? 30_000,
    );
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    body.on('error', (error) => guard.destroy(guard.sourceError(error)));
    guard.on('close', () => body.destroy());
    return {
      body: body.pipe(guard),
      contentType,
      ...(contentLength === undefined ? {} : { contentLength }),
    };
  }

  private async checkUrl(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new OutputRejectedError('OUTPUT_URL_INVALID', 'the output URL is not a URL');
    }
    if ((this.options.allowedOrigins ?? []).includes(parsed.origin)) return;
    if (parsed.protocol !== 'https:') {
      throw new OutputRejectedError(
        'OUTPUT_URL_UNSAFE',
        `the output URL uses ${parsed.protocol}; only https is accepted`,
      );
    }
    const hostname = parsed.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(hostname) ? [hostname] : await this.resolveHost(hostname);
    const blocked = addresses.find(isPrivateAddress);
    if (blocked !== undefined) {
      throw new OutputRejectedError(
        'OUTPUT_URL_UNSAFE',
        `the output URL's host resolves to ${blocked}, a private, loopback or link-local address`,
      );
    }
  }

  private async resolveHost(hostname: string): Promise<readonly string[]> {
    try {
      return await this.resolve(hostname);
    } catch (error) {
      throw new OutputDownloadError('OUTPUT_UNREACHABLE', `the output host ${hostname} does not resolve`, {
        cause: error,
      });
    }
  }
}

/**
 * Counts bytes: errors when the body passes the cap, ends short of its Content-Length, or
 * stalls. Stream errors make the multipart upload abort, so no partial object is left.
 */
class DownloadGuard extends Transform {
  private received = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly expectedBytes: number | undefined,
    private readonly stallTimeoutMs: number,
  ) {
    super();
    this.arm();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.maxBytes) {
      callback(
        new OutputRejectedError('OUTPUT_TOO_LARGE', `the output passed the ${this.maxBytes}-byte limit`),
      );
      return;
    }
    this.arm();
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.disarm();
    if (this.expectedBytes !== undefined && this.received !== this.expectedBytes) {
      callback(
        new OutputDownloadError(
          'OUTPUT_TRUNCATED',
          `the output ended after ${this.received} of ${this.expectedBytes} announced bytes`,
        ),
      );
      return;
    }
    callback();
  }

  /**
   * The error to end with when the source breaks. A connection closed before the announced
   * length arrived is a truncation (undici reports it as a generic "terminated").
   */
  sourceError(error: unknown): Error {
    if (error instanceof OutputDownloadError || error instanceof OutputRejectedError) return error;
    if (this.expectedBytes !== undefined && this.received < this.expectedBytes) {
      return new OutputDownloadError(
        'OUTPUT_TRUNCATED',
        `the output ended after ${this.received} of ${this.expectedBytes} announced bytes`,
        { cause: error },
      );
    }
    return asDownloadError(error);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.disarm();
    callback(error);
  }

  private arm(): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.destroy(
        new OutputDownloadError(
          'OUTPUT_STALLED',
          `the output download stalled for ${this.stallTimeoutMs} ms`,
        ),
      );
    }, this.stallTimeoutMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function asDownloadError(error: unknown): Error {
  if (error instanceof OutputDownloadError || error instanceof OutputRejectedError) return error;
  return new OutputDownloadError('OUTPUT_INTERRUPTED', `the output download broke: ${describe(error)}`, {
    cause: error,
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** Loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified and mapped forms of them. */
export function isPrivateAddress(address: string): boolean {
  const v6 = isIP(address) === 6 ? canonicalIpv6(address) : undefined;
  const ip = (v6 === undefined ? undefined : ipv4MappedOf(v6)) ?? v6 ?? address;
  if (isIP(ip) === 4) {
    const [a = 0, b = 0] = ip.split('.').map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      a >= 224
    );
  }
  const lower = ip.toLowerCase();
  return (
    lower === '::' ||
    lower === '::1' ||
    lower.startsWith('fe8') ||
    lower.startsWith('fe9') ||
    lower.startsWith('fea') ||
    lower.startsWith('feb') ||
    lower.startsWith('fc') ||
    lower.startsWith('fd')
  );
}

/**
 * An IPv6 address spelled the one way URLs spell it (`0:0:0:0:0:0:0:1` -> `::1`,
 * `::ffff:127.0.0.1` -> `::ffff:7f00:1`), so each rule needs to know one spelling only.
 */
function canonicalIpv6(address: string): string {
  if (address.includes('%')) return address.toLowerCase(); // a zone id: URLs refuse it
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** The IPv4 address inside an IPv4-mapped IPv6 address in canonical spelling (`::ffff:7f00:1`). */
function ipv4MappedOf(canonical: string): string | undefined {
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (hex?.[1] === undefined || hex[2] === undefined) return undefined;
  const high = Number.parseInt(hex[1], 16);
  const low = Number.parseInt(hex[2], 16);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}
