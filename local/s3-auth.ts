/**
 * Authenticates requests to the local S3 server as real S3 does: Signature Version 4 in the
 * `Authorization` header or in a presigned query string, checked against the local credentials,
 * with S3's own error codes. Anonymous requests are refused (the local buckets are private, as
 * vidflow's buckets are in AWS).
 *
 * The expected signature is computed by the SDK's own signer (`@smithy/signature-v4`) over the
 * request as received: method, path, query, the headers the client says it signed, the credential
 * scope and date. What is not checked (and real S3 does check): that the body matches
 * `x-amz-content-sha256`, and the per-chunk signatures of `aws-chunked` bodies.
 */
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

/** One access key the server accepts. */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** What the verifier needs of a request, as received on the wire. */
export interface S3RequestToAuthenticate {
  readonly method: string;
  /** The request target as sent: percent-encoded path, then `?` and the raw query, if any. */
  readonly url: string;
  /** Header names in lower case, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Why S3 refused a request: `code` and `status` are those real S3 answers with. */
export class S3AuthError extends Error {
  override readonly name = 'S3AuthError';
  constructor(
    readonly code:
      | 'AccessDenied'
      | 'SignatureDoesNotMatch'
      | 'InvalidAccessKeyId'
      | 'AuthorizationHeaderMalformed'
      | 'AuthorizationQueryParametersError'
      | 'RequestTimeTooSkewed'
      | 'InvalidRequest',
    message: string,
  ) {
    super(message);
  }

