/**
 * Small container files built byte by byte, so inspection tests need no fixtures on disk.
 */

/** An ISO BMFF box: 32-bit big-endian size, four-character type, payload. */
export function isoBox(type: string, payload: Uint8Array = new Uint8Array()): Uint8Array {
  if (type.length !== 4) throw new Error(`box type must have 4 characters: ${type}`);
  const box = new Uint8Array(8 + payload.length);
  new DataView(box.buffer).setUint32(0, box.length);
  box.set(new TextEncoder().encode(type), 4);
  box.set(payload, 8);
  return box;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** `ftyp` (isom, minor 512, compatible isom/mp41). */
export function ftypBox(): Uint8Array {
  return isoBox('ftyp', new TextEncoder().encode('isom\u0000\u0000\u0002\u0000isommp41'));
}

/** A full box payload: version, 24-bit flags, then `body`. */
function fullBox(type: string, version: number, body: Uint8Array): Uint8Array {
  return isoBox(type, concatBytes(new Uint8Array([version, 0, 0, 0]), body));
}

/** A `mvhd`/`mdhd` payload of version 0 (or 1) with `timescale` and `duration`. */
function timeHeader(type: 'mvhd' | 'mdhd', timescale: number, duration: number, version = 0): Uint8Array {
  if (version === 1) {
    const body = new Uint8Array(type === 'mvhd' ? 108 : 32);
    const view = new DataView(body.buffer);
    view.setUint32(16, timescale);
    view.setBigUint64(20, BigInt(duration));
    return fullBox(type, 1, body);
  }
  const body = new Uint8Array(type === 'mvhd' ? 96 : 20);
  const view = new DataView(body.buffer);
  view.setUint32(8, timescale);
  view.setUint32(12, duration);
  if (type === 'mvhd') {
    view.setUint32(16, 0x00010000); // rate 1.0
    view.setUint16(20, 0x0100); // volume 1.0
    view.setUint32(92, 2); // next track id
  }
  return fullBox(type, 0, body);
}

export interface VideoTrackOptions {
  /** `hdlr` handler type. @default 'vide' */
  readonly handler?: string;
  /** Sample entry code. @default 'avc1' */
  readonly codec?: string;
  /** @default 320 */
  readonly width?: number;
  /** @default 240 */
  readonly height?: number;
  /** In the media timescale of 1000. @default 5000 */
  readonly durationUnits?: number;
  /** `mdhd` version. @default 0 */
  readonly mediaHeaderVersion?: 0 | 1;
  /** Leave out the sample description. */
  readonly withoutSampleDescription?: true;
}

/** A `trak` with `mdia` > `mdhd`, `hdlr` and `minf` > `stbl` > `stsd` holding one visual sample entry. */
export function trakBox(options: VideoTrackOptions = {}): Uint8Array {
  const hdlrBody = new Uint8Array(21);
  hdlrBody.set(new TextEncoder().encode(options.handler ?? 'vide'), 4);
  const entry = new Uint8Array(78); // VisualSampleEntry after its header
  const entryView = new DataView(entry.buffer);
  entryView.setUint16(6, 1); // data reference index
  entryView.setUint16(24, options.width ?? 320);
  entryView.setUint16(26, options.height ?? 240);
  entryView.setUint32(28, 0x00480000); // 72 dpi
  entryView.setUint32(32, 0x00480000);
  entryView.setUint16(40, 1); // frame count
  entryView.setUint16(74, 0x18); // depth
  entryView.setInt16(76, -1);
  const entryCount = new Uint8Array(4);
  new DataView(entryCount.buffer).setUint32(0, 1);
  const stsd = fullBox('stsd', 0, concatBytes(entryCount, isoBox(options.codec ?? 'avc1', entry)));
  const stbl = isoBox('stbl', options.withoutSampleDescription ? new Uint8Array() : stsd);
  return isoBox(
    'trak',
    isoBox(
      'mdia',
      concatBytes(
        timeHeader('mdhd', 1000, options.durationUnits ?? 5000, options.mediaHeaderVersion),
        fullBox('hdlr', 0, hdlrBody),
        isoBox('minf', stbl),
      ),
    ),
  );
}

/** A `moov`: `mvhd` (timescale 1000, 5 s) and the given tracks (one 320x240 H.264 track by default). */
export function moovBox(...tracks: readonly Uint8Array[]): Uint8Array {
  const movieDuration = tracks.length === 0 ? 5000 : 0;
  return isoBox(
    'moov',
    concatBytes(timeHeader('mvhd', 1000, movieDuration), ...(tracks.length === 0 ? [trakBox()] : tracks)),
  );
}

export function mdatBox(payloadBytes = 64): Uint8Array {
  return isoBox('mdat', new Uint8Array(payloadBytes).fill(0xab));
}

/** A small whole MP4: ftyp, moov, mdat. */
export function minimalMp4(mdatPayloadBytes = 64): Uint8Array {
  return concatBytes(ftypBox(), moovBox(), mdatBox(mdatPayloadBytes));
}

/** An EBML element with a 1-to-4-byte id and an 8-byte size. */
export function ebmlElement(id: number, payload: Uint8Array | string | number): Uint8Array {
  const idBytes: number[] = [];
  for (let rest = id; rest > 0; rest = Math.floor(rest / 256)) idBytes.unshift(rest % 256);
  const data =
    typeof payload === 'string'
      ? new TextEncoder().encode(payload)
      : typeof payload === 'number'
        ? new Uint8Array([Math.floor(payload / 256), payload % 256])
        : payload;
  const size = new Uint8Array(8);
  new DataView(size.buffer).setBigUint64(0, BigInt(data.length) | (1n << 56n));
  return concatBytes(Uint8Array.from(idBytes), size, data);
}

export interface WebmOptions {
  /** `CodecID` of the track. @default 'V_VP9' */
  readonly codec?: string;
  /** Track type: 1 video, 2 audio. @default 1 */
  readonly trackType?: number;
  /** Leave out the Tracks element. */
  readonly withoutTracks?: true;
}

/** A small WebM file: EBML header, then a Segment with Info (5 s), Tracks (one 320x240 track) and a Cluster. */
export function webmHeader(options: WebmOptions = {}): Uint8Array {
  const header = ebmlElement(0x1a45dfa3, concatBytes(ebmlElement(0x4282, 'webm')));
  const duration = new Uint8Array(8);
  new DataView(duration.buffer).setFloat64(0, 5000);
  const info = ebmlElement(
    0x1549a966,
    concatBytes(ebmlElement(0x2ad7b1, new Uint8Array([0x0f, 0x42, 0x40])), ebmlElement(0x4489, duration)),
  );
  const video = ebmlElement(0xe0, concatBytes(ebmlElement(0xb0, 320), ebmlElement(0xba, 240)));
  const entry = ebmlElement(
    0xae,
    concatBytes(
      ebmlElement(0xd7, new Uint8Array([1])),
      ebmlElement(0x83, new Uint8Array([options.trackType ?? 1])),
      ebmlElement(0x86, options.codec ?? 'V_VP9'),
      video,
    ),
  );
  const tracks = options.withoutTracks ? new Uint8Array() : ebmlElement(0x1654ae6b, entry);
  const cluster = ebmlElement(0x1f43b675, ebmlElement(0xe7, new Uint8Array([0])));
  return concatBytes(header, ebmlElement(0x18538067, concatBytes(info, tracks, cluster)));
}
