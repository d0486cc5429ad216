/**
 * A drop's parameters carried by the video's own S3 user metadata, parsed into a
 * {@link ParamsSource}.
 */
import { InputRejectedError, RejectionCode } from './errors.js';
import { compact, type ParamsSource, parseExactInteger, truncate } from './params-source.js';

/**
 * Read the parameters carried by a video's S3 user metadata (`prompt`, `frame-size`,
 * `duration`, `seed`, `references`). The prompt may be percent-encoded UTF-8, since S3
 * metadata is ASCII only.
 * @throws InputRejectedError when a numeric field is not a number, or the prompt's
 *   percent-encoding is broken.
 */
export function parseMetadataParams(metadata: Readonly<Record<string, string>>): ParamsSource {
  // An empty value counts as absent (S3 consoles and CLIs write empty values easily), so it
  // never hides a sidecar's or preset's real one. A value of blanks is a value, and refused.
  const get = (name: string): string | undefined => {
    const value = metadata[name] ?? metadata[name.toLowerCase()];
    return value === '' ? undefined : value;
  };
  const prompt = get('prompt');
  const frameSize = get('frame-size');
  const duration = get('duration');
  const seed = get('seed');
  const references = get('references');
  const model = get('model')?.trim();
  return compact({
    model,
    prompt: prompt === undefined ? undefined : decodeMetadataPrompt(prompt),
    frameSize: frameSize?.trim(),
    duration:
      duration === undefined
        ? undefined
        : parseMetadataNumber(duration, RejectionCode.durationInvalid, 'duration'),
    seed: seed === undefined ? undefined : parseMetadataNumber(seed, RejectionCode.seedInvalid, 'seed'),
    references:
      references === undefined
        ? undefined
        : references
            .split(',')
            .map((url) => url.trim())
            .filter((url) => url.length > 0),
  });
}

/**
 * A value S3 hands back RFC 2047-encoded: real S3 returns user metadata that was stored with
 * non-ASCII characters as `=?UTF-8?B?<base64>?=` (or `Q` encoding), one or more words.
 */
const RFC2047_WORDS = /^(?:=\?UTF-8\?[BQ]\?[^?]*\?=\s*)+$/i;
const RFC2047_WORD = /=\?UTF-8\?([BQ])\?([^?]*)\?=/gi;

function decodeRfc2047(raw: string): string {
  const bytes: number[] = [];
  for (const [, encoding, text = ''] of raw.matchAll(RFC2047_WORD)) {
    if (encoding?.toUpperCase() === 'B') {
      bytes.push(...Buffer.from(text, 'base64'));
    } else {
      const quoted = text.replace(/_/g, ' ');
      for (let i = 0; i < quoted.length; i += 1) {
        const hex = quoted[i] === '=' ? quoted.slice(i + 1, i + 3) : '';
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
          bytes.push(Number.parseInt(hex, 16));
          i += 2;
        } else {
          bytes.push(quoted.charCodeAt(i));
        }
      }
    }
  }
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(bytes));
  if (decoded.includes('\uFFFD')) {
    throw new InputRejectedError(
      RejectionCode.metadataInvalid,
      'metadata prompt has broken RFC 2047 encoding',
    );
  }
  return decoded;
}

function decodeMetadataPrompt(raw: string): string {
  if (RFC2047_WORDS.test(raw.trim())) return decodeRfc2047(raw.trim());
  // A value with no escape sequence is taken as it is, so "100% natural" stays readable.
  if (!/%[0-9A-Fa-f]{2}/.test(raw)) return raw;
  try {
    return decodeURIComponent(raw);
  } catch (error) {
    throw new InputRejectedError(
      RejectionCode.metadataInvalid,
      'metadata prompt has broken percent-encoding',
      {
        cause: error,
      },
    );
  }
}

function parseMetadataNumber(raw: string, code: RejectionCode, field: string): number {
  const value = parseExactInteger(raw.trim());
  if (value === undefined) {
    throw new InputRejectedError(
      code,
      `metadata ${field} "${truncate(raw.trim(), 40)}" is not an integer in plain decimal digits`,
    );
  }
  return value;
}
