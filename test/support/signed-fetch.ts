/**
 * `fetch` with a SigV4 `Authorization` header for the local S3 server, signed by the SDK's own
 * signer with the local credentials: for tests that send what no SDK command sends.
 */
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/aws-clients.js';

const signer = new SignatureV4({
  credentials: LOCAL_CREDENTIALS,
  region: LOCAL_REGION,
  service: 's3',
  sha256: Hash.bind(null, 'sha256'),
  uriEscapePath: false,
  applyChecksum: false,
});

/** Sends `method url` with `headers` and `body`; `headers` must include `x-amz-content-sha256`. */
export async function signedS3Fetch(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
): Promise<Response> {
  const target = new URL(url);
  const signed = await signer.sign(
    new HttpRequest({
      method: init.method,
      protocol: target.protocol,
      hostname: target.hostname,
      port: Number(target.port),
      path: target.pathname,
      query: Object.fromEntries(target.searchParams),
      headers: { ...init.headers, host: target.host },
    }),
  );
  const { host: _host, ...headers } = signed.headers;
  return fetch(url, { method: init.method, headers, body: init.body });
}
