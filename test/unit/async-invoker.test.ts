import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AsyncInvoker, type DeadLetter, InvokerClosedError } from '../../local/async-invoker.js';

interface DropEvent {
  readonly key: string;
}

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const T0 = Date.UTC(2025, 4, 1, 12, 0, 0);

let dataDir: string;
const invokers: AsyncInvoker<DropEvent>[] = [];

function createInvoker(
  props: Partial<ConstructorParameters<typeof AsyncInvoker<DropEvent>>[0]> = {},
): AsyncInvoker<DropEvent> {
  const invoker = new AsyncInvoker<DropEvent>({
    name: 'submit',
    dataDir,
    handler: async () => {},
    retryDelaysMs: [1, 1],
    ...props,
  });
  invokers.push(invoker);
  return invoker;
}

async function pendingFiles(): Promise<string[]> {
  return (await readdir(join(dataDir, 'pending'))).filter((file) => file.endsWith('.json'));
}

async function deadLetters(): Promise<unknown[]> {
  const text = await readFile(join(dataDir, 'dead-letters.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line): unknown => JSON.parse(line));
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'vidflow-invoker-'));
});

afterEach(async () => {
  await Promise.all(invokers.splice(0).map((invoker) => invoker.close()));
  await rm(dataDir, { recursive: true, force: true });
});

