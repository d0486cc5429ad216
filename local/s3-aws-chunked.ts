/**
 * The `aws-chunked` content encoding of S3 request bodies (the SDK's default for streamed uploads):
 * a stream decoder and the trailing checksums it can verify. No HTTP and no s3rver here; the
 * staging of request bodies (`s3-request-body.ts`) uses them.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';

export interface Checksum {
  update(data: Buffer): void;
  /** Base64 of the big-endian digest, as in `x-amz-checksum-*`. */
  digest(): string;
}

/** The trailing checksums Node can compute; others (crc32c, crc64nvme) are accepted unverified. */
export function createChecksum(trailer: string): Checksum | undefined {
  const hashOf = (hash: Hash): Checksum => ({
    update: (data) => hash.update(data),
    digest: () => hash.digest('base64'),
  });
  switch (trailer) {
    case 'x-amz-checksum-crc32': {
      let value = 0;
      return {
        update: (data) => {
          value = crc32(data, value);
        },
        digest: () => {
          const bytes = Buffer.alloc(4);
          bytes.writeUInt32BE(value >>> 0);
          return bytes.toString('base64');
        },
      };
    }
    case 'x-amz-checksum-sha1':
      return hashOf(createHash('sha1'));
    case 'x-amz-checksum-sha256':
      return hashOf(createHash('sha256'));
    default:
      return undefined;
  }
}

const MAX_CHUNK_LINE_BYTES = 8 * 1024;

/**
 * Decodes the `aws-chunked` content encoding: `<hex size>[;chunk-signature=...]\r\n<data>\r\n`
 * repeated, a zero-size chunk, then trailer lines (`x-amz-checksum-crc32:...`) and an empty line.
 */
export class AwsChunkedDecoder extends Transform {
  readonly trailers = new Map<string, string>();
  decodedBytes = 0;
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private remaining = 0;
  private line: Buffer[] = [];
  private lineBytes = 0;

  constructor(private readonly onData: (data: Buffer) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)));
    }
  }

  override _flush(callback: TransformCallback): void {
    // Some clients end the body right after the last trailer line, without the final empty line.
    if (this.state === 'trailer' && this.lineBytes > 0) this.onLine(this.takeLine());
    if (this.state === 'trailer') this.state = 'done';
    callback(this.state === 'done' ? null : new Error(`the body ended inside a chunk (${this.state})`));
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 'done') throw new Error('bytes after the final chunk');
      if (this.state === 'data') {
        const data = chunk.subarray(offset, offset + this.remaining);
        this.onData(data);
        this.push(data);
        this.decodedBytes += data.length;
        this.remaining -= data.length;
        offset += data.length;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      const newline = chunk.indexOf(0x0a, offset);
      const end = newline === -1 ? chunk.length : newline + 1;
      this.line.push(chunk.subarray(offset, end));
      this.lineBytes += end - offset;
      offset = end;
      if (this.lineBytes > MAX_CHUNK_LINE_BYTES) throw new Error('chunk header line too long');
      if (newline !== -1) this.onLine(this.takeLine());
    }
  }

  private takeLine(): string {
    const text = Buffer.concat(this.line)
      .toString('latin1')
      .replace(/\r?\n$/, '');
    this.line = [];
    this.lineBytes = 0;
    return text;
  }

  private onLine(text: string): void {
    switch (this.state) {
      case 'data-end':
        if (text !== '') throw new Error('missing CRLF after chunk data');
        this.state = 'size';
        return;
      case 'size': {
        const size = (text.split(';', 1)[0] ?? '').trim();
        if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new Error(`bad chunk size line ${JSON.stringify(text)}`);
        this.remaining = Number.parseInt(size, 16);
        this.state = this.remaining === 0 ? 'trailer' : 'data';
        return;
      }
      case 'trailer': {
        if (text === '') {
          this.state = 'done';
          return;
        }
        const colon = text.indexOf(':');
        if (colon <= 0) throw new Error(`bad trailer line ${JSON.stringify(text)}`);
        this.trailers.set(text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim());
        return;
      }
      default:
        return;
    }
  }
}
