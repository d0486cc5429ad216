import { describe, expect, it } from 'vitest';
import { InputRejectedError } from '../../functions/domain/errors.js';
import { inspectVideo, type RangeReader } from '../../functions/domain/video-inspection.js';
import { rejectionOf } from '../support/assertions.js';
import { concatBytes, ftypBox, isoBox, mdatBox, minimalMp4, moovBox, webmHeader } from '../support/media.js';

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
  it('accepts a whole MP4 (ftyp, moov, mdat) as ISO BMFF', async () => {
    await expect(inspect(minimalMp4())).resolves.toBe('iso-bmff');
  });

  it('accepts an MP4 whose moov comes after its mdat', async () => {
    await expect(inspect(concatBytes(ftypBox(), mdatBox(500), moovBox()))).resolves.toBe('iso-bmff');
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

    await expect(inspect(concatBytes(ftypBox(), moovBox(), largeMdat, toEnd))).resolves.toBe('iso-bmff');
  });

  it('walks box headers with small ranged reads, never the whole file', async () => {
    const bytes = minimalMp4(1_000_000);
    const reader = readerOf(bytes);

    await expect(inspectVideo(bytes.length, reader.read)).resolves.toBe('iso-bmff');
    expect(reader.ranges.every(([start, end]) => end - start + 1 <= 64)).toBe(true);
    expect(reader.ranges.length).toBe(4); // the head, then ftyp, moov and mdat headers
  });

  it('recognises WebM by its EBML magic as Matroska', async () => {
    await expect(inspect(concatBytes(webmHeader(), new Uint8Array(200)))).resolves.toBe('matroska');
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
