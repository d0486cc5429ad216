/**
 * Keeping the provider API key out of everything the client reports. The key is sent only in
 * the `Authorization` header, but a misbehaving server may echo the request and a transport
 * error may quote the header: so text taken from an answer or an error is redacted before it
 * becomes part of a thrown error's message or cause chain, or of a log call.
 */

/** Provider messages are recorded on jobs and in logs; a whole HTML error page is noise. */
const MAX_PROVIDER_MESSAGE_CHARS = 500;

/** Redacts before truncating, so a cut can never leave part of the key behind a redaction. */
export function bounded(text: string, key: string): string {
  const clean = redact(text, key);
  return clean.length > MAX_PROVIDER_MESSAGE_CHARS ? `${clean.slice(0, MAX_PROVIDER_MESSAGE_CHARS)}…` : clean;
}

/** `text` with every occurrence of the key replaced by `***`. */
export function redact(text: string, key: string): string {
  return text.split(key).join('***');
}

/** A short reason for a transport failure: the code of the deepest cause, or its message. */
export function describeFailure(error: unknown, key: string): string {
  const chain = causeChain(error);
  const deepest = chain[chain.length - 1];
  if (deepest === undefined) return redact(String(error), key);
  const code = codeOf(deepest);
  return redact(code === undefined ? deepest.message : `${code} (${deepest.message})`, key);
}

/**
 * The cause as is, unless some message in its chain quotes the key: then a copy with the
 * key redacted, keeping names and codes, so logging `error.cause` stays safe.
 */
export function redactCause(error: unknown, key: string): unknown {
  const mentionsKey =
    error instanceof Error
      ? causeChain(error).some(
          (e) =>
            e.message.includes(key) ||
            (e.stack ?? '').includes(key) ||
            errorsOf(e).some((inner) => String(inner).includes(key)),
        )
      : String(error).includes(key);
  return mentionsKey ? copyRedacted(error, key, 0) : error;
}

function copyRedacted(error: unknown, key: string, depth: number): Error {
  if (!(error instanceof Error)) return new Error(redact(String(error), key));
  const cause =
    depth < 8 && error.cause !== undefined ? { cause: copyRedacted(error.cause, key, depth + 1) } : undefined;
  const copy: Error & { code?: unknown } = new Error(redact(error.message, key), cause);
  copy.name = error.name;
  const code = codeOf(error);
  if (code !== undefined) copy.code = code;
  return copy;
}

/** `error` and its causes, outermost first (at most 8: a cause chain may loop). */
export function causeChain(error: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = error;
  while (current instanceof Error && chain.length < 8) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

/** The errors an AggregateError gathers (happy-eyeballs connects report one per address). */
export function errorsOf(error: Error): unknown[] {
  return error instanceof AggregateError ? error.errors : [];
}

/** A Node or undici error code (`ECONNRESET`, `UND_ERR_SOCKET`), when the error has one. */
export function codeOf(error: Error): string | undefined {
  const code: unknown = 'code' in error ? error.code : undefined;
  return typeof code === 'string' ? code : undefined;
}
