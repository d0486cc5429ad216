/**
 * The local stand-in for the CloudFront distribution in front of the input bucket: serves
 * `GET`/`HEAD /<key>` of one bucket of the local S3 to URLs signed as CloudFront signs them
 * (canned policy: `Expires`, `Signature`, `Key-Pair-Id`), with the object's `Content-Type` and
 * `Content-Length`, never a redirect. A missing, tampered or expired signature answers 403 as
 * CloudFront does. The signature is checked with the public key, as CloudFront checks it.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';

export interface InputCdnOptions {
  /** A client of the local S3 (the stand-in reads as CloudFront's origin access control would). */
  readonly s3: S3Client;
  readonly bucket: string;
  /** The public key matching the signing private key (PEM). */
  readonly publicKeyPem: string;
  readonly keyPairId: string;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface InputCdnHandle {
  /** The base URL input URLs are signed under, e.g. `http://127.0.0.1:4570/vidflow-input`. */
  readonly url: string;
  close(): Promise<void>;
}

/** A signing key pair for input URLs, kept in `file` so URLs given out survive a restart. */
export async function loadOrCreateSigningKey(
  file: string,
): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  let privateKeyPem: string;
  try {
    privateKeyPem = await readFile(file, 'utf8');
  } catch {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(file, privateKeyPem, { mode: 0o600 });
  }
  const publicKeyPem = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  return { privateKeyPem, publicKeyPem };
}

/**
 * Starts the stand-in. The base URL's path is `/<bucket>`, so a signed URL's path is
 * `/<bucket>/<key>` (CloudFront's is `/<key>` on its own domain).
 *
 * @throws when the port is taken.
 */
export async function startInputCdn(options: InputCdnOptions): Promise<InputCdnHandle> {
  const publicKey = createPublicKey(options.publicKeyPem);
  const now = options.now ?? Date.now;
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    serve(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendError(response, 502, 'OriginError', String(error));
      else response.destroy();
    });
  });
  let base = '';

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    request.resume();
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      sendError(
        response,
        403,
        'MethodNotAllowed',
        'This distribution is not configured to allow the HTTP request method',
      );
      return;
    }
    const url = new URL(request.url ?? '/', base);
    const denied = checkSignature(url, base, options.keyPairId, publicKey, now());
    if (denied !== undefined) {
      sendError(response, 403, denied.code, denied.message);
      return;
    }
    const prefix = `/${encodeURIComponent(options.bucket)}/`;
    if (!url.pathname.startsWith(prefix)) {
      sendError(response, 403, 'AccessDenied', 'Access denied');
      return;
    }
    const key = url.pathname.slice(prefix.length).split('/').map(decodeURIComponent).join('/');
    try {
      if (method === 'HEAD') {
        const head = await options.s3.send(new HeadObjectCommand({ Bucket: options.bucket, Key: key }));
        response.writeHead(200, {
          'Content-Type': head.ContentType ?? 'application/octet-stream',
          'Content-Length': String(head.ContentLength ?? 0),
          ...(head.ETag === undefined ? {} : { ETag: head.ETag }),
        });
        response.end();
        return;
      }
      const object = await options.s3.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }));
      response.writeHead(200, {
        'Content-Type': object.ContentType ?? 'application/octet-stream',
        'Content-Length': String(object.ContentLength ?? 0),
        ...(object.ETag === undefined ? {} : { ETag: object.ETag }),
      });
      const body = object.Body;
      if (body instanceof Readable) await pipeline(body, response);
      else response.end();
    } catch (error) {
      // With origin access control and no ListBucket, S3 answers a missing key with 403 through CloudFront.
      if (error instanceof S3ServiceException && (error.$metadata.httpStatusCode ?? 500) < 500) {
        sendError(response, 403, 'AccessDenied', 'Access denied');
        return;
      }
      throw error;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  base = `http://${host}:${port}`;
  return {
    url: `${base}/${encodeURIComponent(options.bucket)}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Why CloudFront would refuse the URL, or undefined when its canned-policy signature holds. */
function checkSignature(
  url: URL,
  base: string,
  keyPairId: string,
  publicKey: KeyObject,
  nowMs: number,
): { code: string; message: string } | undefined {
  const expires = url.searchParams.get('Expires');
  const signature = url.searchParams.get('Signature');
  const givenKeyPairId = url.searchParams.get('Key-Pair-Id');
  if (expires === null || signature === null || givenKeyPairId === null) {
    return { code: 'MissingKey', message: 'Missing Key-Pair-Id query parameter or cookie value' };
  }
  if (givenKeyPairId !== keyPairId) return { code: 'InvalidKey', message: 'Unknown Key' };
  if (!/^\d+$/.test(expires) || Number(expires) * 1000 <= nowMs) {
    return { code: 'AccessDenied', message: 'Access denied' };
  }
  // The canned policy names the URL as signed: everything but the three signing parameters.
  const resource = new URL(url.pathname, base);
  for (const [name, value] of url.searchParams) {
    if (!['Expires', 'Signature', 'Key-Pair-Id'].includes(name)) resource.searchParams.append(name, value);
  }
  const policy = JSON.stringify({
    Statement: [
      { Resource: resource.toString(), Condition: { DateLessThan: { 'AWS:EpochTime': Number(expires) } } },
    ],
  });
  const bytes = Buffer.from(
    signature.replaceAll('-', '+').replaceAll('_', '=').replaceAll('~', '/'),
    'base64',
  );
  if (!verify('RSA-SHA1', Buffer.from(policy), publicKey, bytes)) {
    return { code: 'AccessDenied', message: 'Access denied' };
  }
  return undefined;
}

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  response.writeHead(status, { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body) });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
