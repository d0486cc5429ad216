/**
 * Is this object really a video the provider can decode? Decided from bounded ranged reads,
 * never the whole file, so that a renamed text file, a truncated upload or a file that only
 * starts like a video is refused before any paid call: MP4/MOV must hold a `moov` box (wherever
 * it sits) with a video track whose sample description names a decodable codec, its pixel size
 * and a duration; WebM/MKV must hold a `Tracks` element with a video track and a decodable codec.
 * The bounds are those of `mp4-boxes.ts` and `matroska-elements.ts`.
 */
import { InputRejectedError, RejectionCode } from './errors.js';
import { inspectMatroskaFile } from './matroska-elements.js';
import {
  type BoxFault,
  BoxParseError,
  ISO_TOP_LEVEL_BOXES,
  inspectIsoFile,
  type RangeReader,
  type VideoTrackInfo,
} from './mp4-boxes.js';

export type { RangeReader, VideoTrackInfo } from './mp4-boxes.js';

export type VideoContainer = 'iso-bmff' | 'matroska';

/** What inspection found: the container and its video track. */
export interface InspectedVideo extends VideoTrackInfo {
  readonly container: VideoContainer;
}

const EBML_MAGIC = [0x1a, 0x45, 0xdf, 0xa3];

const CODE_OF_FAULT: Readonly<Record<BoxFault, RejectionCode>> = {
  damaged: RejectionCode.notAVideo,
  'no-video-track': RejectionCode.noVideoTrack,
  'codec-unsupported': RejectionCode.videoCodecUnsupported,
  'track-invalid': RejectionCode.videoTrackInvalid,
};

/**
 * Identify the container of an object of `size` bytes and prove it holds a decodable video track.
 * @throws InputRejectedError `EMPTY_FILE`; `NOT_A_VIDEO` (unknown, truncated or damaged container);
 *   `NO_VIDEO_TRACK`; `VIDEO_CODEC_UNSUPPORTED`; `VIDEO_TRACK_INVALID` (no pixel size or duration).
 */
export async function inspectVideo(size: number, readRange: RangeReader): Promise<InspectedVideo> {
  if (size === 0) throw new InputRejectedError(RejectionCode.emptyFile, 'the file is empty');
  const head = await readRange(0, Math.min(size, 64) - 1);
  try {
    if (startsWith(head, EBML_MAGIC)) {
      return { container: 'matroska', ...(await inspectMatroskaFile(size, readRange)) };
    }
    if (head.length >= 8 && ISO_TOP_LEVEL_BOXES.has(ascii(head, 4, 8))) {
      return { container: 'iso-bmff', ...(await inspectIsoFile(size, readRange)) };
    }
  } catch (error) {
    if (!(error instanceof BoxParseError)) throw error;
    const code = CODE_OF_FAULT[error.fault];
    const prefix = code === RejectionCode.notAVideo ? 'the video is truncated or damaged: ' : '';
    throw new InputRejectedError(code, `${prefix}${error.message}`, { cause: error });
  }
  throw new InputRejectedError(RejectionCode.notAVideo, 'the file is not an MP4, MOV, WebM or MKV video');
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((byte, index) => bytes[index] === byte);
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}
