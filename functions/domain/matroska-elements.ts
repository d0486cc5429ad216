/**
 * WebM/MKV (Matroska, EBML) parsing, pure and bounded: from ranged reads, find the `Tracks`
 * element (directly among the Segment's first children, or through the `SeekHead`) and return
 * its first video track with its codec and pixel size.
 *
 * Bounds: the first {@link MATROSKA_HEAD_BYTES} bytes are read at once; at most
 * {@link MAX_SEGMENT_CHILDREN} Segment children are walked (one 12-byte read each beyond that
 * head); a `Tracks` element larger than {@link MAX_TRACKS_BYTES} is refused unread.
 */
import { BoxParseError, type RangeReader, type VideoTrackInfo } from './mp4-boxes.js';

export const MATROSKA_HEAD_BYTES = 64 * 1024;
export const MAX_SEGMENT_CHILDREN = 64;
export const MAX_TRACKS_BYTES = 1024 * 1024;

const ID = {
  ebml: 0x1a45dfa3,
  docType: 0x4282,
  segment: 0x18538067,
  seekHead: 0x114d9b74,
  seek: 0x4dbb,
  seekId: 0x53ab,
  seekPosition: 0x53ac,
  info: 0x1549a966,
  timecodeScale: 0x2ad7b1,
  duration: 0x4489,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  trackType: 0x83,
  codecId: 0x86,
  video: 0xe0,
  pixelWidth: 0xb0,
  pixelHeight: 0xba,
  cluster: 0x1f43b675,
} as const;

/** Codec ids of video a decoder such as the provider's handles. */
export const DECODABLE_MATROSKA_CODECS: readonly string[] = [
  'V_VP8',
  'V_VP9',
  'V_AV1',
  'V_MPEG4/ISO/AVC',
  'V_MPEGH/ISO/HEVC',
  'V_MPEG4/ISO/SP',
  'V_MPEG4/ISO/ASP',
  'V_MPEG4/ISO/AP',
  'V_MPEG2',
  'V_MPEG1',
  'V_MJPEG',
  'V_PRORES',
  'V_THEORA',
];

interface Element {
  readonly id: number;
  /** Offset of the element's data (after its id and size). */
  readonly dataStart: number;
  /** Data size; undefined when "unknown" (live streams). */
  readonly size: number | undefined;
}

/**
 * Reads one element header from `bytes` at `offset`.
 * @throws BoxParseError `damaged` when the header is malformed or cut short.
 */
function readElement(bytes: Uint8Array, offset: number): Element {
  const id = readVint(bytes, offset, true);
  const size = readVint(bytes, offset + id.length, false);
  return {
    id: id.value,
    dataStart: offset + id.length + size.length,
    size: size.unknown ? undefined : size.value,
  };
}

function readVint(bytes: Uint8Array, offset: number, keepMarker: boolean) {
  const first = bytes[offset];
  if (first === undefined) throw damaged(`an element at byte ${offset} is cut short`);
  let length = 1;
  while (length <= 8 && (first & (0x80 >> (length - 1))) === 0) length += 1;
  if (length > 8 || (keepMarker && length > 4)) throw damaged(`byte ${offset} does not start an element`);
  if (offset + length > bytes.length) throw damaged(`an element at byte ${offset} is cut short`);
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i += 1) {
    const byte = bytes[offset + i] ?? 0;
    value = value * 256 + byte;
    allOnes &&= byte === 0xff;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

function children(bytes: Uint8Array, start: number, end: number): Element[] {
  const found: Element[] = [];
  let offset = start;
  while (offset < end) {
    const element = readElement(bytes, offset);
    found.push(element);
    if (element.size === undefined) break;
    offset = element.dataStart + element.size;
    if (offset > end) throw damaged('an element runs past its parent');
    if (found.length > 4096) throw damaged('too many elements');
  }
  return found;
}

function unsigned(bytes: Uint8Array, element: Element): number {
  let value = 0;
  for (let i = 0; i < (element.size ?? 0); i += 1) value = value * 256 + (bytes[element.dataStart + i] ?? 0);
  return value;
}

function text(bytes: Uint8Array, element: Element): string {
  const data = bytes.subarray(element.dataStart, element.dataStart + (element.size ?? 0));
  return new TextDecoder().decode(data).replace(/\0+$/, '');
}

function float(bytes: Uint8Array, element: Element): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset + element.dataStart, element.size ?? 0);
  if (element.size === 4) return view.getFloat32(0);
  if (element.size === 8) return view.getFloat64(0);
  return undefined;
}

/**
 * Proves a WebM/MKV file of `size` bytes holds a video track with a decodable codec.
 * @throws BoxParseError with the fault found.
 */
