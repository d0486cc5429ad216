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

/** A `moov` holding a minimal `mvhd` (version 0, timescale 1000, duration 5000). */
export function moovBox(): Uint8Array {
  const mvhd = new Uint8Array(100);
  const view = new DataView(mvhd.buffer);
  view.setUint32(12, 1000); // timescale
  view.setUint32(16, 5000); // duration
  view.setUint32(20, 0x00010000); // rate 1.0
  view.setUint16(24, 0x0100); // volume 1.0
  view.setUint32(96, 2); // next track id
  return isoBox('moov', isoBox('mvhd', mvhd));
}

export function mdatBox(payloadBytes = 64): Uint8Array {
  return isoBox('mdat', new Uint8Array(payloadBytes).fill(0xab));
}

/** A small whole MP4: ftyp, moov, mdat. */
export function minimalMp4(mdatPayloadBytes = 64): Uint8Array {
  return concatBytes(ftypBox(), moovBox(), mdatBox(mdatPayloadBytes));
}

/** The start of a WebM file: the EBML header magic and a DocType of "webm". */
export function webmHeader(): Uint8Array {
  return new Uint8Array([
    0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81, 0x04,
    0x42, 0xf3, 0x81, 0x08, 0x42, 0x82, 0x84, 0x77, 0x65, 0x62, 0x6d, 0x42, 0x87, 0x81, 0x04, 0x42, 0x85,
    0x81, 0x02,
  ]);
}
