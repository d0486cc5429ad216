import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputRejectedError } from '../../functions/domain/errors.js';
import { MAX_MOVIE_BOX_BYTES } from '../../functions/domain/mp4-boxes.js';
import { inspectVideo, type RangeReader } from '../../functions/domain/video-inspection.js';
import { runFfmpeg } from '../../local/ffmpeg.js';
import { rejectionOf } from '../support/assertions.js';
import {
  concatBytes,
  ftypBox,
  isoBox,
  mdatBox,
  minimalMp4,
  moovBox,
  trakBox,
  webmHeader,
} from '../support/media.js';

const H264_320X240_5S = {
  container: 'iso-bmff',
  codec: 'avc1',
  width: 320,
  height: 240,
  durationSeconds: 5,
} as const;

interface RecordingReader {
  readonly read: RangeReader;
  readonly ranges: (readonly [number, number])[];
}

/** Ranged reads over `bytes`, as the object store serves them (fewer bytes at the end). */
function readerOf(bytes: Uint8Array): RecordingReader {
  const ranges: (readonly [number, number])[] = [];
  return {
    ranges,
    read: async (start, endInclusive) => {
      ranges.push([start, endInclusive]);
      return bytes.slice(start, endInclusive + 1);
    },
  };
}

async function inspect(bytes: Uint8Array) {
  return inspectVideo(bytes.length, readerOf(bytes).read);
}

async function rejection(bytes: Uint8Array): Promise<InputRejectedError> {
  const error = await rejectionOf(inspect(bytes));
  expect(error).toBeInstanceOf(InputRejectedError);
  return error as InputRejectedError;
}