describe('AsyncInvoker', () => {
  it('delivers an event once and removes it from the queue', async () => {
    const delivered: DropEvent[] = [];
    const invoker = createInvoker({ handler: async (event) => void delivered.push(event) });
    await invoker.start();

    await invoker.enqueue({ key: 'a.mp4' });
    await invoker.drain();

    expect(delivered).toEqual([{ key: 'a.mp4' }]);
    expect(await pendingFiles()).toEqual([]);
    await expect(readFile(join(dataDir, 'dead-letters.jsonl'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('retries a failing handler after each configured delay and stops at the first success', async () => {
    const attemptTimes: number[] = [];
    const invoker = createInvoker({
      retryDelaysMs: [30, 60],
      handler: async () => {
        attemptTimes.push(performance.now());
        if (attemptTimes.length < 3) throw new Error('provider unavailable');
      },
    });
    await invoker.start();

    await invoker.enqueue({ key: 'a.mp4' });
    await invoker.drain();

    expect(attemptTimes).toHaveLength(3);
    const [first = 0, second = 0, third = 0] = attemptTimes;
    // Timers may fire up to a millisecond early against performance.now().
    expect(second - first).toBeGreaterThanOrEqual(29);
    expect(third - second).toBeGreaterThanOrEqual(59);
    expect(await pendingFiles()).toEqual([]);
  });

  it('writes the exact dead letter once the retries run out', async () => {
    let attempts = 0;
    const reported: DeadLetter<DropEvent>[] = [];
    const invoker = createInvoker({
      retryAttempts: 2,
      retryDelaysMs: [0, 0],
      now: () => T0,
      handler: async () => {
        attempts += 1;
        throw new TypeError(`bad input ${attempts}`);
      },
      onDeadLetter: (entry) => reported.push(entry),
    });
    await invoker.start();

    const requestId = await invoker.enqueue({ key: 'broken.mp4' });
    await invoker.drain();

    const expected = {
      function: 'submit',
      requestId,
      condition: 'RetriesExhausted',
      event: { key: 'broken.mp4' },
      error: { name: 'TypeError', message: 'bad input 3' },
      attempts: 3,
      firstEnqueuedAt: '2025-05-01T12:00:00.000Z',
      lastAttemptAt: '2025-05-01T12:00:00.000Z',
    };
    expect(attempts).toBe(3);
    expect(await deadLetters()).toEqual([expected]);
    expect(reported).toEqual([expected]);
    expect(await pendingFiles()).toEqual([]);
  });

  it('dead-letters an event older than the maximum event age without attempting it', async () => {
    let clock = T0;
    const handler = vi.fn(async () => {});
    const invoker = createInvoker({ handler, maxEventAgeMs: 6 * 60 * 60 * 1000, now: () => clock });

    const requestId = await invoker.enqueue({ key: 'stale.mp4' });
    clock = T0 + 7 * 60 * 60 * 1000;
    await invoker.start();
    await invoker.drain();

    expect(handler).not.toHaveBeenCalled();
    expect(await deadLetters()).toEqual([
      {
        function: 'submit',
        requestId,
        condition: 'EventAgeExceeded',
        event: { key: 'stale.mp4' },
        error: { name: 'EventAgeExceeded', message: 'Event is 25200000 ms old, past the maximum event age' },
        attempts: 0,
        firstEnqueuedAt: '2025-05-01T12:00:00.000Z',
        lastAttemptAt: '2025-05-01T19:00:00.000Z',
      },
    ]);
  });

  it('keeps events enqueued before close on disk and delivers them, in order, from a new invoker', async () => {
    const first = createInvoker();
    await first.enqueue({ key: 'one.mp4' });
    await first.enqueue({ key: 'two.mp4' });
    await first.close();
    expect(await pendingFiles()).toHaveLength(2);

    const delivered: string[] = [];
    const second = createInvoker({ handler: async (event) => void delivered.push(event.key) });
    expect(await second.start()).toBe(2);
    await second.drain();

    expect(delivered).toEqual(['one.mp4', 'two.mp4']);
    expect(await pendingFiles()).toEqual([]);
  });

  it('keeps the retry count of a failed attempt across a restart', async () => {
    const first = createInvoker({
      retryDelaysMs: [60_000],
      handler: async () => {
        throw new Error('down');
      },
    });
    await first.start();
    await first.enqueue({ key: 'a.mp4' });
    await vi.waitFor(async () => {
      const [file] = await pendingFiles();
      expect(JSON.parse(await readFile(join(dataDir, 'pending', file ?? ''), 'utf8'))).toMatchObject({
        attempts: 1,
      });
    });
    await first.close();

    const second = createInvoker({
      retryAttempts: 1,
      now: () => Date.now() + 60_000,
      handler: async () => {
        throw new Error('still down');
      },
    });
    await second.start();
    await second.drain();

    expect(await deadLetters()).toEqual([
      expect.objectContaining({ attempts: 2, error: { name: 'Error', message: 'still down' } }),
    ]);
  });

  it('redelivers an event acknowledged just before the process was killed with SIGKILL', async () => {
    // .mts: the temporary directory has no package.json saying "type": "module".
    const script = join(dataDir, 'crash.mts');
    await writeFile(
      script,
      [
        `import { AsyncInvoker } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'local/async-invoker.ts')).href)};`,
        `const invoker = new AsyncInvoker({ name: 'submit', dataDir: ${JSON.stringify(join(dataDir, 'queue'))},`,
        '  handler: () => new Promise(() => {}) });',
        'await invoker.start();',
        "await invoker.enqueue({ key: 'in-flight.mp4' });",
        "process.kill(process.pid, 'SIGKILL');",
      ].join('\n'),
    );
    const crashed = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO_ROOT,
    }).then(
      () => 'exited normally',
      (error: { signal?: string; stderr?: string }) => error.signal ?? error.stderr,
    );
    expect(crashed).toBe('SIGKILL');

    const delivered: string[] = [];
    const invoker = createInvoker({
      dataDir: join(dataDir, 'queue'),
      handler: async (event) => void delivered.push(event.key),
    });
    expect(await invoker.start()).toBe(1);
    await invoker.drain();
    expect(delivered).toEqual(['in-flight.mp4']);
  });

  it('never runs more handlers at once than its concurrency', async () => {
    let active = 0;
    let maxActive = 0;
    const releases: Array<() => void> = [];
    const invoker = createInvoker({
      concurrency: 3,
      handler: () =>
        new Promise<void>((done) => {
          active += 1;
          maxActive = Math.max(maxActive, active);
          releases.push(() => {
            active -= 1;
            done();
          });
        }),
    });
    await invoker.start();
    for (let index = 0; index < 10; index += 1) await invoker.enqueue({ key: `clip-${index}.mp4` });

    expect(invoker.inFlight()).toBe(3);
    expect(invoker.pending()).toBe(7);
    const drained = invoker.drain();
    let released = 0;
    while (released < 10) {
      await vi.waitFor(() => expect(releases.length).toBeGreaterThan(0));
      for (const release of releases.splice(0)) {
        release();
        released += 1;
      }
    }
    await drained;

    expect(maxActive).toBe(3);
    expect(invoker.inFlight()).toBe(0);
    expect(invoker.pending()).toBe(0);
  });

  it('refuses events after close', async () => {
    const invoker = createInvoker();
    await invoker.close();
    await expect(invoker.enqueue({ key: 'late.mp4' })).rejects.toThrow(InvokerClosedError);
  });
});
