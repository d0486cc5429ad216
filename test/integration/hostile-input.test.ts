/**
 * The hostile-input table of the README ("How it fails" > "Hostile input"), proven end to end:
 * every case is dropped at once into one runtime beside one good video, and each ends with its
 * exact status and `error.code`. Bad input is refused before any POST; a paid generation whose
 * output URL is unsafe, not a video or too large is refused by the output guard (the emulator is
 * told per prompt which output to hand out, through `result:` faults). A second test parses the
 * README table and checks that its rows are exactly these cases, so the table cannot drift.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { concatBytes, ftypBox, mdatBox, moovBox, trakBox, webmHeader } from '../support/media.js';
import {
  emulatorRequests,
  generationPosts,
  hasStatus,
  isSettled,
  paddedTestClip,
  putObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitForJob,
} from '../support/runtime-harness.js';

const TEST_TIMEOUT_MS = 120_000;
const README = join(import.meta.dirname, '../../README.md');
const MIB = 1024 * 1024;
/** The default `VIDFLOW_MAX_INPUT_BYTES`. */
const MAX_INPUT_BYTES = 16 * MIB;
/** The default `VIDFLOW_MAX_OUTPUT_BYTES`. */
const MAX_OUTPUT_BYTES = 1024 * MIB;
const PROMPT = 'make it pop';
/** Every paid case renders at the smallest frame size, to keep the emulator's renders short. */
const SMALL = { 'frame-size': '640:480' } as const;

type Expected = {
  /** A job status, or `no job` when the upload itself is refused. */
  readonly status: JobStatus | 'no job';
  /** `error.code` of the job (or the S3 error of a refused upload); undefined when none. */
  readonly code?: string;
  /** Create (paid) calls the case causes: 0 for every input case. */
  readonly posts: 0 | 1;
};

interface Drop {
  readonly rt: TestRuntime;
  readonly clip: Uint8Array;
  putVideo(key: string, metadata?: Readonly<Record<string, string>>, body?: Uint8Array): Promise<string>;
  putText(key: string, text: string): Promise<string>;
}

interface HostileCase extends Expected {
  /** The row's first cell in the README, verbatim (markdown). */
  readonly name: string;
  /** Uploads that must exist before the drop (sidecars, presets, a manifest's video). */
  readonly prepare?: (drop: Drop) => Promise<string>;
  /** The job is the one `prepare` started (its upload is itself the case). */
  readonly preparedJob?: true;
  /** The drop itself; resolves to the job id (undefined when no job can exist). */
  readonly drop: (drop: Drop) => Promise<string | undefined>;
  /** What else the case proves about its job, beyond status and code. */
  readonly check?: (job: Job) => void;
}

/** A key of exactly `bytes` UTF-8 bytes under `folder`, in segments the local S3 can store. */
function keyOfBytes(folder: string, bytes: number): string {
  const suffix = '.mp4';
  let key = folder;
  for (;;) {
    const room = bytes - suffix.length - Buffer.byteLength(key);
    if (room <= 201) return `${key}${'k'.repeat(room)}${suffix}`;
    key += `${'k'.repeat(200)}/`;
  }
}

/**
 * An output-URL case: the emulator hands this generation's output out as the `result:` fault
 * says (matched by a `[tag]` in the prompt), and the guard refuses it with `message`.
 */
function outputCase(
  name: string,
  tag: string,
  fault: string,
  code: 'OUTPUT_URL_UNSAFE' | 'OUTPUT_NOT_VIDEO' | 'OUTPUT_TOO_LARGE',
  message: string,
): HostileCase & { readonly fault: string } {
  return {
    name,
    status: JobStatus.failed,
    code,
    posts: 1,
    fault: `result:${fault}:prompt=[${tag}]`,
    drop: (d) => d.putVideo(`hostile/output/${tag}.mp4`, { prompt: `${PROMPT} [${tag}]`, ...SMALL }),
    check: (job) => {
      expect(job.error).toEqual({ code, message, stage: 'copy', retryable: false });
      expect(job.creditsUsed).toBe(40);
      expect(job.output).toBeUndefined();
    },
  };
}

