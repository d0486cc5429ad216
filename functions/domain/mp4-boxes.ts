/**
 * MP4/MOV (ISO BMFF and QuickTime) box parsing, pure and bounded: the movie box (`moov`) is
 * parsed in memory once found, wherever it sits in the file. Used by the input check before any
 * paid call (from ranged reads) and by finalize to measure the output as it streams (no ffmpeg
 * in Lambda).
 *
 * Bounds: at most {@link MAX_TOP_LEVEL_BOXES} top-level box headers are read (16 bytes each, one
 * ranged read each), then the `moov` box in one read; a `moov` box larger than {@link MAX_MOVIE_BOX_BYTES} is refused unread; inside it, at most
 * {@link MAX_CHILD_BOXES} boxes are visited.
 */

/** What the file holds, read from its video track. */
export interface VideoTrackInfo {
  /** The sample entry's four-character code (`avc1`, `hvc1`, ...), or a Matroska `CodecID`. */
  readonly codec: string;
  readonly width: number;
  readonly height: number;
  /** Undefined only for a Matroska file that does not say (live recordings). */
  readonly durationSeconds?: number;
}

/** Why a file is not a playable MP4/MOV: the first is a structure fault, the rest are track faults. */
export type BoxFault = 'damaged' | 'no-video-track' | 'codec-unsupported' | 'track-invalid';

/** A structural or track-level fault, with a reason fit for the job record. */
export class BoxParseError extends Error {
  override readonly name = 'BoxParseError';
  constructor(
    readonly fault: BoxFault,
    message: string,
  ) {
    super(message);
  }
}

/** Reads bytes `start..endInclusive` of the object (fewer at its end). */
export type RangeReader = (start: number, endInclusive: number) => Promise<Uint8Array>;

export const MAX_TOP_LEVEL_BOXES = 64;
export const MAX_MOVIE_BOX_BYTES = 8 * 1024 * 1024;
export const MAX_CHILD_BOXES = 4096;

/**
 * Video sample entry codes a decoder such as the provider's handles: H.264, H.265, AV1, VP8/9,
 * MPEG-4 Part 2, H.263, Motion JPEG, ProRes, DV and MPEG-2.
 */
export const DECODABLE_ISO_CODECS: ReadonlySet<string> = new Set([
  'avc1',
  'avc2',
  'avc3',
  'avc4',
  'hvc1',
  'hev1',
  'dvh1',
  'dvhe',
  'dva1',
  'dvav',
  'av01',
  'vp08',
  'vp09',
  'mp4v',
  's263',
  'h263',
  'jpeg',
  'mjpa',
  'mjpb',
  'apch',
  'apcn',
  'apcs',
  'apco',
  'ap4h',
  'ap4x',
  'dvc ',
  'dvcp',
  'dv5n',
  'dv5p',
  'dvh5',
  'dvh6',
  'mp2v',
  'xdvc',
]);

// Top-level boxes of MP4/MOV files; old QuickTime files may start with any of them.
export const ISO_TOP_LEVEL_BOXES: ReadonlySet<string> = new Set([
  'ftyp',
  'moov',
  'mdat',
  'free',
  'skip',
  'wide',
  'pnot',
  'uuid',
  'meta',
  'styp',
  'sidx',
  'moof',
  'mfra',
  'prfl',
  'pdin',
]);

interface BoxHeader {
  readonly type: string;
  /** Header bytes (8, or 16 with a 64-bit size). */
  readonly headerBytes: number;
  /** Whole box size in bytes, header included. */
  readonly size: number;
}

/**
 * Reads a box header at `offset` from `bytes` (which hold at least the first 8 bytes of it).
 * @throws BoxParseError `damaged` when the header is cut short or the size is impossible.
 */
