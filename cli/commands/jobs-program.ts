/**
 * The job commands: submit and follow jobs (`submit`, `status`, `list`, `watch`), then act on
 * them (`events`, `retry`, `cancel`, `download`). Each runs against the local runtime or, with
 * `--stack`, a deployed stack; each loads its implementation when it runs.
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { localEventsTarget } from '../context.js';
import { examples, type ProgramContext, positiveInteger } from '../program-context.js';

/** Adds `vidflow submit`, `status`, `list` and `watch` to the program. */
export function addJobQueryCommands(program: Command, cli: ProgramContext): void {
  program
    .command('submit <file>')
    .description('upload a video with its prompt and print the job id')
    .requiredOption('--prompt <text>', 'what to do to the video (at most 1000 characters)')
    .option('--key <key>', 'key in the input bucket (default: the file name)')
    .option('--frame-size <size>', 'e.g. 1280:720, 720:1280, 960:960')
    .option('--seed <n>', 'integer from 0 to 4294967295')
    .option('--wait', 'follow the job; exit 0 only if it completes')
    .option('--timeout <seconds>', 'with --wait, give up after this long', positiveInteger)
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      examples(
        'vidflow submit clip.mp4 --prompt "make it snow" --wait',
        'vidflow submit clip.mp4 --key trips/day1.mp4 --prompt "night time" --frame-size 960:960 --json',
      ),
    )
    .action(
      async (
        file: string,
        options: {
          prompt: string;
          key?: string;
          frameSize?: string;
          seed?: string;
          wait?: boolean;
          timeout?: number;
          json?: boolean;
        },
      ) => {
        const { submitFile, submissionMetadata } = await import('./jobs.js');
        // Parameters the pipeline would refuse fail here, before connecting or uploading anything.
        submissionMetadata(options.key ?? basename(file), options);
        await cli.withTarget((ctx) =>
          submitFile(ctx, file, {
            ...options,
            ...(options.timeout ? { timeoutSeconds: options.timeout } : {}),
          }),
        );
      },
    );

  program
    .command('status <jobId>')
    .description('show one job record')
    .option('--json', 'machine-readable output (the job record)')
    .addHelpText(
      'after',
      examples('vidflow status f4jlmn3sssod446ym3em', 'vidflow status f4jlmn3sssod446ym3em --json'),
    )
    .action(async (jobId: string, options: { json?: boolean }) => {
      const { showStatus } = await import('./jobs.js');
      await cli.withTarget((ctx) => showStatus(ctx, jobId, options));
    });

  program
    .command('list')
    .description('list jobs, newest first (by when they entered their status)')
    .option('--status <status>', 'only jobs in this status, e.g. COMPLETED')
    .option('--since <duration>', 'how far back, e.g. 90m, 24h, 7d (default 24h)')
    .option('--source <key>', 'every job of this input key; a key prefix (trips/) matches within --since')
    .option('--limit <n>', 'at most this many (default 50)', positiveInteger)
    .option('--before <time>', 'the next page: jobs that entered their status before this ISO time')
    .option('--json', 'machine-readable output (an array of job records)')
    .addHelpText(
      'after',
      examples(
        'vidflow list --status COMPLETED --since 24h',
        'vidflow list --source trips/clip.mp4 --json',
        'vidflow list --source trips/ --since 7d',
        'vidflow list --limit 20 --before 2025-01-31T10:00:00.000Z',
      ),
    )
    .action(
      async (options: {
        status?: string;
        since?: string;
        source?: string;
        limit?: number;
        before?: string;
        json?: boolean;
      }) => {
        const { listJobs } = await import('./jobs.js');
        await cli.withTarget((ctx) => listJobs(ctx, options));
      },
    );

  program
    .command('watch [jobId]')
    .description('live progress of one job (exit 0 only if it completes), or of every job in flight')
    .option('--follow', 'without a job id: keep watching for new jobs until Ctrl-C')
    .option('--since <duration>', 'without a job id: how far back to look for jobs in flight', '24h')
    .option('--json', 'one job record per line at each change')
    .addHelpText(
      'after',
      examples(
        'vidflow watch f4jlmn3sssod446ym3em',
        'vidflow watch              # every job in flight, until none is left',
        'vidflow watch --follow     # and new ones, until Ctrl-C',
        'vidflow watch f4jlmn3sssod446ym3em --json | jq .status',
      ),
    )
    .action(
      async (jobId: string | undefined, options: { follow?: boolean; since: string; json?: boolean }) => {
        const { watchAll, watchJob } = await import('./watch.js');
        const { parseDuration } = await import('./jobs.js');
        const watchOptions = { ...options, lookbackMs: parseDuration(options.since) };
        await cli.withTarget((ctx) =>
          jobId === undefined ? watchAll(ctx, watchOptions) : watchJob(ctx, jobId, watchOptions),
        );
      },
    );
}

