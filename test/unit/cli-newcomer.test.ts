/**
 * The CLI's small pieces a newcomer meets: tables by display width fitted to the terminal,
 * submit's key rules (and their agreement with the stack's S3 filters), a closed pipe, a busy
 * port, the `--timeout` exit code, and the lock file's completeness for every platform.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { explainBusyPort, localAwsEnvironment, shellExports } from '../../cli/commands/dev.js';
import { submitFile } from '../../cli/commands/jobs.js';
import { watchSummary } from '../../cli/commands/watch.js';
import { type CliContext, ExitCode } from '../../cli/context.js';
import { columnWidths, printTable, type TextSink } from '../../cli/format.js';
import { exitQuietlyOnClosedPipe } from '../../cli/pipes.js';
import { triggersVideoJob, videoDropKeyProblem } from '../../functions/domain/drops.js';
import type { Job } from '../../functions/domain/job.js';
import type { Endpoints } from '../../local/runtime.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');

function sink(columns?: number): TextSink & { text(): string } {
  let text = '';
  return {
    write: (chunk: string) => {
      text += chunk;
    },
    isTTY: columns !== undefined,
    ...(columns === undefined ? {} : { columns }),
    text: () => text,
  };
}

describe('printTable', () => {
  const rows = [
    ['a1', '旅行/東京.mp4', 'COMPLETED'],
    ['b2', '🎬 clip.mp4', 'FAILED'],
    ['c3', 'plain.mp4', 'COMPLETED'],
  ];

  it('aligns columns by display width: CJK and emoji take two cells', () => {
    const out = sink();
    printTable(out, rows, ['JOB', 'SOURCE', 'STATUS']);
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toEqual([
      'JOB  SOURCE         STATUS',
      'a1   旅行/東京.mp4  COMPLETED',
      'b2   🎬 clip.mp4    FAILED',
      'c3   plain.mp4      COMPLETED',
    ]);
    // Every STATUS cell starts in the same terminal column.
    const statusColumn = (line: string) =>
      stringWidth(line.slice(0, line.search(/(STATUS|COMPLETED|FAILED)$/)));
    expect(new Set(lines.map(statusColumn))).toEqual(new Set([statusColumn(lines[0] ?? '')]));
  });

  it('fits a terminal by shortening the widest column with an ellipsis, and cuts nothing in a pipe', () => {
    const long = [['a1', `trips/${'長い名前'.repeat(10)}.mp4`, 'COMPLETED']];
    const narrow = sink(40);
    printTable(narrow, long, ['JOB', 'SOURCE', 'STATUS']);
    for (const line of narrow.text().trimEnd().split('\n')) expect(stringWidth(line)).toBeLessThanOrEqual(39);
    expect(narrow.text()).toContain('…');
    expect(narrow.text()).toMatch(/COMPLETED\n$/);

    const pipe = sink();
    printTable(pipe, long, ['JOB', 'SOURCE', 'STATUS']);
    expect(pipe.text()).toContain(long[0]?.[1]);
  });

  it('never narrows a column below its minimum, even when the terminal is tiny', () => {
    expect(
      columnWidths(
        [
          ['JOB', 'SOURCE'],
          ['a', 'x'.repeat(50)],
        ],
        2,
        10,
      ),
    ).toEqual([3, 8]);
  });
});

describe('submit key rules', () => {
  it.each([
    ['trips/clip.mp4', undefined],
    ['trips/CLIP.MOV', undefined],
    ['旅行/ビデオ.webm', undefined],
    ['/trips/clip.mp4', /starts with "\/".*use "trips\/clip\.mp4"/],
    ['trips/clip.Mp4', undefined],
    ['trips/clip.txt', /does not end in a video suffix/],
    ['trips/clip.mp4.json', /does not end in a video suffix/],
    ['trips/../clip.mp4', /not a plain key/],
    ['https://example.com/clip.mp4', /not a plain key/],
  ])('%s', (key, problem) => {
    const found = videoDropKeyProblem(key);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });

  it('starts a job for a video suffix in any case (submit classifies every created object)', () => {
    for (const suffix of ['.mp4', '.MP4', '.Mp4', '.mOV', '.mkv', '.MKV', '.webm', '.WebM', '.m4v']) {
      expect(triggersVideoJob(`a/clip${suffix}`)).toBe(true);
    }
    for (const other of ['.txt', '.mp4.json', '.json', '.mp3']) {
      expect(triggersVideoJob(`a/clip${other}`)).toBe(false);
    }
  });
});

describe('submit --wait --timeout', () => {
  it('exits with its own code (124) when the job is still running, distinct from a failed job (1)', async () => {
    const stderr = sink();
    const stdout = sink();
    const inFlight = {
      jobId: 'aaaaaaaaaaaaaaaaaaaa',
      status: 'GENERATING',
      source: { bucket: 'in', key: 'a.mp4' },
      request: { prompt: 'snow' },
      attempt: 1,
      pollCount: 1,
      createdAt: new Date().toISOString(),
    } as unknown as Job;
    const ctx = {
      target: { inputBucket: 'in' },
      clients: { s3: { send: async () => ({}) } },
      objects: { head: async () => ({ eTag: 'e', lastModified: '2026-01-01T00:00:00.000Z' }) },
      jobs: { get: async () => inFlight, listBySource: async () => [] },
      out: { stdout, stderr },
      clock: { now: () => new Date() },
    } as unknown as CliContext;
    const code = await submitFile(ctx, join(REPO_ROOT, 'package.json').replace('package.json', 'README.md'), {
      prompt: 'snow',
      key: 'a.mp4',
      wait: true,
      timeoutSeconds: 1,
    });
    expect(code).toBe(ExitCode.timedOut);
    expect(ExitCode.timedOut).toBe(124);
    expect(stdout.text()).toBe('');
    expect(stderr.text()).toMatch(/did not end within 1 s; it is still running/);
  });
});

describe('watchSummary', () => {
  it('counts how the jobs ended, most frequent first', () => {
    const ended = new Map([
      ['a', 'COMPLETED'],
      ['b', 'FAILED'],
      ['c', 'COMPLETED'],
    ] as const);
    expect(watchSummary(ended)).toBe('3 jobs ended: 2 COMPLETED, 1 FAILED');
    expect(watchSummary(new Map())).toBe('no job ended while watching');
  });
});

describe('a closed pipe', () => {
  it('exits 0 on EPIPE and rethrows any other stream error', () => {
    const stream = new EventEmitter();
    const exits: number[] = [];
    exitQuietlyOnClosedPipe(stream, (code) => exits.push(code));
    stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(exits).toEqual([0]);
    expect(() => stream.emit('error', Object.assign(new Error('boom'), { code: 'EIO' }))).toThrow('boom');
  });
});

describe('explainBusyPort', () => {
  const busy = (port: number) =>
    Object.assign(new Error(`listen EADDRINUSE: address already in use 127.0.0.1:${port}`), {
      code: 'EADDRINUSE',
      port,
    });

  it('names the server on a default port, or on the port its variable chose', () => {
    expect(explainBusyPort(busy(4567), {})?.message).toMatch(
      /^port 4567 is already in use, so DynamoDB \(dynalite\) cannot start .* VIDFLOW_PORT_DYNAMODB=<port> vidflow dev/,
    );
    expect(
      explainBusyPort(new Error('wrapped', { cause: busy(5000) }), { VIDFLOW_PORT_PROVIDER: '5000' })
        ?.message,
    ).toMatch(/so the provider emulator cannot start .* VIDFLOW_PORT_PROVIDER=<port>/);
  });

  it('leaves other errors alone', () => {
    expect(explainBusyPort(new Error('nope'), {})).toBeUndefined();
  });
});

describe('the env file of vidflow dev', () => {
  it('exports the standard endpoint variables, credentials and the data directory, shell-quoted', () => {
    const endpoints = {
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      s3: 'http://127.0.0.1:1',
      dynamodb: 'http://127.0.0.1:2',
      stepfunctions: 'http://127.0.0.1:3',
    } as Endpoints;
    expect(shellExports(localAwsEnvironment(endpoints, "/tmp/it's here"))).toBe(
      [
        "export AWS_ACCESS_KEY_ID='S3RVER'",
        "export AWS_SECRET_ACCESS_KEY='S3RVER'",
        "export AWS_REGION='us-east-1'",
        "export AWS_DEFAULT_REGION='us-east-1'",
        "export AWS_ENDPOINT_URL_S3='http://127.0.0.1:1'",
        "export AWS_ENDPOINT_URL_DYNAMODB='http://127.0.0.1:2'",
        "export AWS_ENDPOINT_URL_SFN='http://127.0.0.1:3'",
        "export VIDFLOW_DATA_DIR='/tmp/it'\\''s here'",
      ].join('\n'),
    );
  });
});

describe('package-lock.json', () => {
  it("holds every platform's optional binaries, so `npm ci` works on Linux, macOS and Windows", () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { optionalDependencies?: Record<string, string> }>;
    };
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const dependency of Object.keys(entry.optionalDependencies ?? {})) {
        const nested = `${path}/node_modules/${dependency}`;
        if (!(nested in lock.packages) && !(`node_modules/${dependency}` in lock.packages)) {
          missing.push(`${path || '(root)'} -> ${dependency}`);
        }
      }
    }
    expect(missing).toEqual([]);
    for (const platform of ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64']) {
      expect(lock.packages).toHaveProperty([`node_modules/@biomejs/cli-${platform}`]);
      expect(lock.packages).toHaveProperty([`node_modules/@esbuild/${platform}`]);
      expect(lock.packages).toHaveProperty([`node_modules/@ffmpeg-installer/${platform}`]);
    }
  });
});