const unsafeHost = (address: string) =>
  `the output URL's host resolves to ${address}, a private, loopback or link-local address`;
const HTTP_REFUSED = 'the output URL uses http:; only https is accepted';

const KEY_1002 = keyOfBytes('hostile/long-1002/', 1002);
const KEY_1024 = keyOfBytes('hostile/long-1024/', 1024);
const KEY_1025 = keyOfBytes('hostile/long-1025/', 1025);
const NO_PROMPT_KEY = 'hostile/no-prompt/clip.mp4';

const OUTPUT_CASES = [
  outputCase(
    'output URL over plain `http://`',
    'out-http',
    'url=http%3A//cdn.example.com/out.mp4',
    'OUTPUT_URL_UNSAFE',
    HTTP_REFUSED,
  ),
  outputCase(
    'output URL on a private address (`https://10.0.0.7/`)',
    'out-private',
    'url=https%3A//10.0.0.7/out.mp4',
    'OUTPUT_URL_UNSAFE',
    unsafeHost('10.0.0.7'),
  ),
  outputCase(
    'output URL on loopback (`https://127.0.0.1/`)',
    'out-loopback',
    'url=https%3A//127.0.0.1/out.mp4',
    'OUTPUT_URL_UNSAFE',
    unsafeHost('127.0.0.1'),
  ),
  outputCase(
    'output URL on IPv6 loopback (`https://[::1]/`)',
    'out-loopback6',
    'url=https%3A//[%3A%3A1]/out.mp4',
    'OUTPUT_URL_UNSAFE',
    unsafeHost('::1'),
  ),
  outputCase(
    'output URL whose host name resolves to loopback (`https://localhost/`)',
    'out-localhost',
    'url=https%3A//localhost/out.mp4',
    'OUTPUT_URL_UNSAFE',
    expect.stringMatching(
      /^the output URL's host resolves to (127\.0\.0\.1|::1), a private, loopback or link-local address$/,
    ),
  ),
  outputCase(
    'output URL on link-local, the cloud metadata address (`https://169.254.169.254/`)',
    'out-linklocal',
    'url=https%3A//169.254.169.254/latest/meta-data/',
    'OUTPUT_URL_UNSAFE',
    unsafeHost('169.254.169.254'),
  ),
  outputCase(
    'output URL that redirects to link-local',
    'out-redirect-linklocal',
    'redirect=https%3A//169.254.169.254/latest/meta-data/',
    'OUTPUT_URL_UNSAFE',
    unsafeHost('169.254.169.254'),
  ),
  outputCase(
    'output URL that redirects to a private `http://` address',
    'out-redirect-private',
    'redirect=http%3A//10.0.0.7/out.mp4',
    'OUTPUT_URL_UNSAFE',
    HTTP_REFUSED,
  ),
  outputCase(
    'output that is not a video (an HTML page, `text/html`)',
    'out-html',
    'not-video',
    'OUTPUT_NOT_VIDEO',
    'the output has content type "text/html; charset=utf-8", not a video',
  ),
  outputCase(
    'output larger than the cap (1 GiB + 1 byte announced)',
    'out-oversize',
    `oversize=${MAX_OUTPUT_BYTES + 1}`,
    'OUTPUT_TOO_LARGE',
    `the output is ${MAX_OUTPUT_BYTES + 1} bytes; the limit is ${MAX_OUTPUT_BYTES}`,
  ),
];

