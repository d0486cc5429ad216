/**
 * Ranged GETs as real S3 answers them, where s3rver does not: a range that starts at or past the
 * end of the object (every range of an empty object) is `416 InvalidRange`, not a 206 with a
 * wrong length and no body; a suffix range (`bytes=-N`) is the last N bytes, not the first N+1.
 */

/** s3rver's error type: thrown from a middleware, it becomes an S3 XML error response. */
export type S3ErrorClass = new (code: string, message: string, detail?: Record<string, unknown>) => Error;

export interface RangeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** The object's size, or undefined when it does not exist (s3rver then answers NoSuchKey). */
export type SizeOf = (bucket: string, key: string) => Promise<number | undefined>;

/**
 * For a path-style GET with a single-range `Range` header: throws `InvalidRange` when the range
 * cannot be satisfied, and rewrites a suffix range into the explicit one s3rver understands.
 * @throws the given S3Error class's `InvalidRange` (416).
 */
export async function applyS3RangeRules(
  request: RangeRequest,
  sizeOf: SizeOf,
  S3Error: S3ErrorClass,
): Promise<void> {
  if (request.method !== 'GET') return;
  const header = request.headers.range;
  if (typeof header !== 'string') return;
  const range = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (range === null) return; // multiple ranges or another unit: S3 ignores the header too
  const match = /^\/([^/]+)\/(.+)$/.exec(request.path);
  if (match === null) return;
  let bucket: string;
  let key: string;
  try {
    bucket = decodeURIComponent(match[1] ?? '');
    key = decodeURIComponent(match[2] ?? '');
  } catch {
    return;
  }
  const size = await sizeOf(bucket, key);
  if (size === undefined) return;
  const [, first = '', last = ''] = range;
  const unsatisfiable = () =>
    new S3Error('InvalidRange', 'The requested range is not satisfiable', {
      RangeRequested: header,
      ActualObjectSize: size,
    });
  if (first === '') {
    if (last === '' || Number(last) === 0 || size === 0) throw unsatisfiable();
    const start = Math.max(0, size - Number(last));
    request.headers.range = `bytes=${start}-${size - 1}`;
    return;
  }
  if (Number(first) >= size) throw unsatisfiable();
}
