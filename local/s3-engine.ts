/**
 * s3rver (CommonJS, untyped): the part of its surface the local S3 server uses, typed, and its
 * error type, which, thrown from a middleware, becomes an S3 XML error response.
 */
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';

export interface KoaContext {
  readonly method: string;
  /** The request target as received: percent-encoded path and raw query. */
  readonly url: string;
  /** The request path, percent-encoded: `/<bucket>/<key>` for path-style requests. */
  path: string;
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  /** The original request's headers (Koa reads them from `ctx.request.req`, not `ctx.req`). */
  headers: IncomingHttpHeaders;
  readonly ip: string;
  /** The body stream s3rver's PUT handlers read. */
  req: Readable;
  /** The response status set so far (s3rver sets it in its handlers). */
  readonly status: number;
  set(field: string, value: string): void;
}

export type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

export interface S3rverRecord {
  readonly eventName: string;
  readonly s3: {
    readonly bucket: { readonly name: string };
    readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string };
  };
}

export interface S3rverInstance {
  /** Koa's middleware list, composed when the server starts listening. */
  readonly middleware: KoaMiddleware[];
  readonly store: {
    listBuckets(): Promise<Array<{ readonly name: string }>>;
    getMetadata(bucket: string, key: string): Promise<Readonly<Record<string, string | number | undefined>>>;
    getObject(
      bucket: string,
      key: string,
    ): Promise<{
      readonly metadata: Readonly<Record<string, string | number | undefined>>;
      readonly content: Readable | null;
    } | null>;
  };
  readonly httpServer?: Server;
  run(): Promise<{ readonly port: number }>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: { readonly Records: readonly S3rverRecord[] }) => void): void;
}

interface S3rverOptions {
  readonly address: string;
  readonly port: number;
  readonly directory: string;
  readonly silent: boolean;
  readonly configureBuckets: ReadonlyArray<{ readonly name: string; readonly configs: readonly string[] }>;
}

const require = createRequire(import.meta.url);
export const S3rver = require('s3rver') as new (options: S3rverOptions) => S3rverInstance;
/** s3rver's error type: thrown from a middleware, it becomes an S3 XML error response. */
export const S3Error = require('s3rver/lib/models/error') as new (
  code: string,
  message: string,
  detail?: Record<string, unknown>,
) => Error;

/** A request header as one string (repeated ones joined with `,`); `''` when absent. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}