const CASES: readonly HostileCase[] = [
  // ---- the bytes
  {
    name: 'zero bytes',
    status: JobStatus.rejected,
    code: 'EMPTY_FILE',
    posts: 0,
    drop: (d) => d.putVideo('hostile/empty.mp4', { prompt: PROMPT }, new Uint8Array()),
  },
  {
    name: 'text bytes named `.mp4`',
    status: JobStatus.rejected,
    code: 'NOT_A_VIDEO',
    posts: 0,
    drop: (d) =>
      d.putVideo(
        'hostile/notes.mp4',
        { prompt: PROMPT },
        new TextEncoder().encode('meeting notes, not a video\n'.repeat(40)),
      ),
  },
  {
    name: 'a truncated MP4 (the first half of a real clip)',
    status: JobStatus.rejected,
    code: 'NOT_A_VIDEO',
    posts: 0,
    drop: (d) =>
      d.putVideo('hostile/truncated.mp4', { prompt: PROMPT }, d.clip.subarray(0, d.clip.length >> 1)),
  },
  {
    name: 'an MP4 without its index (`ftyp` and `mdat`, no `moov`)',
    status: JobStatus.rejected,
    code: 'NOT_A_VIDEO',
    posts: 0,
    drop: (d) => d.putVideo('hostile/no-moov.mp4', { prompt: PROMPT }, concatBytes(ftypBox(), mdatBox(4096))),
  },
  {
    name: 'an `ftyp` box followed by text (starts like an MP4)',
    status: JobStatus.rejected,
    code: 'NOT_A_VIDEO',
    posts: 0,
    drop: (d) =>
      d.putVideo(
        'hostile/ftyp-then-text.mp4',
        { prompt: PROMPT },
        concatBytes(ftypBox(), new TextEncoder().encode('not boxes at all, only words\n'.repeat(20))),
      ),
  },
  {
    name: 'an MP4 whose only track is audio',
    status: JobStatus.rejected,
    code: 'NO_VIDEO_TRACK',
    posts: 0,
    drop: (d) =>
      d.putVideo(
        'hostile/audio-only.mp4',
        { prompt: PROMPT },
        concatBytes(ftypBox(), moovBox(trakBox({ handler: 'soun', codec: 'mp4a' })), mdatBox(4096)),
      ),
  },
  {
    name: 'an MP4 video track of an unknown codec (`zzzz`)',
    status: JobStatus.rejected,
    code: 'VIDEO_CODEC_UNSUPPORTED',
    posts: 0,
    drop: (d) =>
      d.putVideo(
        'hostile/unknown-codec.mp4',
        { prompt: PROMPT },
        concatBytes(ftypBox(), moovBox(trakBox({ codec: 'zzzz' })), mdatBox(4096)),
      ),
  },
  {
    name: 'an MP4 video track of 0x240 pixels',
    status: JobStatus.rejected,
    code: 'VIDEO_TRACK_INVALID',
    posts: 0,
    drop: (d) =>
      d.putVideo(
        'hostile/no-pixels.mp4',
        { prompt: PROMPT },
        concatBytes(ftypBox(), moovBox(trakBox({ width: 0 })), mdatBox(4096)),
      ),
  },
  {
    name: 'a WebM without a `Tracks` element',
    status: JobStatus.rejected,
    code: 'NO_VIDEO_TRACK',
    posts: 0,
    drop: (d) =>
      d.putVideo('hostile/no-tracks.webm', { prompt: PROMPT }, webmHeader({ withoutTracks: true })),
  },
  {
    name: 'a file over the size limit (16 MiB + 1 byte)',
    status: JobStatus.rejected,
    code: 'INPUT_TOO_LARGE',
    posts: 0,
    drop: async (d) =>
      d.putVideo(
        'hostile/too-large.mp4',
        { prompt: PROMPT },
        await readFile(await paddedTestClip(MAX_INPUT_BYTES + 1)),
      ),
  },
  // ---- the prompt
  {
    name: 'no prompt from any source',
    status: JobStatus.awaitingPrompt,
    posts: 0,
    // Uploaded first: the manifest cases below name this video.
    prepare: (d) => d.putVideo(NO_PROMPT_KEY),
    preparedJob: true,
    drop: async () => undefined,
  },
  {
    name: 'a manifest without a prompt, for a video without one',
    status: JobStatus.rejected,
    code: 'PROMPT_MISSING',
    posts: 0,
    drop: (d) => d.putText('jobs/hostile/no-prompt.json', JSON.stringify({ video: NO_PROMPT_KEY })),
  },
  {
    name: 'a blank prompt (spaces and a tab, from a sidecar)',
    status: JobStatus.rejected,
    code: 'PROMPT_MISSING',
    posts: 0,
    prepare: (d) => d.putText('hostile/blank.mp4.json', JSON.stringify({ prompt: ' \t ' })),
    drop: (d) => d.putVideo('hostile/blank.mp4'),
  },
  {
    name: 'a prompt of 1001 characters',
    status: JobStatus.rejected,
    code: 'PROMPT_TOO_LONG',
    posts: 0,
    drop: (d) => d.putVideo('hostile/long-prompt.mp4', { prompt: 'a'.repeat(1001) }),
  },
  {
    name: 'a prompt with a control character (`%07`, percent-encoded in metadata)',
    status: JobStatus.rejected,
    code: 'PROMPT_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/bell.mp4', { prompt: 'make it %07 pop' }),
  },
  {
    name: 'a metadata prompt with broken percent-encoding (`%E2%82`)',
    status: JobStatus.rejected,
    code: 'METADATA_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/broken-encoding.mp4', { prompt: 'make it %E2%82 pop' }),
  },
  // ---- the parameters
  {
    name: '`frame-size` 1920:1080',
    status: JobStatus.rejected,
    code: 'FRAME_SIZE_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/full-hd.mp4', { prompt: PROMPT, 'frame-size': '1920:1080' }),
  },
  {
    name: '`duration` 10',
    status: JobStatus.rejected,
    code: 'DURATION_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/duration-10.mp4', { prompt: PROMPT, duration: '10' }),
  },
  {
    name: '`seed` -1',
    status: JobStatus.rejected,
    code: 'SEED_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/seed-negative.mp4', { prompt: PROMPT, seed: '-1' }),
  },
  {
    name: '`seed` 4294967296',
    status: JobStatus.rejected,
    code: 'SEED_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/seed-2-32.mp4', { prompt: PROMPT, seed: '4294967296' }),
  },
  {
    name: '`seed` 1.5',
    status: JobStatus.rejected,
    code: 'SEED_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/seed-fraction.mp4', { prompt: PROMPT, seed: '1.5' }),
  },
  {
    name: '`seed` "abc" in metadata',
    status: JobStatus.rejected,
    code: 'SEED_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/seed-abc.mp4', { prompt: PROMPT, seed: 'abc' }),
  },
  {
    name: '`seed` "abc" in a sidecar (a string where a number belongs)',
    status: JobStatus.rejected,
    code: 'SIDECAR_INVALID',
    posts: 0,
    prepare: (d) =>
      d.putText('hostile/seed-abc-sidecar.mp4.json', JSON.stringify({ prompt: PROMPT, seed: 'abc' })),
    drop: (d) => d.putVideo('hostile/seed-abc-sidecar.mp4'),
  },
  {
    name: 'a `references` URL over `http://`',
    status: JobStatus.rejected,
    code: 'REFERENCES_INVALID',
    posts: 0,
    drop: (d) =>
      d.putVideo('hostile/reference-http.mp4', {
        prompt: PROMPT,
        references: 'http://example.com/style.png',
      }),
  },
  {
    name: 'a malformed `references` URL',
    status: JobStatus.rejected,
    code: 'REFERENCES_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/reference-malformed.mp4', { prompt: PROMPT, references: 'not a url' }),
  },
  // ---- sidecars and presets
  {
    name: 'a sidecar that is not JSON',
    status: JobStatus.rejected,
    code: 'SIDECAR_INVALID',
    posts: 0,
    prepare: (d) => d.putText('hostile/sidecar-text.mp4.json', '{ prompt: make it pop'),
    drop: (d) => d.putVideo('hostile/sidecar-text.mp4', { prompt: PROMPT }),
  },
  {
    name: 'a sidecar over 64 KiB',
    status: JobStatus.rejected,
    code: 'SIDECAR_INVALID',
    posts: 0,
    prepare: (d) =>
      d.putText('hostile/sidecar-large.mp4.json', JSON.stringify({ prompt: 'a'.repeat(70_000) })),
    drop: (d) => d.putVideo('hostile/sidecar-large.mp4'),
  },
  {
    name: 'a sidecar with a wrongly typed field (`"duration": "5"`)',
    status: JobStatus.rejected,
    code: 'SIDECAR_INVALID',
    posts: 0,
    prepare: (d) =>
      d.putText('hostile/sidecar-type.mp4.json', JSON.stringify({ prompt: PROMPT, duration: '5' })),
    drop: (d) => d.putVideo('hostile/sidecar-type.mp4'),
  },
  {
    name: 'a sidecar with an unknown field',
    status: JobStatus.rejected,
    code: 'SIDECAR_INVALID',
    posts: 0,
    prepare: (d) =>
      d.putText(
        'hostile/sidecar-unknown.mp4.json',
        JSON.stringify({ prompt: PROMPT, negative_prompt: 'rain' }),
      ),
    drop: (d) => d.putVideo('hostile/sidecar-unknown.mp4'),
  },
  {
    name: 'a folder preset `_defaults.json` that is not JSON',
    status: JobStatus.rejected,
    code: 'PRESET_INVALID',
    posts: 0,
    prepare: (d) => d.putText('hostile/bad-preset/_defaults.json', 'prompt=make it pop'),
    drop: (d) => d.putVideo('hostile/bad-preset/clip.mp4', { prompt: PROMPT }),
  },
  // ---- manifests
  {
    name: 'a manifest naming a key that does not exist',
    status: JobStatus.rejected,
    code: 'SOURCE_MISSING',
    posts: 0,
    drop: (d) =>
      d.putText(
        'jobs/hostile/missing.json',
        JSON.stringify({ video: 'hostile/missing.mp4', prompt: PROMPT }),
      ),
  },
  {
    name: 'a manifest naming another bucket (`s3://vidflow-output/...`)',
    status: JobStatus.rejected,
    code: 'MANIFEST_INVALID',
    posts: 0,
    drop: (d) =>
      d.putText(
        'jobs/hostile/other-bucket-url.json',
        JSON.stringify({ video: 's3://vidflow-output/hostile/clip.mp4', prompt: PROMPT }),
      ),
  },
  {
    name: 'a manifest with a `bucket` field naming another bucket',
    status: JobStatus.rejected,
    code: 'MANIFEST_INVALID',
    posts: 0,
    drop: (d) =>
      d.putText(
        'jobs/hostile/other-bucket-field.json',
        JSON.stringify({ video: NO_PROMPT_KEY, bucket: 'vidflow-output', prompt: PROMPT }),
      ),
  },
  {
    name: 'a manifest with a `../` path',
    status: JobStatus.rejected,
    code: 'MANIFEST_INVALID',
    posts: 0,
    drop: (d) =>
      d.putText(
        'jobs/hostile/dot-dot.json',
        JSON.stringify({ video: 'hostile/../hostile/no-prompt/clip.mp4', prompt: PROMPT }),
      ),
  },
  {
    name: 'a manifest that is not JSON',
    status: JobStatus.rejected,
    code: 'MANIFEST_INVALID',
    posts: 0,
    drop: (d) => d.putText('jobs/hostile/not-json.json', `video=${NO_PROMPT_KEY}`),
  },
  // ---- metadata and keys
  {
    name: 'non-ASCII metadata sent raw (`prompt: café au lait`, not percent-encoded)',
    status: JobStatus.completed,
    posts: 1,
    drop: (d) => d.putVideo('hostile/raw-metadata.mp4', { prompt: 'café au lait', ...SMALL }),
    check: (job) => expect(job.request?.prompt).toBe('café au lait'),
  },
  {
    name: 'a 1002-byte key (the longest whose output keys fit in 1024 bytes)',
    status: JobStatus.completed,
    posts: 1,
    drop: (d) => d.putVideo(KEY_1002, { prompt: PROMPT, ...SMALL }),
    check: (job) => {
      expect(Buffer.byteLength(job.source.key)).toBe(1002);
      expect(Buffer.byteLength(job.output?.key ?? '')).toBe(1023);
    },
  },
  {
    name: 'a key `hostile/..mp4`, whose output key would hold a `.` segment',
    status: JobStatus.rejected,
    code: 'KEY_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/..mp4', { prompt: PROMPT, ...SMALL }),
  },
  {
    name: 'a prompt of zero-width spaces only (nothing visible, percent-encoded in metadata)',
    status: JobStatus.rejected,
    code: 'PROMPT_MISSING',
    posts: 0,
    drop: (d) => d.putVideo('hostile/invisible.mp4', { prompt: '%E2%80%8B%E2%80%8B%E2%81%A0' }),
  },
  {
    name: '`seed` 42.0 in metadata (not exactly an integer)',
    status: JobStatus.rejected,
    code: 'SEED_INVALID',
    posts: 0,
    drop: (d) => d.putVideo('hostile/seed-decimal.mp4', { prompt: PROMPT, seed: '42.0' }),
  },
  {
    name: '`seed` 4.2e1 in a sidecar (JSON would round it)',
    status: JobStatus.rejected,
    code: 'SEED_INVALID',
    posts: 0,
    prepare: (d) => d.putText('hostile/seed-exp.mp4.json', '{"prompt": "make it pop", "seed": 4.2e1}'),
    drop: (d) => d.putVideo('hostile/seed-exp.mp4'),
  },
  {
    name: 'a zero-byte sidecar',
    status: JobStatus.rejected,
    code: 'SIDECAR_INVALID',
    posts: 0,
    prepare: (d) => d.putText('hostile/empty-sidecar.mp4.json', ''),
    drop: (d) => d.putVideo('hostile/empty-sidecar.mp4'),
  },
  {
    name: 'a zero-byte manifest',
    status: JobStatus.rejected,
    code: 'MANIFEST_INVALID',
    posts: 0,
    drop: (d) => d.putText('jobs/hostile/empty.json', ''),
  },
  {
    name: 'a `clip.Mp4` video whose prompt is in a `clip.Mp4.JSON` sidecar',
    status: JobStatus.completed,
    posts: 1,
    prepare: (d) =>
      d.putText('hostile/mixed.Mp4.JSON', JSON.stringify({ prompt: PROMPT, frame_size: '640:480' })),
    drop: (d) => d.putVideo('hostile/mixed.Mp4'),
    check: (job) => expect(job.request?.prompt).toBe(PROMPT),
  },
  {
    name: 'a 1024-byte key',
    status: JobStatus.rejected,
    code: 'KEY_INVALID',
    posts: 0,
    drop: (d) => d.putVideo(KEY_1024, { prompt: PROMPT, ...SMALL }),
    check: (job) => expect(Buffer.byteLength(job.source.key)).toBe(1024),
  },
  {
    name: 'a 1025-byte key (S3 refuses the upload)',
    status: 'no job',
    code: 'KeyTooLongError',
    posts: 0,
    drop: async (d) => {
      await expect(d.putVideo(KEY_1025, { prompt: PROMPT })).rejects.toMatchObject({
        name: 'KeyTooLongError',
      });
      expect(await d.rt.clients.jobs.listBySource(d.rt.endpoints.inputBucket, KEY_1025)).toEqual([]);
      return undefined;
    },
  },
  // ---- the provider's output (paid generations whose copy is refused)
  ...OUTPUT_CASES,
];

