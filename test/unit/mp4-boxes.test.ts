import { describe, expect, it } from 'vitest';
import { IsoStreamObserver, MAX_MOVIE_BOX_BYTES, parseMovieBox } from '../../functions/domain/mp4-boxes.js';
import { concatBytes, ftypBox, mdatBox, moovBox, trakBox } from '../support/media.js';

function observe(bytes: Uint8Array, chunkBytes: number) {
  const observer = new IsoStreamObserver();
  for (let at = 0; at < bytes.length; at += chunkBytes) observer.push(bytes.subarray(at, at + chunkBytes));
  return observer.result();
}

const TRACK = { codec: 'avc1', width: 640, height: 480, durationSeconds: 5.5 };
const FASTSTART = concatBytes(
  ftypBox(),
  moovBox(trakBox({ width: 640, height: 480, durationUnits: 5500 })),
  mdatBox(3000),
);
const MOOV_LAST = concatBytes(
  ftypBox(),
  mdatBox(3000),
  moovBox(trakBox({ width: 640, height: 480, durationUnits: 5500 })),
);

describe('IsoStreamObserver', () => {
  it.each([1, 7, 64, 100_000])('measures a faststart MP4 streamed in chunks of %i bytes', (chunkBytes) => {
    expect(observe(FASTSTART, chunkBytes)).toStrictEqual(TRACK);
  });

  it.each([1, 13, 100_000])('measures an MP4 whose moov comes last, in chunks of %i bytes', (chunkBytes) => {
    expect(observe(MOOV_LAST, chunkBytes)).toStrictEqual(TRACK);
  });

  it('follows a 64-bit mdat size', () => {
    const large = new Uint8Array(16 + 100);
    const view = new DataView(large.buffer);
    view.setUint32(0, 1);
    large.set(new TextEncoder().encode('mdat'), 4);
    view.setBigUint64(8, BigInt(large.length));
    expect(observe(concatBytes(ftypBox(), large, moovBox()), 5)).toMatchObject({ width: 320, height: 240 });
  });

  it('yields nothing for bytes that are not boxes, a movie without video, or a moov over the bound', () => {
    expect(observe(new TextEncoder().encode('<html>not a video</html>'), 4)).toBeUndefined();
    expect(observe(concatBytes(ftypBox(), moovBox(trakBox({ handler: 'soun' }))), 4)).toBeUndefined();
    const huge = new Uint8Array(8);
    new DataView(huge.buffer).setUint32(0, MAX_MOVIE_BOX_BYTES + 9);
    huge.set(new TextEncoder().encode('moov'), 4);
    expect(observe(concatBytes(ftypBox(), huge, new Uint8Array(1000)), 100)).toBeUndefined();
  });
});

describe('parseMovieBox', () => {
  it('takes the duration from a version 1 media header', () => {
    const payload = moovBox(trakBox({ durationUnits: 7250, mediaHeaderVersion: 1 })).subarray(8);
    expect(parseMovieBox(payload)).toStrictEqual({
      codec: 'avc1',
      width: 320,
      height: 240,
      durationSeconds: 7.25,
    });
  });
});