export async function inspectMatroskaFile(size: number, readRange: RangeReader): Promise<VideoTrackInfo> {
  const head = await readRange(0, Math.min(size, MATROSKA_HEAD_BYTES) - 1);
  const header = readElement(head, 0);
  if (header.id !== ID.ebml || header.size === undefined) throw damaged('the EBML header is malformed');
  const docType = children(head, header.dataStart, header.dataStart + header.size).find(
    (e) => e.id === ID.docType,
  );
  const kind = docType === undefined ? 'matroska' : text(head, docType);
  if (kind !== 'webm' && kind !== 'matroska')
    throw damaged(`the EBML document type is "${kind}", not a video`);
  const segment = readElement(head, header.dataStart + header.size);
  if (segment.id !== ID.segment) throw damaged('the file has no Segment');
  const segmentEnd = segment.size === undefined ? size : segment.dataStart + segment.size;
  if (segmentEnd > size) throw damaged('the Segment runs past the end of the file');

  let offset = segment.dataStart;
  let durationSeconds: number | undefined;
  let tracksAt: number | undefined;
  for (let walked = 0; offset < segmentEnd && walked < MAX_SEGMENT_CHILDREN; walked += 1) {
    const bytes =
      offset + 12 <= head.length ? head : await readRange(offset, Math.min(size, offset + 12) - 1);
    const base = bytes === head ? 0 : offset;
    const element = readElement(bytes, offset - base);
    const dataStart = element.dataStart + base;
    if (element.id === ID.tracks) {
      tracksAt = offset;
      break;
    }
    if (element.id === ID.cluster || element.size === undefined) break; // media data: Tracks is not ahead
    if (element.id === ID.seekHead && dataStart + element.size <= head.length) {
      tracksAt ??= seekTarget(head, dataStart, dataStart + element.size, segment.dataStart);
    }
    if (element.id === ID.info && dataStart + element.size <= head.length) {
      durationSeconds = durationOfInfo(head, dataStart, dataStart + element.size);
    }
    offset = dataStart + element.size;
  }
  if (tracksAt === undefined || tracksAt >= size)
    throw new BoxParseError('no-video-track', 'the file has no Tracks element');
  const tracksHead = await readRange(tracksAt, Math.min(size, tracksAt + 12) - 1);
  const tracks = readElement(tracksHead, 0);
  if (tracks.id !== ID.tracks || tracks.size === undefined) throw damaged('the Tracks element is malformed');
  if (tracks.size > MAX_TRACKS_BYTES) throw damaged(`the Tracks element is over ${MAX_TRACKS_BYTES} bytes`);
  if (tracksAt + tracks.dataStart + tracks.size > size) throw damaged('the Tracks element is cut short');
  const body = await readRange(tracksAt + tracks.dataStart, tracksAt + tracks.dataStart + tracks.size - 1);
  return { ...videoTrackOf(body), ...(durationSeconds === undefined ? {} : { durationSeconds }) };
}

function seekTarget(bytes: Uint8Array, start: number, end: number, segmentData: number): number | undefined {
  for (const seek of children(bytes, start, end)) {
    if (seek.id !== ID.seek || seek.size === undefined) continue;
    const fields = children(bytes, seek.dataStart, seek.dataStart + seek.size);
    const id = fields.find((field) => field.id === ID.seekId);
    const position = fields.find((field) => field.id === ID.seekPosition);
    if (id !== undefined && position !== undefined && unsigned(bytes, id) === ID.tracks) {
      return segmentData + unsigned(bytes, position);
    }
  }
  return undefined;
}

function durationOfInfo(bytes: Uint8Array, start: number, end: number): number | undefined {
  const fields = children(bytes, start, end);
  const scale = fields.find((field) => field.id === ID.timecodeScale);
  const duration = fields.find((field) => field.id === ID.duration);
  const ticks = duration === undefined ? undefined : float(bytes, duration);
  if (ticks === undefined || !(ticks > 0)) return undefined;
  return (ticks * (scale === undefined ? 1_000_000 : unsigned(bytes, scale))) / 1e9;
}

function videoTrackOf(body: Uint8Array): Omit<VideoTrackInfo, 'durationSeconds'> {
  let fault: BoxParseError | undefined;
  for (const entry of children(body, 0, body.length)) {
    if (entry.id !== ID.trackEntry || entry.size === undefined) continue;
    const fields = children(body, entry.dataStart, entry.dataStart + entry.size);
    const type = fields.find((field) => field.id === ID.trackType);
    if (type === undefined || unsigned(body, type) !== 1) continue;
    const codecField = fields.find((field) => field.id === ID.codecId);
    const codec = codecField === undefined ? '' : text(body, codecField);
    const video = fields.find((field) => field.id === ID.video);
    const pixels =
      video?.size === undefined ? [] : children(body, video.dataStart, video.dataStart + video.size);
    const widthField = pixels.find((field) => field.id === ID.pixelWidth);
    const heightField = pixels.find((field) => field.id === ID.pixelHeight);
    const width = widthField === undefined ? 0 : unsigned(body, widthField);
    const height = heightField === undefined ? 0 : unsigned(body, heightField);
    if (!DECODABLE_MATROSKA_CODECS.includes(codec)) {
      fault ??= new BoxParseError(
        'codec-unsupported',
        `the video codec "${codec.slice(0, 40)}" is not one the provider decodes`,
      );
    } else if (width === 0 || height === 0) {
      fault ??= new BoxParseError('track-invalid', `the video track is ${width}x${height} pixels`);
    } else {
      return { codec, width, height };
    }
  }
  throw fault ?? new BoxParseError('no-video-track', 'the file has no video track');
}

function damaged(detail: string): BoxParseError {
  return new BoxParseError('damaged', detail);
}