const GOOD_KEY = 'hostile/good.mp4';

/** The README rows these cases must be: case, status, code, POSTs, as markdown cells. */
function tableRowOf(c: HostileCase): string[] {
  return [
    c.name,
    c.status === 'no job' ? 'no job' : `\`${c.status}\``,
    c.code === undefined ? '—' : `\`${c.code}\``,
    String(c.posts),
  ];
}

/** The rows of the first table under `### Hostile input` in the README, as cells. */
function readmeHostileRows(readme: string): string[][] {
  const section = readme.split('\n### Hostile input\n')[1];
  if (section === undefined) throw new Error('README has no "### Hostile input" section');
  const lines = section.split('\n');
  const start = lines.findIndex((line) => line.startsWith('|'));
  const table: string[] = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith('|')) break;
    table.push(line);
  }
  return table
    .slice(2) // header and separator
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}

describe('hostile input', { timeout: TEST_TIMEOUT_MS }, () => {
  let rt: TestRuntime;
  let clip: Uint8Array;
  const jobIds = new Map<string, string | undefined>();
  let goodJobId: string;

  beforeAll(async () => {
    // Each output case's generation hands out the output its `result:` fault names (matched by prompt).
    vi.stubEnv('VIDFLOW_EMULATOR_FAULTS', OUTPUT_CASES.map((c) => c.fault).join(','));
    rt = await startTestRuntime({ functionEnvironment: { VIDFLOW_MAX_IN_FLIGHT: '0' } });
    clip = await readFile(await testClip());
    const drop: Drop = {
      rt,
      clip,
      putVideo: (key, metadata, body) =>
        putObject(rt.clients.s3, {
          bucket: rt.endpoints.inputBucket,
          key,
          body: body ?? clip,
          ...(metadata === undefined ? {} : { metadata }),
        }),
      putText: (key, text) =>
        putObject(rt.clients.s3, {
          bucket: rt.endpoints.inputBucket,
          key,
          body: text,
          contentType: 'application/json',
        }),
    };
    const prepared = await Promise.all(CASES.map((c) => c.prepare?.(drop)));
    const [good, ...dropped] = await Promise.all([
      drop.putVideo(GOOD_KEY, { prompt: PROMPT, ...SMALL }),
      ...CASES.map((c) => c.drop(drop)),
    ]);
    goodJobId = good;
    CASES.forEach((c, index) => {
      jobIds.set(c.name, c.preparedJob ? prepared[index] : dropped[index]);
    });
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    vi.unstubAllEnvs();
    await rt?.stop();
  });

  it('ends every case with its status and error code, pays only for the good job and the accepted or output cases, and stays up', async () => {
    const settled = new Map<string, Job>();
    await Promise.all(
      CASES.map(async (c) => {
        const jobId = jobIds.get(c.name);
        if (c.status === 'no job') {
          expect(jobId).toBeUndefined();
          return;
        }
        if (jobId === undefined) throw new Error(`case "${c.name}" made no job`);
        const until = c.status === JobStatus.awaitingPrompt ? hasStatus(JobStatus.awaitingPrompt) : isSettled;
        settled.set(c.name, await waitForJob(rt.clients.jobs, jobId, until));
      }),
    );
    const good = await waitForJob(rt.clients.jobs, goodJobId);

    const outcomes = CASES.map((c) => {
      const job = settled.get(c.name);
      return {
        name: c.name,
        status: job?.status ?? 'no job',
        code: job?.error?.code ?? (job ? undefined : c.code),
      };
    });
    expect(outcomes).toEqual(CASES.map((c) => ({ name: c.name, status: c.status, code: c.code })));
    for (const c of CASES) {
      const job = settled.get(c.name);
      if (job !== undefined) c.check?.(job);
    }
    expect(good.status).toBe(JobStatus.completed);

    // Paid calls: exactly one per case that says so, plus the good job; none for bad input.
    const posts = generationPosts(await emulatorRequests(rt.endpoints.provider));
    const paid = CASES.filter((c) => c.posts === 1).map((c) => settled.get(c.name)?.generationId);
    expect(posts.map((post) => post.generationId).sort()).toEqual([good.generationId, ...paid].sort());
    expect(posts.map((post) => post.status)).toEqual(posts.map(() => 200));
    for (const c of CASES.filter((candidate) => candidate.posts === 0)) {
      expect(settled.get(c.name)?.generationId).toBeUndefined();
    }

    // Still up: the provider, S3 and DynamoDB answer.
    expect(await (await fetch(`${rt.endpoints.provider}/_emulator/health`)).json()).toEqual({ ok: true });
    await rt.clients.s3.send(new HeadBucketCommand({ Bucket: rt.endpoints.outputBucket }));
    expect((await rt.clients.jobs.get(goodJobId))?.status).toBe(JobStatus.completed);
  });
});

describe('the README hostile-input table', () => {
  it('has at least 30 rows, exactly the cases proven here (case, status, code, POSTs)', async () => {
    const rows = readmeHostileRows(await readFile(README, 'utf8'));

    expect(rows).toEqual(CASES.map(tableRowOf));
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });
});
