/**
 * The path a new user walks, through the real `vidflow` executable (the build in dist/): the
 * version, a closed pipe, a busy port, `submit`'s local checks, `events` with no runtime, and
 * `vidflow dev`'s `.vidflow/env` used by the AWS CLI and by vidflow itself.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PORT_ENV_NAMES } from '../../local/runtime.js';
import { type RuntimeProcess, startRuntimeProcess, waitFor } from '../support/runtime-harness.js';
import { runVidflow, spawnVidflow } from './cli-harness.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'vidflow-newcomer-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A terminal event line as the runtime writes it to events.jsonl. */
function eventLine(jobId: string, index: number): string {
  return JSON.stringify({
    source: 'vidflow',
    detailType: 'Job Completed',
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, index % 60)).toISOString(),
    detail: {
      schemaVersion: 1,
      jobId,
      status: 'COMPLETED',
      attempt: 1,
      source: { bucket: 'vidflow-input', key: `clips/${index}.mp4` },
      output: { bucket: 'vidflow-output', key: `clips/${index}/${jobId}.mp4` },
    },
  });
}

describe('vidflow --version', () => {
  it('prints the version of package.json', async () => {
    const manifest = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const result = await runVidflow([flag]);
      expect(result).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
    }
  });
});

describe('events without a running runtime', () => {
  it('reads the data directory’s events file and finds one job’s events', async () => {
    const dataDir = join(scratch, 'events-only');
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const lines = ['aaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaaaaaa'].map((id, index) =>
      eventLine(id, index),
    );
    await writeFile(join(dataDir, 'events.jsonl'), `${lines.join('\n')}\n`);
    const result = await runVidflow([
      '--data-dir',
      dataDir,
      'events',
      '--job',
      'aaaaaaaaaaaaaaaaaaaa',
      '--json',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${lines[0]}\n${lines[2]}\n`);
    const table = await runVidflow(['--data-dir', dataDir, 'events']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^TIME \(UTC\)\s+EVENT\s+JOB/);
    expect(table.stdout.trim().split('\n')).toHaveLength(4);
  });
});

describe('a closed pipe', () => {
  it('ends the command quietly, exit code 0, when the reader goes away (`| head`)', async () => {
    const dataDir = join(scratch, 'pipe');
    await mkdir(dataDir, { recursive: true });
    // Far more than a pipe buffers, so vidflow is still writing when the reader closes.
    const lines = Array.from({ length: 20_000 }, (_, index) => eventLine('cccccccccccccccccccc', index));
    await writeFile(join(dataDir, 'events.jsonl'), `${lines.join('\n')}\n`);
    const { stdout } = await run(
      'bash',
      [
        '-c',
        `set -o pipefail; node bin/vidflow.js --data-dir "${dataDir}" events --json 2>"${dataDir}/stderr" | head -n 2; echo "exit \${PIPESTATUS[0]}"`,
      ],
      { cwd: REPO_ROOT },
    );
    const out = stdout.trim().split('\n');
    expect(out.slice(0, 2)).toEqual(lines.slice(0, 2));
    expect(out.at(-1)).toBe('exit 0');
    expect(await readFile(join(dataDir, 'stderr'), 'utf8')).toBe('');
  });
});

describe('submit checks what it would upload with the pipeline’s rules', () => {
  it.each([
    [['clip.txt'], /key "clip\.txt" does not end in a video suffix .* \(set another with --key\)$/],
    [['clip.mp4', '--key', '/trips/a.mp4'], /key "\/trips\/a\.mp4" starts with "\/".*use "trips\/a\.mp4"$/],
    [['clip.mp4', '--key', 'trips/a.mp4.json'], /key "trips\/a\.mp4\.json" does not end in a video suffix/],
    [
      ['clip.mp4', '--frame-size', '1920:1080'],
      /frame size "1920:1080" is not one of 1280:720, .* \(FRAME_SIZE_INVALID\); nothing was uploaded$/,
    ],
    [['clip.mp4', '--seed', '-1'], /seed -1 is not an integer from 0 to 4294967295 \(SEED_INVALID\)/],
    [
      ['clip.mp4', '--seed', 'x'],
      /metadata seed "x" is not an integer in plain decimal digits \(SEED_INVALID\)/,
    ],
  ])('refuses %j before connecting or uploading (exit code 2)', async (args, message) => {
    const file = join(scratch, String(args[0]));
    await writeFile(file, 'not really a video');
    // No runtime in this data directory: the check must come first.
    const result = await runVidflow([
      '--data-dir',
      join(scratch, 'no-runtime'),
      'submit',
      file,
      ...args.slice(1),
      '--prompt',
      'make it snow',
      '--wait',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const [line, ...rest] = result.stderr.trim().split('\n');
    expect(line).toMatch(/^vidflow: /);
    expect(line).toMatch(message);
    expect(rest).toEqual([]);
  });

  it('refuses a prompt over 1000 characters or with control characters', async () => {
    const file = join(scratch, 'clip.mp4');
    await writeFile(file, 'x');
    for (const [prompt, code] of [
      ['a'.repeat(1001), 'PROMPT_TOO_LONG'],
      ['line\u0007bell', 'PROMPT_INVALID'],
      ['   ', 'PROMPT_MISSING'],
    ] as const) {
      const result = await runVidflow([
        '--data-dir',
        join(scratch, 'no-runtime'),
        'submit',
        file,
        '--prompt',
        prompt,
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`(${code}); nothing was uploaded`);
    }
  });
});

describe('one error prefix', () => {
  it('starts usage errors found by the parser with "vidflow: " too', async () => {
    const result = await runVidflow(['list', '--no-such-flag']);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe("vidflow: unknown option '--no-such-flag'");
  });
});

describe('vidflow dev', () => {
  let blocker: Server;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', resolveListen));
  });
  afterAll(async () => {
    await new Promise((resolveClose) => blocker.close(resolveClose));
  });

  it('names the server whose port is taken and how to move it', async () => {
    const address = blocker.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const dataDir = join(scratch, 'busy');
    const child = spawnVidflow(['--data-dir', dataDir, 'dev', '--quiet'], {
      [PORT_ENV_NAMES.s3]: String(address.port),
      [PORT_ENV_NAMES.dynamodb]: '0',
      [PORT_ENV_NAMES.stepFunctions]: '0',
      [PORT_ENV_NAMES.provider]: '0',
    });
    expect(await child.exited).toBe(1);
    expect(child.stderr().trim()).toBe(
      `vidflow: port ${address.port} is already in use, so S3 (s3rver) cannot start (another \`vidflow dev\`?): stop what holds it, or choose another port with VIDFLOW_PORT_S3=<port> vidflow dev, or run \`vidflow dev --random-ports\``,
    );
    // dev synthesizes the stack before it listens: seconds, more on a loaded machine.
  }, 120_000);

  describe('with a running runtime', () => {
    let dev: RuntimeProcess;
    let dataDir: string;
    beforeAll(async () => {
      dataDir = join(scratch, 'dev');
      dev = await startRuntimeProcess(dataDir);
      // dev writes endpoints.json, then env.
      await waitFor('the env file', () =>
        access(join(dataDir, 'env')).then(
          () => true,
          () => undefined,
        ),
      );
    });
    afterAll(async () => {
      await dev?.stop();
    });

    /** `bash -c 'source <dataDir>/env && <script>'` with no AWS or vidflow variables of this process. */
    async function sourced(script: string, cwd = scratch): Promise<string> {
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !/^(AWS_|VIDFLOW_)/.test(name)),
      );
      const { stdout } = await run('bash', ['-c', `source "${join(dataDir, 'env')}" && ${script}`], {
        env,
        cwd,
      });
      return stdout;
    }

    it('writes <dataDir>/env with the standard endpoint variables and credentials', async () => {
      const text = await readFile(join(dataDir, 'env'), 'utf8');
      const e = dev.endpoints;
      expect(text).toContain(`export AWS_ENDPOINT_URL_S3='${e.s3}'\n`);
      expect(text).toContain(`export AWS_ENDPOINT_URL_DYNAMODB='${e.dynamodb}'\n`);
      expect(text).toContain(`export AWS_ENDPOINT_URL_SFN='${e.stepfunctions}'\n`);
      expect(text).toContain(`export AWS_ACCESS_KEY_ID='${e.accessKeyId}'\n`);
      expect(text).toContain(`export VIDFLOW_DATA_DIR='${resolve(dataDir)}'\n`);
    });

    it('lets the AWS CLI reach S3, DynamoDB and Step Functions after `source .vidflow/env`', async () => {
      const out = await sourced(
        'aws s3api list-buckets --query "Buckets[].Name" --output text && ' +
          'aws dynamodb describe-table --table-name vidflow-jobs --query Table.TableName --output text && ' +
          'aws stepfunctions list-state-machines --query "stateMachines[].name" --output text',
      );
      expect(out.split(/\s+/).filter(Boolean).sort()).toEqual(
        ['vidflow-input', 'vidflow-jobs', 'vidflow-jobs', 'vidflow-output'].sort(),
      );
      // The README's forms, as written (an empty bucket lists nothing).
      expect(
        await sourced(
          'aws s3 ls s3://vidflow-input/ && aws dynamodb describe-table --table-name vidflow-jobs >/dev/null && aws stepfunctions list-state-machines >/dev/null && echo ok',
        ),
      ).toBe('ok\n');
    });

    it('runs the README scan that leaves internal items out', async () => {
      const out = await sourced(
        'aws dynamodb scan --table-name vidflow-jobs --filter-expression "attribute_not_exists(kind)" --output json',
      );
      expect(JSON.parse(out)).toMatchObject({ Items: [], Count: 0 });
    });

    it('lets vidflow find the runtime from any directory after `source .vidflow/env`', async () => {
      const out = await sourced(`node "${join(REPO_ROOT, 'bin/vidflow.js')}" list --json`);
      expect(JSON.parse(out)).toEqual([]);
    });
  });
});
