/**
 * Is this object really a video? Decided from a few ranged reads, never the whole file, so
 * that a renamed text file or a truncated upload is refused before any paid call.
 */
import { InputRejectedError, RejectionCode } from './errors.js';

export type VideoContainer = 'iso-bmff' | 'matroska';

/** Reads bytes `start..endInclusive` of the object (fewer at its end). */
export type RangeReader = (start: number, endInclusive: number) => Promise<Uint8Array>;

const EBML_MAGIC = [0x1a, 0x45, 0xdf, 0xa3];
// Top-level boxes of MP4/MOV files; old QuickTime files may start with any of them.
const ISO_TOP_LEVEL_BOXES = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot', 'uuid', 'meta']);
const MAX_BOXES_WALKED = 64;

/**
 * Identify the container of an object of `size` bytes and, for MP4/MOV, walk its top-level
 * boxes to prove the file is whole and has a `moov` (index) box.
 * @throws InputRejectedError `EMPTY_FILE`, or `NOT_A_VIDEO` with the reason.
 */
export async function inspectVideo(size: number, readRange: RangeReader): Promise<VideoContainer> {
  if (size === 0) throw new InputRejectedError(RejectionCode.emptyFile, 'the file is empty');
  const head = await readRange(0, Math.min(size, 64) - 1);
  if (startsWith(head, EBML_MAGIC)) return 'matroska';
  if (head.length >= 8 && ISO_TOP_LEVEL_BOXES.has(ascii(head, 4, 8))) {
    await checkIsoBoxes(size, readRange);
    return 'iso-bmff';
  }
  throw new InputRejectedError(RejectionCode.notAVideo, 'the file is not an MP4, MOV, WebM or MKV video');
}

async function checkIsoBoxes(size: number, readRange: RangeReader): Promise<void> {
  let offset = 0;
  let sawMovie = false;
  for (let boxes = 0; offset < size && boxes < MAX_BOXES_WALKED; boxes++) {
    if (size - offset < 8) throw truncated(`a box header at byte ${offset} is cut short`);
    const header = await readRange(offset, Math.min(size, offset + 16) - 1);
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    const type = ascii(header, 4, 8);
    if (!/^[\x20-\x7e]{4}$/.test(type)) throw notVideo(`byte ${offset} does not start a box`);
    let boxSize = view.getUint32(0);
    if (boxSize === 1) {
      if (header.length < 16) throw truncated(`the box at byte ${offset} is cut short`);
      boxSize = Number(view.getBigUint64(8));
    } else if (boxSize === 0) {
      boxSize = size - offset; // "extends to the end of the file"
    }
    if (boxSize < 8) throw notVideo(`the ${type} box at byte ${offset} has an impossible size`);
    if (offset + boxSize > size) throw truncated(`the ${type} box runs past the end of the file`);
    if (type === 'moov') sawMovie = true;
    offset += boxSize;
  }
  if (!sawMovie && offset >= size) throw truncated('the file has no moov box');
}

function truncated(detail: string): InputRejectedError {
  return new InputRejectedError(RejectionCode.notAVideo, `the video is truncated or damaged: ${detail}`);
}

function notVideo(detail: string): InputRejectedError {
  return new InputRejectedError(RejectionCode.notAVideo, `the file is not a valid MP4/MOV video: ${detail}`);
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((byte, index) => bytes[index] === byte);
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}
