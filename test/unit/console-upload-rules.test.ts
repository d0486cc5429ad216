import { describe, expect, it } from 'vitest';
import { checkUpload } from '../../console/server/upload-rules.js';

const MAX_BYTES = 16 * 1024 * 1024;
const ok = { key: 'trips/clip.mp4', prompt: 'make it snow', sizeBytes: 1000 };

describe('the console checks an upload with the pipeline’s rules before sending it', () => {
  it('accepts what the pipeline would take', () => {
    expect(checkUpload({ ...ok, frameSize: '960:960', seed: '42' }, MAX_BYTES)).toBeUndefined();
  });

  it.each([
    [
      { key: '/trips/clip.mp4' },
      'key',
      'KEY_INVALID',
      'the key starts with "/": S3 would store it under an empty folder name',
    ],
    [
      { key: 'trips/clip.txt' },
      'key',
      'KEY_INVALID',
      '"trips/clip.txt" would not start a job: a video key ends in .mp4, .mov, .m4v, .webm or .mkv (and is not under jobs/)',
    ],
    [
      { key: 'jobs/clip.mp4.json' },
      'key',
      'KEY_INVALID',
      '"jobs/clip.mp4.json" would not start a job: a video key ends in .mp4, .mov, .m4v, .webm or .mkv (and is not under jobs/)',
    ],
    [{ sizeBytes: 0 }, 'file', 'EMPTY_FILE', 'the file is empty'],
    [
      { sizeBytes: MAX_BYTES + 1 },
      'file',
      'INPUT_TOO_LARGE',
      `the video is ${MAX_BYTES + 1} bytes; the limit is ${MAX_BYTES}`,
    ],
    [{ prompt: '   ' }, 'prompt', 'PROMPT_MISSING', 'the prompt is blank: nothing in it is visible'],
    [
      { prompt: 'é'.repeat(1001) },
      'prompt',
      'PROMPT_TOO_LONG',
      'the prompt has 1001 characters (UTF-16 code units, as the provider counts); it accepts at most 1000',
    ],
    [
      { frameSize: '1920:1080' },
      'frameSize',
      'FRAME_SIZE_INVALID',
      'frame size "1920:1080" is not one of 1280:720, 720:1280, 1104:832, 832:1104, 960:960, 1584:672, 848:480, 640:480',
    ],
    [
      { seed: '4294967296' },
      'seed',
      'SEED_INVALID',
      'seed 4294967296 is not an integer from 0 to 4294967295',
    ],
    [
      { seed: 'abc' },
      'seed',
      'SEED_INVALID',
      'metadata seed "abc" is not an integer in plain decimal digits',
    ],
  ])('refuses %o with its field, code and message', (change, field, code, message) => {
    expect(checkUpload({ ...ok, ...change }, MAX_BYTES)).toEqual({ field, code, message });
  });
});