describe('inspectVideo', () => {
  it('accepts a whole MP4 (ftyp, moov, mdat) and reads its video track', async () => {
    await expect(inspect(minimalMp4())).resolves.toStrictEqual(H264_320X240_5S);
  });

  it('accepts an MP4 whose moov comes after its mdat', async () => {
    await expect(inspect(concatBytes(ftypBox(), mdatBox(500), moovBox()))).resolves.toStrictEqual(
      H264_320X240_5S,
    );
  });

  it('finds the video track after an audio track', async () => {
    const audio = trakBox({ handler: 'soun', codec: 'mp4a' });
    const video = trakBox({ codec: 'hvc1', width: 1280, height: 720, durationUnits: 4000 });
    await expect(inspect(concatBytes(ftypBox(), moovBox(audio, video), mdatBox()))).resolves.toStrictEqual({
      container: 'iso-bmff',
      codec: 'hvc1',
      width: 1280,
      height: 720,
      durationSeconds: 4,
    });
  });

  it('accepts a 64-bit box size and a last box that extends to the end of the file', async () => {
    const payload = new Uint8Array(40);
    const largeMdat = new Uint8Array(16 + payload.length);
    const view = new DataView(largeMdat.buffer);
    view.setUint32(0, 1);
    largeMdat.set(new TextEncoder().encode('mdat'), 4);
    view.setBigUint64(8, BigInt(largeMdat.length));
    const toEnd = isoBox('free', new Uint8Array(12));
    new DataView(toEnd.buffer).setUint32(0, 0);

    await expect(inspect(concatBytes(ftypBox(), moovBox(), largeMdat, toEnd))).resolves.toStrictEqual(
      H264_320X240_5S,
    );
  });

  it('reads box headers and the moov box with ranged reads, never the media data', async () => {
    const ftyp = ftypBox();
    const moov = moovBox();
    const bytes = concatBytes(ftyp, moov, mdatBox(1_000_000));
    const reader = readerOf(bytes);

    await expect(inspectVideo(bytes.length, reader.read)).resolves.toStrictEqual(H264_320X240_5S);
    const mdatStart = ftyp.length + moov.length;
    // The head, the ftyp, moov and mdat headers, then the moov payload.
    expect(reader.ranges).toStrictEqual([
      [0, 63],
      [0, 15],
      [ftyp.length, ftyp.length + 15],
      [mdatStart, mdatStart + 15],
      [ftyp.length + 8, mdatStart - 1],
    ]);
  });

  it('recognises WebM by its EBML magic and reads its video track from Tracks', async () => {
    await expect(inspect(webmHeader())).resolves.toStrictEqual({
      container: 'matroska',
      codec: 'V_VP9',
      width: 320,
      height: 240,
      durationSeconds: 5,
    });
  });

  it.each([
    [
      'an MP4 whose only track is audio',
      concatBytes(ftypBox(), moovBox(trakBox({ handler: 'soun', codec: 'mp4a' })), mdatBox()),
      'NO_VIDEO_TRACK',
    ],
    [
      'an MP4 whose moov has no track',
      concatBytes(ftypBox(), isoBox('moov', isoBox('mvhd', new Uint8Array(100))), mdatBox()),
      'NO_VIDEO_TRACK',
    ],
    [
      'a video track without a sample description',
      concatBytes(ftypBox(), moovBox(trakBox({ withoutSampleDescription: true })), mdatBox()),
      'VIDEO_TRACK_INVALID',
    ],
    [
      'a video track of 0x240 pixels',
      concatBytes(ftypBox(), moovBox(trakBox({ width: 0 })), mdatBox()),
      'VIDEO_TRACK_INVALID',
    ],
    [
      'a video track with no duration',
      concatBytes(ftypBox(), moovBox(trakBox({ durationUnits: 0 })), mdatBox()),
      'VIDEO_TRACK_INVALID',
    ],
    [
      'a video track of an unknown codec',
      concatBytes(ftypBox(), moovBox(trakBox({ codec: 'zzzz' })), mdatBox()),
      'VIDEO_CODEC_UNSUPPORTED',
    ],
    [
      'an ftyp followed by text',
      concatBytes(ftypBox(), new TextEncoder().encode('just some text, no boxes at all')),
      'NOT_A_VIDEO',
    ],
    ['an ftyp alone', ftypBox(), 'NOT_A_VIDEO'],
    [
      'a moov whose children run past it',
      concatBytes(
        ftypBox(),
        isoBox('moov', concatBytes(new Uint8Array([0, 0, 1, 0]), new TextEncoder().encode('trak'))),
      ),
      'NOT_A_VIDEO',
    ],
    ['a WebM without Tracks', webmHeader({ withoutTracks: true }), 'NO_VIDEO_TRACK'],
    ['a WebM whose only track is audio', webmHeader({ trackType: 2, codec: 'A_OPUS' }), 'NO_VIDEO_TRACK'],
    ['a WebM video track of an unknown codec', webmHeader({ codec: 'V_NOPE' }), 'VIDEO_CODEC_UNSUPPORTED'],
    [
      'the EBML magic followed by garbage',
      concatBytes(new Uint8Array([0x1a, 0x45, 0xdf, 0xa3]), new Uint8Array(60).fill(0)),
      'NOT_A_VIDEO',
    ],
  ])('rejects %s with %s before any paid call', async (_name, bytes, code) => {
    expect((await rejection(bytes)).code).toBe(code);
  });

  it('refuses a moov box over the read bound without reading it', async () => {
    const moovHeader = new Uint8Array(8);
    new DataView(moovHeader.buffer).setUint32(0, MAX_MOVIE_BOX_BYTES + 9);
    moovHeader.set(new TextEncoder().encode('moov'), 4);
    const size = ftypBox().length + MAX_MOVIE_BOX_BYTES + 9;
    const head = concatBytes(ftypBox(), moovHeader);
    const ranges: (readonly [number, number])[] = [];
    const read: RangeReader = async (start, end) => {
      ranges.push([start, end]);
      const bytes = new Uint8Array(Math.min(size, end + 1) - start);
      bytes.set(head.subarray(start, Math.min(head.length, end + 1)));
      return bytes;
    };
    const error = await rejectionOf(inspectVideo(size, read));

    expect(error).toMatchObject({ code: 'NOT_A_VIDEO' });
    expect(ranges.every(([start, end]) => end - start < 64)).toBe(true);
  });

  describe('files made by ffmpeg', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'vidflow-inspect-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const encode = async (name: string, args: readonly string[]): Promise<Uint8Array> => {
      const path = join(dir, name);
      await runFfmpeg(['-y', '-f', 'lavfi', '-i', 'testsrc2=size=176x144:rate=10:duration=2', ...args, path]);
      return new Uint8Array(await readFile(path));
    };

    it.each([
      ['clip.mp4', ['-c:v', 'libx264', '-pix_fmt', 'yuv420p'], 'iso-bmff', 'avc1'],
      [
        'faststart.mp4',
        ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', '+faststart'],
        'iso-bmff',
        'avc1',
      ],
      ['clip.mov', ['-c:v', 'mpeg4'], 'iso-bmff', 'mp4v'],
      ['clip.webm', ['-c:v', 'libvpx-vp9', '-b:v', '100k', '-deadline', 'realtime'], 'matroska', 'V_VP9'],
      ['clip.mkv', ['-c:v', 'libx264', '-pix_fmt', 'yuv420p'], 'matroska', 'V_MPEG4/ISO/AVC'],
    ] as const)(
      'reads %s: codec, pixel size and duration',
      async (name, args, container, codec) => {
        const info = await inspect(await encode(name, args));
        expect(info).toMatchObject({ container, codec, width: 176, height: 144 });
        expect(info.durationSeconds).toBeCloseTo(2, 1);
      },
      60_000,
    );

    it('rejects an MP4 whose tail (moov) was cut off', async () => {
      const whole = await encode('cut.mp4', ['-c:v', 'libx264', '-pix_fmt', 'yuv420p']);
      expect((await rejection(whole.slice(0, Math.floor(whole.length * 0.9)))).code).toBe('NOT_A_VIDEO');
    }, 60_000);
  });

  it('rejects an empty file with EMPTY_FILE without reading it', async () => {
    const reader = readerOf(new Uint8Array());
    const error = await rejectionOf(inspectVideo(0, reader.read));

    expect(error).toBeInstanceOf(InputRejectedError);
    expect(error).toMatchObject({ code: 'EMPTY_FILE', message: 'the file is empty' });
    expect(reader.ranges).toStrictEqual([]);
  });

  it('rejects a text file named .mp4 with NOT_A_VIDEO', async () => {
    const error = await rejection(new TextEncoder().encode('hello, this is not a video at all\n'));
    expect(error.code).toBe('NOT_A_VIDEO');
    expect(error.message).toBe('the file is not an MP4, MOV, WebM or MKV video');
  });

  it('rejects a file shorter than a box header with NOT_A_VIDEO', async () => {
    expect(await rejection(new Uint8Array([0, 0, 0]))).toMatchObject({ code: 'NOT_A_VIDEO' });
  });

  it('rejects a truncated MP4 whose last box runs past the end of the file with NOT_A_VIDEO', async () => {
    const whole = minimalMp4(500);
    const error = await rejection(whole.slice(0, whole.length - 100));

    expect(error.code).toBe('NOT_A_VIDEO');
    expect(error.message).toBe(
      'the video is truncated or damaged: the mdat box runs past the end of the file',
    );
  });

  it('rejects an MP4 without a moov box with NOT_A_VIDEO', async () => {
    const error = await rejection(concatBytes(ftypBox(), mdatBox(100)));

    expect(error.code).toBe('NOT_A_VIDEO');
    expect(error.message).toBe('the video is truncated or damaged: the file has no moov box');
  });

  it('rejects an MP4 with trailing bytes too few for a box header with NOT_A_VIDEO', async () => {
    const error = await rejection(concatBytes(minimalMp4(), new Uint8Array([0, 0, 0, 9])));

    expect(error.code).toBe('NOT_A_VIDEO');
    expect(error.message).toContain('is cut short');
  });

  it('rejects an MP4 followed by bytes that do not start a box with NOT_A_VIDEO', async () => {
    const garbage = new Uint8Array(16).fill(0x01);
    const error = await rejection(concatBytes(minimalMp4(), garbage));

    expect(error.code).toBe('NOT_A_VIDEO');
    expect(error.message).toContain('does not start a box');
  });

  it('rejects a box with an impossible size with NOT_A_VIDEO', async () => {
    const bad = isoBox('free', new Uint8Array(8));
    new DataView(bad.buffer).setUint32(0, 4);
    const error = await rejection(concatBytes(ftypBox(), bad));

    expect(error.code).toBe('NOT_A_VIDEO');
    expect(error.message).toContain('impossible size');
  });
});