export function readBoxHeader(bytes: Uint8Array, offset: number, remaining: number): BoxHeader {
  if (remaining < 8 || bytes.length - offset < 8)
    throw damaged(`a box header at byte ${offset} is cut short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, bytes.length - offset);
  const type = ascii(bytes, offset + 4, offset + 8);
  if (!/^[\x20-\x7e]{4}$/.test(type)) throw damaged(`byte ${offset} does not start a box`);
  let size = view.getUint32(0);
  let headerBytes = 8;
  if (size === 1) {
    if (view.byteLength < 16 || remaining < 16)
      throw damaged(`the ${type} box at byte ${offset} is cut short`);
    const large = view.getBigUint64(8);
    size = large > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(large);
    headerBytes = 16;
  } else if (size === 0) {
    size = remaining; // "extends to the end of the file"
  }
  if (size < headerBytes) throw damaged(`the ${type} box at byte ${offset} has an impossible size`);
  if (size > remaining) throw damaged(`the ${type} box runs past the end of the file`);
  return { type, headerBytes, size };
}

/**
 * Walks the top-level boxes of a file of `size` bytes with ranged reads, finds `moov` wherever
 * it sits, reads it whole and returns its video track.
 * @throws BoxParseError with the fault found.
 */
export async function inspectIsoFile(size: number, readRange: RangeReader): Promise<VideoTrackInfo> {
  let offset = 0;
  let movie: { readonly offset: number; readonly box: BoxHeader } | undefined;
  // Every top-level box is walked (within the bound) so that a file cut short anywhere is refused.
  for (let boxes = 0; offset < size && boxes < MAX_TOP_LEVEL_BOXES; boxes++) {
    const header = await readRange(offset, Math.min(size, offset + 16) - 1);
    const box = readBoxHeader(header, 0, size - offset);
    if (box.type === 'moov') movie ??= { offset, box };
    offset += box.size;
  }
  if (movie === undefined) {
    throw damaged(
      offset < size
        ? `no moov box among the first ${MAX_TOP_LEVEL_BOXES} top-level boxes`
        : 'the file has no moov box',
    );
  }
  const { box } = movie;
  if (box.size > MAX_MOVIE_BOX_BYTES) {
    throw damaged(`the moov box is ${box.size} bytes; at most ${MAX_MOVIE_BOX_BYTES} are read`);
  }
  const payload = await readRange(movie.offset + box.headerBytes, movie.offset + box.size - 1);
  if (payload.length !== box.size - box.headerBytes) throw damaged('the moov box is cut short');
  return parseMovieBox(payload);
}

/**
 * Parses the payload of a `moov` box (without its header) and returns its first video track.
 * @throws BoxParseError `damaged`, `no-video-track`, `codec-unsupported` or `track-invalid`.
 */
export function parseMovieBox(payload: Uint8Array): VideoTrackInfo {
  const budget = { boxes: 0 };
  const children = childBoxes(payload, budget);
  const movieHeader = children.find((child) => child.type === 'mvhd');
  const fragmentDuration = findPath(payload, ['mvex', 'mehd'], budget);
  let sawVideo: VideoTrackInfo | BoxParseError | undefined;
  for (const trak of children.filter((child) => child.type === 'trak')) {
    const handler = findPath(trak.payload, ['mdia', 'hdlr'], budget);
    if (handler === undefined || handler.length < 12 || ascii(handler, 8, 12) !== 'vide') continue;
    try {
      return readVideoTrack(trak.payload, budget, movieHeader?.payload, fragmentDuration);
    } catch (error) {
      if (!(error instanceof BoxParseError)) throw error;
      sawVideo ??= error; // another video track may be whole
    }
  }
  if (sawVideo instanceof BoxParseError) throw sawVideo;
  throw new BoxParseError('no-video-track', 'the file has no video track');
}

function readVideoTrack(
  trak: Uint8Array,
  budget: { boxes: number },
  movieHeader: Uint8Array | undefined,
  fragmentDuration: Uint8Array | undefined,
): VideoTrackInfo {
  const sampleDescription = findPath(trak, ['mdia', 'minf', 'stbl', 'stsd'], budget);
  if (sampleDescription === undefined || sampleDescription.length < 8 + 8 + 36) {
    throw new BoxParseError('track-invalid', 'the video track has no sample description');
  }
  const view = viewOf(sampleDescription);
  if (view.getUint32(4) < 1) throw new BoxParseError('track-invalid', 'the video track describes no samples');
  const entrySize = view.getUint32(8);
  const codec = ascii(sampleDescription, 12, 16);
  if (entrySize < 8 + 28 || 8 + entrySize > sampleDescription.length) {
    throw damaged(`the ${printable(codec)} sample description is cut short`);
  }
  if (!DECODABLE_ISO_CODECS.has(codec)) {
    throw new BoxParseError(
      'codec-unsupported',
      `the video codec "${printable(codec)}" is not one the provider decodes`,
    );
  }
  // VisualSampleEntry: 6 reserved, 2 data reference index, 16 pre-defined/reserved, then width, height.
  const width = view.getUint16(8 + 8 + 24);
  const height = view.getUint16(8 + 8 + 26);
  if (width === 0 || height === 0) {
    throw new BoxParseError('track-invalid', `the video track is ${width}x${height} pixels`);
  }
  const durationSeconds =
    durationOf(findPath(trak, ['mdia', 'mdhd'], budget)) ??
    durationOf(movieHeader) ??
    fragmentDurationOf(fragmentDuration, movieHeader);
  if (durationSeconds === undefined)
    throw new BoxParseError('track-invalid', 'the video track has no duration');
  return { codec, width, height, durationSeconds };
}

/** Duration of an `mvhd` or `mdhd` payload (version 0 or 1), or undefined when zero or unknown. */
function durationOf(header: Uint8Array | undefined): number | undefined {
  if (header === undefined || header.length < 4) return undefined;
  const view = viewOf(header);
  const version = view.getUint8(0);
  let timescale: number;
  let duration: number;
  if (version === 1) {
    if (header.length < 32) return undefined;
    timescale = view.getUint32(20);
    duration = Number(view.getBigUint64(24));
  } else {
    if (header.length < 20) return undefined;
    timescale = view.getUint32(12);
    duration = view.getUint32(16);
  }
  // All ones means "unknown" in both versions.
  if (timescale === 0 || duration === 0 || duration === 0xffffffff || duration >= 2 ** 53) return undefined;
  return duration / timescale;
}

/** A fragmented file's duration: `mehd` in the movie's timescale. */
function fragmentDurationOf(mehd: Uint8Array | undefined, mvhd: Uint8Array | undefined): number | undefined {
  if (mehd === undefined || mvhd === undefined || mehd.length < 8 || mvhd.length < 20) return undefined;
  const view = viewOf(mehd);
  const duration =
    view.getUint8(0) === 1 && mehd.length >= 12 ? Number(view.getBigUint64(4)) : view.getUint32(4);
  const mvhdView = viewOf(mvhd);
  const timescale =
    mvhdView.getUint8(0) === 1 && mvhd.length >= 24 ? mvhdView.getUint32(20) : mvhdView.getUint32(12);
  return duration > 0 && timescale > 0 ? duration / timescale : undefined;
}

interface ChildBox {
  readonly type: string;
  readonly payload: Uint8Array;
}

function childBoxes(container: Uint8Array, budget: { boxes: number }): ChildBox[] {
  const children: ChildBox[] = [];
  let offset = 0;
  while (offset < container.length) {
    budget.boxes += 1;
    if (budget.boxes > MAX_CHILD_BOXES) throw damaged(`more than ${MAX_CHILD_BOXES} boxes in the moov box`);
    const header = readBoxHeader(container, offset, container.length - offset);
    children.push({
      type: header.type,
      payload: container.subarray(offset + header.headerBytes, offset + header.size),
    });
    offset += header.size;
  }
  return children;
}

/** The payload of the first box along `path` (`stsd` is a full box: its version/flags stay). */
function findPath(
  container: Uint8Array,
  path: readonly string[],
  budget: { boxes: number },
): Uint8Array | undefined {
  let current = container;
  for (const type of path) {
    const next = childBoxes(current, budget).find((child) => child.type === type);
    if (next === undefined) return undefined;
    current = next.payload;
  }
  return current;
}

/**
 * Follows an MP4 as it streams past, byte by byte, and keeps only the `moov` box (at most
 * {@link MAX_MOVIE_BOX_BYTES}), so finalize can measure the output it copies in constant memory.
 */
export class IsoStreamObserver {
  private offset = 0;
  /** Offset of the next top-level box header. */
  private nextBox = 0;
  private header: number[] = [];
  private movie: { bytes: Uint8Array; filled: number } | undefined;
  private movieInfo: VideoTrackInfo | undefined;
  private gaveUp = false;

  /** Feeds the next chunk of the file. Never throws: a file it cannot follow just yields no info. */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length && !this.gaveUp && this.movieInfo === undefined) {
      if (this.movie !== undefined) {
        const take = Math.min(chunk.length - at, this.movie.bytes.length - this.movie.filled);
        this.movie.bytes.set(chunk.subarray(at, at + take), this.movie.filled);
        this.movie.filled += take;
        at += take;
        this.offset += take;
        if (this.movie.filled === this.movie.bytes.length) this.finishMovie();
        continue;
      }
      if (this.offset < this.nextBox) {
        const skip = Math.min(chunk.length - at, this.nextBox - this.offset);
        at += skip;
        this.offset += skip;
        continue;
      }
      const byte = chunk[at];
      if (byte === undefined) break;
      this.header.push(byte);
      at += 1;
      this.offset += 1;
      this.onHeaderByte();
    }
  }

  /** The output's video track, once its `moov` has streamed past and parsed. */
  result(): VideoTrackInfo | undefined {
    return this.movieInfo;
  }

  private onHeaderByte(): void {
    if (this.header.length < 8) return;
    const bytes = Uint8Array.from(this.header);
    const size32 = viewOf(bytes).getUint32(0);
    if (size32 === 1 && this.header.length < 16) return;
    const type = ascii(bytes, 4, 8);
    const size = size32 === 1 ? Number(viewOf(bytes).getBigUint64(8)) : size32;
    const headerBytes = size32 === 1 ? 16 : 8;
    this.header = [];
    if (!/^[\x20-\x7e]{4}$/.test(type) || size32 === 0 || size < headerBytes) {
      this.gaveUp = true; // the file runs to its end, or is not a box stream: nothing to measure
      return;
    }
    const boxStart = this.offset - headerBytes;
    this.nextBox = boxStart + size;
    if (type !== 'moov') return;
    if (size - headerBytes > MAX_MOVIE_BOX_BYTES) {
      this.gaveUp = true;
      return;
    }
    this.movie = { bytes: new Uint8Array(size - headerBytes), filled: 0 };
    if (size === headerBytes) this.finishMovie();
  }

  private finishMovie(): void {
    const movie = this.movie;
    this.movie = undefined;
    if (movie === undefined) return;
    try {
      this.movieInfo = parseMovieBox(movie.bytes);
    } catch {
      this.gaveUp = true;
    }
  }
}

function damaged(detail: string): BoxParseError {
  return new BoxParseError('damaged', detail);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
