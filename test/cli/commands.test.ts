/**
 * The `vidflow` commands end to end: the executable as a child process against a local runtime
 * started in-process, checking what a user sees (stdout, stderr, exit codes) and the exact
 * `--json` shapes.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPublicRecord } from '../../functions/domain/finalize-job.js';
import { type Job, JobStatus } from '../../functions/domain/job.js';
import { isSettled, putObject } from '../support/runtime-harness.js';
import { type CliRuntime, jsonLines, runVidflow, startCliRuntime, testClip } from './cli-harness.js';
import { jobRecordProblems } from './schemas.js';

describe('vidflow commands against the local runtime', () => {
  let cli: CliRuntime;
  let clip: string;
  let scratch: string;
  /** The first job, completed by `submit --wait`. */
  let completed: Job;
  let rejectedId: string;

  const upload = async (key: string, prompt: string | undefined): Promise<string> =>
    putObject(cli.clients.s3, {
      bucket: cli.runtime.endpoints.inputBucket,
      key,
      body: await readFile(clip),
      ...(prompt === undefined ? {} : { metadata: { prompt: encodeURIComponent(prompt) } }),
    });

  beforeAll(async () => {
    [cli, clip, scratch] = await Promise.all([
      startCliRuntime(),
      testClip(),
      mkdtemp(join(tmpdir(), 'vidflow-cli-scratch-')),
    ]);
  });

  afterAll(async () => {
    await cli?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('submit --wait --json uploads the file, follows the job and prints the completed record', async () => {
    const result = await cli.vidflow([
      'submit',
      clip,
      '--key',
      'trips/day one.mp4',
      '--prompt',
      'make it snow, ünïcode',
      '--frame-size',
      '960:960',
      '--wait',
      '--json',
    ]);
    expect(result.code).toBe(0);
    const record = JSON.parse(result.stdout) as Job;
    expect(record.jobId).toMatch(/^[a-z2-7]{20}$/);
    expect(jobRecordProblems(record)).toEqual([]);
    expect(record).toMatchObject({
      status: 'COMPLETED',
      source: { bucket: 'vidflow-input', key: 'trips/day one.mp4' },
      request: { prompt: 'make it snow, ünïcode', frameSize: '960:960', model: 'runway/gen4_aleph' },
      output: { bucket: 'vidflow-output', key: `trips/day one/${record.jobId}.mp4` },
      attempt: 1,
    });
    // Progress goes to stderr as plain lines (not a terminal), the result alone to stdout.
    const progress = result.stderr.trim().split('\n');
    expect(progress[0]).toBe(`uploaded s3://vidflow-input/trips/day one.mp4 as job ${record.jobId}`);
    expect(progress.at(-1)).toMatch(
      new RegExp(
        `^${record.jobId}  trips/day one\\.mp4  "make it snow, ünïcode"  COMPLETED  \\d+ polls?  \\d+\\.\\ds  -> s3://`,
      ),
    );
    expect(result.stderr).not.toContain('\u001b[');
    completed = (await cli.clients.jobs.get(record.jobId)) as Job;
    expect(record).toEqual(toPublicRecord(completed));
  });

  it('submit without --wait prints only the job id, and watch <jobId> follows it to the end', async () => {
    const submitted = await cli.vidflow([
      'submit',
      clip,
      '--key',
      'trips/second.mp4',
      '--prompt',
      'night time',
    ]);
    expect(submitted.code).toBe(0);
    expect(submitted.stdout).toMatch(/^[a-z2-7]{20}\n$/);
    const jobId = submitted.stdout.trim();

    const watched = await cli.vidflow(['watch', jobId]);
    expect(watched.code).toBe(0);
    const lines = watched.stdout.trim().split('\n');
    for (const line of lines)
      expect(line).toMatch(
        new RegExp(`^${jobId}  trips/second\\.mp4  "night time"  (SUBMITTED|GENERATING|COPYING|COMPLETED)  `),
      );
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^${jobId}  trips/second\\.mp4  "night time"  COMPLETED  .* -> s3://vidflow-output/trips/second/${jobId}\\.mp4$`,
      ),
    );
    // A pipe gets a line per change, never the same state twice.
    expect(new Set(lines.map((line) => line.replace(/ {2}\d+\.\ds.*$/, ''))).size).toBe(lines.length);
  });

  it('watch --json prints the record as one JSON line per change', async () => {
    const watched = await cli.vidflow(['watch', completed.jobId, '--json']);
    expect(watched.code).toBe(0);
    const records = jsonLines(watched.stdout);
    expect(records).toEqual([toPublicRecord(completed)]);
  });

  it('watch without a job id follows every job in flight until none is left', async () => {
    const ids = await Promise.all([upload('batch/a.mp4', 'sepia'), upload('batch/b.mp4', 'negative')]);
    for (const id of ids) await cli.waitForJob(id, () => true);
    const watched = await cli.vidflow(['watch']);
    expect(watched.code).toBe(0);
    const [a, b] = ids;
    expect(watched.stdout).toMatch(new RegExp(`^${a}  batch/a\\.mp4  "sepia"  COMPLETED  .*$`, 'm'));
    expect(watched.stdout).toMatch(new RegExp(`^${b}  batch/b\\.mp4  "negative"  COMPLETED  .*$`, 'm'));
    expect(watched.stdout.trimEnd().split('\n').at(-1)).toBe('2 jobs ended: 2 COMPLETED');
    const idle = await cli.vidflow(['watch']);
    expect(idle).toMatchObject({ code: 0, stdout: '', stderr: 'no jobs in flight\n' });
  });

  it('status prints the record for people, and exactly the record with --json', async () => {
    const human = await cli.vidflow(['status', completed.jobId]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(
      `job        ${completed.jobId}\nstatus     COMPLETED (provider: completed)\n`,
    );
    expect(human.stdout).toContain(`output     s3://vidflow-output/trips/day one/${completed.jobId}.mp4`);

    const json = await cli.vidflow(['status', completed.jobId, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(toPublicRecord(completed));
  });

  it('an unknown job id exits 1 with a message and no stack trace', async () => {
    const result = await cli.vidflow(['status', 'aaaaaaaaaaaaaaaaaaaa']);
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `vidflow: no job aaaaaaaaaaaaaaaaaaaa in the local runtime in ${cli.dataDir} (see \`vidflow list\`)\n`,
    });
  });

  it.each(['#admission#slots', '#stats#640:480'])(
    'status of the internal table item %s answers as an unknown job',
    async (id) => {
      const result = await cli.vidflow(['status', id]);
      expect(result).toEqual({
        code: 1,
        stdout: '',
        stderr: `vidflow: no job ${id} in the local runtime in ${cli.dataDir} (see \`vidflow list\`)\n`,
      });
    },
  );

  it.each([['stats'], ['list']])('%s refuses a --since window over 366 days at once', async (command) => {
    const result = await cli.vidflow([command, '--since', '100000000d']);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: 'vidflow: "100000000d" is longer than the longest window, 366d\n',
    });
  });

  it('list --json prints job records newest first, filtered by status, key or key prefix', async () => {
    rejectedId = await putObject(cli.clients.s3, {
      bucket: 'vidflow-input',
      key: 'trips/broken.mp4',
      body: 'definitely not a video',
      metadata: { prompt: 'will not work' },
    });
    await cli.waitForJob(rejectedId, isSettled);

    const all = await cli.vidflow(['list', '--json']);
    expect(all.code).toBe(0);
    const records = JSON.parse(all.stdout) as Job[];
    for (const record of records) expect(jobRecordProblems(record)).toEqual([]);
    const times = records.map((record) => record.statusChangedAt);
    expect(times).toEqual([...times].sort().reverse());
    expect(records.map((record) => record.jobId)).toContain(completed.jobId);

    const failedOnly = JSON.parse(
      (await cli.vidflow(['list', '--status', 'rejected', '--json'])).stdout,
    ) as Job[];
    expect(failedOnly.map((record) => [record.jobId, record.status, record.error?.code])).toContainEqual([
      rejectedId,
      'REJECTED',
      'NOT_A_VIDEO',
    ]);
    expect(new Set(failedOnly.map((record) => record.status))).toEqual(new Set(['REJECTED']));

    const ofKey = JSON.parse(
      (await cli.vidflow(['list', '--source', 'trips/day one.mp4', '--json'])).stdout,
    ) as Job[];
    expect(ofKey.map((record) => record.jobId)).toEqual([completed.jobId]);

    const underPrefix = JSON.parse(
      (await cli.vidflow(['list', '--source', 'batch/', '--json'])).stdout,
    ) as Job[];
    expect(underPrefix.map((record) => record.source.key).sort()).toEqual(['batch/a.mp4', 'batch/b.mp4']);
  });

  it('list pages with --limit and --before, and prints a table for people', async () => {
    const first = await cli.vidflow(['list', '--limit', '1']);
    expect(first.code).toBe(0);
    const [header, row, ...rest] = first.stdout.trim().split('\n');
    expect(header).toMatch(/^JOB {19}STATUS +SINCE \(UTC\) +SOURCE +MODEL +ERROR$/);
    expect(rest).toEqual([]);
    const cursor = /^more jobs: add --before (\S+) for the next page$/m.exec(first.stderr)?.[1];
    expect(cursor).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    const second = JSON.parse(
      (await cli.vidflow(['list', '--limit', '1', '--before', cursor ?? '', '--json'])).stdout,
    ) as Job[];
    expect(second).toHaveLength(1);
    expect(row?.startsWith(second[0]?.jobId ?? '-')).toBe(false);
    expect(second[0]?.statusChangedAt.localeCompare(cursor ?? '')).toBe(-1);
  });

  it('bad flags and values exit 2 with a usage message', async () => {
    const unknown = await cli.vidflow(['list', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("vidflow: unknown option '--bogus'");
    expect(unknown.stderr).toContain('(add --help for usage and examples)');

    const since = await cli.vidflow(['list', '--since', 'fortnight']);
    expect(since).toEqual({
      code: 2,
      stdout: '',
      stderr: 'vidflow: "fortnight" is not a duration like 90s, 15m, 24h or 7d\n',
    });
    const status = await cli.vidflow(['list', '--status', 'DONE']);
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(
      /^vidflow: unknown status DONE; one of AWAITING_PROMPT, WAITING, SUBMITTED/,
    );
  });

  it('download saves the output video, refuses to overwrite it, and says why a job has none', async () => {
    const saved = await cli.vidflow(['download', completed.jobId, scratch]);
    const path = join(scratch, `${completed.jobId}.mp4`);
    const source = `s3://vidflow-output/${completed.output?.key}`;
    expect(saved).toEqual({
      code: 0,
      stdout: `saved ${source} to ${path} (${completed.output?.size} bytes)\n`,
      stderr: '',
    });
    expect((await stat(path)).size).toBe(completed.output?.size);

    const again = await cli.vidflow(['download', completed.jobId, path]);
    expect(again).toMatchObject({ code: 1, stderr: `vidflow: ${path} exists; pass --force to replace it\n` });

    const forced = await cli.vidflow(['download', completed.jobId, path, '--force', '--json']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toEqual({
      jobId: completed.jobId,
      path,
      bytes: completed.output?.size,
      source,
    });

    const missingFolder = join(scratch, 'missing', 'dir/');
    const refused = await cli.vidflow(['download', completed.jobId, missingFolder]);
    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr: `vidflow: ${missingFolder} is not an existing folder\n`,
    });
    await expect(stat(join(scratch, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });

    const none = await cli.vidflow(['download', rejectedId]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      new RegExp(`^vidflow: job ${rejectedId} is REJECTED: there is no output to download \\(NOT_A_VIDEO: `),
    );
  });

  it('events prints the terminal events; --json prints them exactly as written', async () => {
    const lines = (await readFile(cli.runtime.endpoints.eventsFile, 'utf8')).trim().split('\n');
    const json = await cli.vidflow(['events', '--json']);
    expect(json.code).toBe(0);
    expect(jsonLines(json.stdout)).toEqual(lines.map((line) => JSON.parse(line)));

    const human = await cli.vidflow(['events', '--job', completed.jobId]);
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n')[0]).toMatch(/^TIME \(UTC\) +EVENT +JOB +ATTEMPT +DETAIL$/);
    expect(human.stdout.split('\n')[1]).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  Job Completed  ${completed.jobId}  1        s3://vidflow-output/`,
      ),
    );
  });

  it('events --follow prints each new event as it is written, until stopped', async () => {
    const follower = cli.spawnVidflow(['events', '--follow', '--json']);
    await follower.waitForStdout(new RegExp(completed.jobId));
    const jobId = await upload('follow/c.mp4', 'cold colours');
    await follower.waitForStdout(new RegExp(`"jobId":"${jobId}"`));
    follower.child.kill('SIGTERM');
    expect(await follower.exited).toBe(0);
    const event = jsonLines(follower.stdout()).find(
      (line) => (line as { detail: { jobId: string } }).detail.jobId === jobId,
    );
    expect(event).toMatchObject({
      source: 'vidflow',
      detailType: 'Job Completed',
      detail: { jobId, status: 'COMPLETED' },
    });
  });

  it('stats --json counts jobs per status, credits and turnaround over the window', async () => {
    const result = await cli.vidflow(['stats', '--since', '1h', '--json']);
    expect(result.code).toBe(0);
    const stats = JSON.parse(result.stdout) as Record<string, unknown>;
    const records = JSON.parse((await cli.vidflow(['list', '--limit', '1000', '--json'])).stdout) as Job[];
    const completedCount = records.filter((record) => record.status === JobStatus.completed).length;
    expect(Object.keys(stats)).toEqual([
      'since',
      'until',
      'jobs',
      'byStatus',
      'creditsUsed',
      'turnaroundSeconds',
    ]);
    expect(stats).toMatchObject({
      jobs: records.length,
      byStatus: {
        AWAITING_PROMPT: 0,
        SUBMITTED: 0,
        GENERATING: 0,
        COPYING: 0,
        COMPLETED: completedCount,
        FAILED: 0,
        REJECTED: 1,
        TIMED_OUT: 0,
        CANCELLED: 0,
      },
      // The emulator charges 40 credits per generation; the rejected job cost nothing.
      creditsUsed: 40 * completedCount,
      turnaroundSeconds: { completed: completedCount },
    });
    const { p50, p95 } = stats.turnaroundSeconds as { p50: number; p95: number };
    expect(p50).toBeGreaterThan(0);
    expect(p95).toBeGreaterThanOrEqual(p50);

    const human = await cli.vidflow(['stats']);
    expect(human.stdout).toContain(`COMPLETED        ${completedCount}\n`);
    expect(human.stdout).toMatch(/turnaround {4}p50 \d+\.\ds {2}p95 \d+\.\ds {2}\(\d+ completed\)/);
  });

  it('says so when no runtime is running, or when it stopped answering', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'vidflow-cli-empty-'));
    try {
      const missing = await runVidflow(['--data-dir', empty, 'list']);
      expect(missing).toEqual({
        code: 1,
        stdout: '',
        stderr: `vidflow: no local runtime found (${join(empty, 'endpoints.json')} is missing): start one with \`vidflow dev\`, or pass --data-dir or --stack\n`,
      });
      const endpoints = JSON.parse(await readFile(join(cli.dataDir, 'endpoints.json'), 'utf8')) as Record<
        string,
        string
      >;
      await writeFile(
        join(empty, 'endpoints.json'),
        JSON.stringify({ ...endpoints, dynamodb: 'http://127.0.0.1:9' }),
      );
      const dead = await runVidflow(['--data-dir', empty, 'status', completed.jobId]);
      expect(dead).toEqual({
        code: 1,
        stdout: '',
        stderr: `vidflow: the local runtime in ${empty} is not answering (http://127.0.0.1:9): start it with \`vidflow dev\`\n`,
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