  /** The HTTP status real S3 answers this code with. */
  get status(): number {
    return this.code === 'AuthorizationHeaderMalformed' ||
      this.code === 'AuthorizationQueryParametersError' ||
      this.code === 'InvalidRequest'
      ? 400
      : 403;
  }
}

export interface S3AuthOptions {
  readonly credentials: readonly S3Credentials[];
  /** The region requests must be signed for. */
  readonly region: string;
  /** @default Date.now */
  readonly now?: () => number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** Real S3 refuses a header-signed request whose date is further than this from its clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;
/** The longest `X-Amz-Expires` S3 accepts: seven days. */
const MAX_PRESIGN_SECONDS = 604_800;
const SHA256 = Hash.bind(null, 'sha256');

/**
 * Verifies `request`'s SigV4 signature.
 *
 * @throws S3AuthError (`AccessDenied` for an anonymous or expired request,
 *   `SignatureDoesNotMatch`, `InvalidAccessKeyId`, `RequestTimeTooSkewed`,
 *   `AuthorizationHeaderMalformed`, `AuthorizationQueryParametersError`) when S3 would refuse it.
 */
export async function authenticateS3Request(
  request: S3RequestToAuthenticate,
  options: S3AuthOptions,
): Promise<void> {
  const now = options.now?.() ?? Date.now();
  const questionMark = request.url.indexOf('?');
  const path = questionMark === -1 ? request.url : request.url.slice(0, questionMark);
  const query = new URLSearchParams(questionMark === -1 ? '' : request.url.slice(questionMark + 1));
  const authorization = headerOf(request.headers, 'authorization');
  const presigned = query.has('X-Amz-Algorithm') || query.has('X-Amz-Signature');
  if (authorization !== undefined && presigned) {
    throw new S3AuthError(
      'InvalidRequest',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
    );
  }
  if (query.has('AWSAccessKeyId') || query.has('Signature') || authorization?.startsWith('AWS ') === true) {
    // Signature Version 2: S3 buckets created since June 2020 refuse it.
    throw new S3AuthError(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  }
  if (authorization === undefined && !presigned) {
    throw new S3AuthError('AccessDenied', 'Access Denied');
  }
  const claim = presigned ? readQueryClaim(query, now) : readHeaderClaim(authorization ?? '', request, now);
  const secretAccessKey = options.credentials.find(
    (c) => c.accessKeyId === claim.accessKeyId,
  )?.secretAccessKey;
  if (secretAccessKey === undefined) {
    throw new S3AuthError(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  }
  const [, scopeDate, scopeRegion, scopeService, terminator] = claim.scope;
  const malformed = presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed';
  if (scopeRegion !== options.region) {
    throw new S3AuthError(
      malformed,
      `The authorization header is malformed; the region '${scopeRegion}' is wrong; expecting '${options.region}'`,
    );
  }
  if (scopeService !== 's3' || terminator !== 'aws4_request' || scopeDate !== claim.amzDate.slice(0, 8)) {
    throw new S3AuthError(malformed, `Invalid credential scope ${claim.scope.slice(1).join('/')}`);
  }

  const headers: Record<string, string> = {};
  for (const name of claim.signedHeaders) {
    const value = headerOf(request.headers, name);
    if (value === undefined) {
      throw new S3AuthError(
        'AccessDenied',
        `There were headers present in the request which were not signed: ${name}`,
      );
    }
    headers[name] = value;
  }
  // A presigned URL's payload is UNSIGNED-PAYLOAD; a header-signed one's is x-amz-content-sha256.
  const payloadHash = presigned
    ? 'UNSIGNED-PAYLOAD'
    : (headerOf(request.headers, 'x-amz-content-sha256') ?? '');
  headers['x-amz-content-sha256'] = payloadHash;
  const signableQuery: Record<string, string | string[]> = {};
  for (const key of new Set(query.keys())) {
    if (key === 'X-Amz-Signature') continue;
    const values = query.getAll(key);
    signableQuery[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: claim.accessKeyId, secretAccessKey },
    region: options.region,
    service: 's3',
    sha256: SHA256,
    // S3 signs the path as sent, percent-encoded once.
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    new HttpRequest({ method: request.method, path, query: signableQuery, headers, protocol: 'http:' }),
    {
      signingDate: parseAmzDate(claim.amzDate, malformed),
      // Exactly the headers the client signed: the payload hash is signed only when it says so.
      signableHeaders: new Set(claim.signedHeaders),
      unsignableHeaders: new Set(
        ['x-amz-content-sha256', 'x-amz-date'].filter((name) => !claim.signedHeaders.includes(name)),
      ),
    },
  );
  const expected = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization ?? ''))?.[1];
  if (expected === undefined || expected !== claim.signature) {
    throw new S3AuthError(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
}

interface SignatureClaim {
  readonly accessKeyId: string;
  /** `[accessKeyId, yyyymmdd, region, service, 'aws4_request']` */
  readonly scope: readonly string[];
  readonly amzDate: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

function readHeaderClaim(
  authorization: string,
  request: S3RequestToAuthenticate,
  now: number,
): SignatureClaim {
  const match =
    /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/.exec(
      authorization,
    );
  if (match === null) {
    if (!authorization.startsWith(ALGORITHM)) {
      throw new S3AuthError(
        'InvalidRequest',
        'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
      );
    }
    throw new S3AuthError('AuthorizationHeaderMalformed', 'The authorization header is malformed.');
  }
  const [, credential = '', signedHeaders = '', signature = ''] = match;
  const amzDate = headerOf(request.headers, 'x-amz-date');
  if (amzDate === undefined) {
    throw new S3AuthError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  const signedAt = parseAmzDate(amzDate, 'AuthorizationHeaderMalformed').getTime();
  if (Math.abs(now - signedAt) > MAX_SKEW_MS) {
    throw new S3AuthError(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
    );
  }
  if (headerOf(request.headers, 'x-amz-content-sha256') === undefined) {
    throw new S3AuthError('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  const scope = credential.split('/');
  return { accessKeyId: scope[0] ?? '', scope, amzDate, signedHeaders: signedHeaders.split(';'), signature };
}

function readQueryClaim(query: URLSearchParams, now: number): SignatureClaim {
  const param = (name: string): string => {
    const value = query.get(name);
    if (value === null || value === '') {
      throw new S3AuthError(
        'AuthorizationQueryParametersError',
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    return value;
  };
  if (param('X-Amz-Algorithm') !== ALGORITHM) {
    throw new S3AuthError(
      'AuthorizationQueryParametersError',
      'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
    );
  }
  const amzDate = param('X-Amz-Date');
  const expiresText = param('X-Amz-Expires');
  const expiresSeconds = Number(expiresText);
  if (!/^\d+$/.test(expiresText) || expiresSeconds > MAX_PRESIGN_SECONDS) {
    throw new S3AuthError(
      'AuthorizationQueryParametersError',
      'X-Amz-Expires must be non-negative and less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds',
    );
  }
  const signedAt = parseAmzDate(amzDate, 'AuthorizationQueryParametersError').getTime();
  if (now > signedAt + expiresSeconds * 1000) throw new S3AuthError('AccessDenied', 'Request has expired');
  if (signedAt - now > MAX_SKEW_MS) throw new S3AuthError('AccessDenied', 'Request is not valid yet');
  const scope = param('X-Amz-Credential').split('/');
  const signature = param('X-Amz-Signature');
  return {
    accessKeyId: scope[0] ?? '',
    scope,
    amzDate,
    signedHeaders: param('X-Amz-SignedHeaders').split(';'),
    signature,
  };
}

/** `20260204T101500Z` -> a Date. */
function parseAmzDate(
  text: string,
  code: 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError',
): Date {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (match === null)
    throw new S3AuthError(
      code,
      `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'": ${text}`,
    );
  const [, y, mo, d, h, mi, s] = match.map(Number);
  return new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0));
}

function headerOf(headers: S3RequestToAuthenticate['headers'], name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(',') : value;
}