/** Adds `vidflow events`, `retry`, `cancel` and `download` to the program. */
export function addJobActionCommands(program: Command, cli: ProgramContext): void {
  program
    .command('events')
    .description('terminal job events of the local runtime (.vidflow/events.jsonl)')
    .option('--follow', 'keep printing new events until Ctrl-C')
    .option('--job <jobId>', 'only the events of this job')
    .option('--last <n>', 'only the last n events (before following)', positiveInteger)
    .option('--json', 'the events as JSON lines, exactly as written')
    .addHelpText(
      'after',
      examples(
        'vidflow events',
        'vidflow events --follow',
        'vidflow events --job f4jlmn3sssod446ym3em --json',
      ),
    )
    .action(async (options: { follow?: boolean; job?: string; last?: number; json?: boolean }) => {
      const { showEvents } = await import('./events.js');
      if (cli.globals().stack !== undefined) {
        await cli.withTarget((ctx) => showEvents(ctx, options));
        return;
      }
      // The events file alone: readable with the runtime stopped.
      const target = await localEventsTarget(cli.globals().dataDir);
      cli.setExitCode(
        await showEvents({ target, out: { stdout: process.stdout, stderr: process.stderr } }, options),
      );
    });

  program
    .command('retry <jobId>')
    .description('start a new attempt of a FAILED, TIMED_OUT or CANCELLED job (same job id)')
    .option('--json', 'machine-readable output (the job record after resubmission)')
    .addHelpText(
      'after',
      `${examples('vidflow retry f4jlmn3sssod446ym3em && vidflow watch f4jlmn3sssod446ym3em')}
The earlier attempts stay in the record's "attempts". A retry is a new paid generation.
`,
    )
    .action(async (jobId: string, options: { json?: boolean }) => {
      const { retryCommand } = await import('./manage.js');
      await cli.withTarget((ctx) => retryCommand(ctx, jobId, options));
    });

  program
    .command('cancel <jobId>')
    .description('cancel a job in flight: records CANCELLED and stops its execution')
    .option('--reason <text>', 'recorded as the error message')
    .option('--json', 'machine-readable output (the cancelled job record)')
    .addHelpText(
      'after',
      `${examples('vidflow cancel f4jlmn3sssod446ym3em', 'vidflow cancel f4jlmn3sssod446ym3em --reason "wrong prompt" --json')}
A generation already under way at the provider is not refunded; its result is ignored.
`,
    )
    .action(async (jobId: string, options: { json?: boolean; reason?: string }) => {
      const { cancelCommand } = await import('./manage.js');
      await cli.withTarget((ctx) => cancelCommand(ctx, jobId, options));
    });

  program
    .command('download <jobId> [dest]')
    .description('save the edited video of a completed job (default ./<jobId>.mp4; "-" for stdout)')
    .option('--force', 'replace an existing file')
    .option('--json', 'machine-readable output ({ jobId, path, bytes, source })')
    .addHelpText(
      'after',
      examples(
        'vidflow download f4jlmn3sssod446ym3em',
        'vidflow download f4jlmn3sssod446ym3em ~/Videos/',
        'vidflow download f4jlmn3sssod446ym3em - | ffplay -',
      ),
    )
    .action(async (jobId: string, dest: string | undefined, options: { force?: boolean; json?: boolean }) => {
      const { downloadOutput } = await import('./download.js');
      await cli.withTarget((ctx) => downloadOutput(ctx, jobId, dest, options));
    });
}
