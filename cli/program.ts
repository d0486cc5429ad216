/**
 * The `vidflow` command line (contract section 6). Against the local runtime by default, or a
 * deployed stack with `--stack`. Exit codes: 0 success, 1 failure (or a job that did not
 * complete, for `submit --wait` and `watch <jobId>`), 2 usage errors.
 *
 * Command modules are imported when their command runs, so `vidflow status` does not load
 * the local runtime (and the CDK) that `vidflow dev` needs.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Logger } from '../functions/domain/ports.js';
import { explainAwsError } from './aws-errors.js';
import { addWebhooksCommand } from './commands/webhooks-program.js';
import { type CliContext, CliError, connectLocal, DEFAULT_DATA_DIR, localEventsTarget } from './context.js';

interface GlobalOptions {
  readonly dataDir: string;
  readonly stack?: string;
  readonly profile?: string;
  readonly region?: string;
  readonly debug?: boolean;
}

/** With --debug: the use cases' log lines, as JSON on stderr. */
function stderrLogger(): Logger {
  const log =
    (level: string) =>
    (message: string, ...extra: Record<string, unknown>[]) =>
      process.stderr.write(`${JSON.stringify({ level, message, ...Object.assign({}, ...extra) })}\n`);
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

const positiveInteger = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new InvalidArgumentError('expected a positive whole number');
  return number;
};

/**
 * The version in the repository's package.json (`cli/` and the build's `dist/` both sit one level
 * below it).
 *
 * @throws Error when package.json is missing or has no version (a broken checkout).
 */
export function packageVersion(): string {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const version =
    typeof manifest === 'object' && manifest !== null && 'version' in manifest ? manifest.version : undefined;
  if (typeof version !== 'string') throw new Error('vidflow: package.json has no version');
  return version;
}

/** What every error line starts with. */
export const ERROR_PREFIX = 'vidflow: ';

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;

/**
 * The `vidflow` program: every command, its options and help (with examples). Parsing runs
 * the command, which reports its exit code through `setExitCode`; see {@link runCli}.
 */
export function createProgram(setExitCode: (code: number) => void = () => undefined): Command {
  const program = new Command('vidflow')
    .description(
      'Drop a video into a bucket, get an edited video back (runway/gen4_aleph on AWS Step Functions).\n' +
        'Works against the local runtime (`vidflow dev`) unless --stack names a deployed stack.',
    )
    .option(
      '--data-dir <dir>',
      'where the local runtime keeps its data',
      process.env.VIDFLOW_DATA_DIR ?? DEFAULT_DATA_DIR,
    )
    .addOption(
      new Option('--stack <name>', 'a deployed vidflow stack (CloudFormation stack name)').env(
        'VIDFLOW_STACK',
      ),
    )
    .option('--profile <name>', 'AWS profile for --stack (default: the standard credential chain)')
    .option('--region <region>', 'AWS region for --stack (default: AWS_REGION or the profile)')
    .option('--debug', 'show stack traces and the use cases’ logs on errors')
    .version(packageVersion(), '-V, --version', 'print the version of vidflow')
    .showHelpAfterError('(add --help for usage and examples)')
    // One prefix for every error, whether commander or a command found it.
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, ERROR_PREFIX)) })
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ vidflow dev                                   # the local runtime, in another terminal
  $ vidflow submit clip.mp4 --prompt "make it snow" --wait
  $ vidflow list --status FAILED --since 7d
  $ vidflow --stack Vidflow --profile prod stats --since 24h
`,
    );

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();

  async function connect(): Promise<CliContext> {
    const options = globals();
    const logger = options.debug ? { logger: stderrLogger() } : {};
    if (options.stack === undefined) return connectLocal(options.dataDir, logger);
    const { connectStack } = await import('./stack.js');
    return connectStack(
      {
        stack: options.stack,
        ...(options.profile === undefined ? {} : { profile: options.profile }),
        ...(options.region === undefined ? {} : { region: options.region }),
      },
      logger,
    );
  }

  /** Run a command against the target; its result is the exit code. */
  async function withTarget(run: (ctx: CliContext) => Promise<number>): Promise<void> {
    const ctx = await connect();
    try {
      setExitCode(await run(ctx));
    } finally {
      ctx.close();
    }
  }

  function localOnly(command: string): void {
    if (globals().stack !== undefined)
      throw new CliError(`\`vidflow ${command}\` runs locally; drop --stack`, 2);
  }

  program
    .command('dev')
    .description('run the local runtime: S3, DynamoDB, Step Functions and the provider emulator on 127.0.0.1')
    .option('--random-ports', 'pick free ports instead of the fixed defaults')
    .option('--quiet', 'print only the summary, not each job event')
    .addHelpText(
      'after',
      examples(
        'vidflow dev',
        'AIMLAPI_KEY=... vidflow dev   # call the real provider',
        'VIDFLOW_WEBHOOK_URL=https://example.com/hook VIDFLOW_WEBHOOK_SECRET=whsec_... vidflow dev',
      ),
    )
    .action(async (options: { randomPorts?: boolean; quiet?: boolean }) => {
      localOnly('dev');
      const { runDev } = await import('./commands/dev.js');
      const runtime = await runDev({ dataDir: globals().dataDir, ...options });
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await runtime.stop();
    });

  program
    .command('emulator')
    .description('run only the provider emulator (a stand-in for the AI/ML API)')
    .option('--port <port>', 'port to listen on', '4010')
    .option('--time-scale <factor>', 'multiplies realistic processing times')
    .option('--faults <spec>', 'fault injection, see local/emulator/README.md')
    .addHelpText(
      'after',
      examples('vidflow emulator --port 4010 --time-scale 0.05', 'vidflow emulator --faults "get:500@0.2"'),
    )
    .action(async (options: { port: string; timeScale?: string; faults?: string }) => {
      localOnly('emulator');
      const { runEmulatorCommand } = await import('../local/emulator/cli.js');
      await runEmulatorCommand({
        port: options.port,
        dataDir: `${globals().dataDir}/emulator`,
        ...(options.timeScale ? { timeScale: options.timeScale } : {}),
        ...(options.faults ? { faults: options.faults } : {}),
        handleSignals: true,
      });
    });

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
        const { submitFile, submissionMetadata } = await import('./commands/jobs.js');
        // Parameters the pipeline would refuse fail here, before connecting or uploading anything.
        submissionMetadata(options.key ?? basename(file), options);
        await withTarget((ctx) =>
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
      const { showStatus } = await import('./commands/jobs.js');
      await withTarget((ctx) => showStatus(ctx, jobId, options));
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
        const { listJobs } = await import('./commands/jobs.js');
        await withTarget((ctx) => listJobs(ctx, options));
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
        const { watchAll, watchJob } = await import('./commands/watch.js');
        const { parseDuration } = await import('./commands/jobs.js');
        const watchOptions = { ...options, lookbackMs: parseDuration(options.since) };
        await withTarget((ctx) =>
          jobId === undefined ? watchAll(ctx, watchOptions) : watchJob(ctx, jobId, watchOptions),
        );
      },
    );

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
      const { showEvents } = await import('./commands/events.js');
      if (globals().stack !== undefined) {
        await withTarget((ctx) => showEvents(ctx, options));
        return;
      }
      // The events file alone: readable with the runtime stopped.
      const target = await localEventsTarget(globals().dataDir);
      setExitCode(
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
      const { retryCommand } = await import('./commands/manage.js');
      await withTarget((ctx) => retryCommand(ctx, jobId, options));
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
      const { cancelCommand } = await import('./commands/manage.js');
      await withTarget((ctx) => cancelCommand(ctx, jobId, options));
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
      const { downloadOutput } = await import('./commands/download.js');
      await withTarget((ctx) => downloadOutput(ctx, jobId, dest, options));
    });

  program
    .command('doctor')
    .description(
      'check the local runtime (or --stack) before the first drop: outputs, buckets, table, provider key',
    )
    .option('--json', 'machine-readable output')
    .addHelpText('after', examples('vidflow doctor', 'vidflow --stack Vidflow doctor --json'))
    .action(async (options: { json?: boolean }) => {
      const { runDoctor } = await import('./commands/doctor.js');
      setExitCode(await runDoctor(connect, process.stdout, options));
    });

  program
    .command('models')
    .description('the model catalog: each model with its fields, their rules and defaults')
    .option('--json', 'machine-readable output (an array of { id, fields: [{ name, ... }], ... })')
    .addHelpText('after', examples('vidflow models', 'vidflow models --json'))
    .action(async (options: { json?: boolean }) => {
      const { showModels } = await import('./commands/models.js');
      setExitCode(showModels(process.stdout, options));
    });

  program
    .command('console')
    .description(
      'serve the web console on 127.0.0.1: jobs, videos, timelines (the local runtime, or --stack)',
    )
    .option('--port <port>', 'port to listen on (default 4600, or a free one when taken)', positiveInteger)
    .addHelpText(
      'after',
      examples(
        'vidflow console                       # `vidflow dev` serves it too',
        'vidflow --stack Vidflow --profile prod console --port 4700',
      ),
    )
    .action(async (options: { port?: number }) => {
      const { serveConsole } = await import('../console/server/start-local.js');
      const ctx = await connect();
      try {
        const server = await serveConsole(ctx, options.port === undefined ? {} : { port: options.port });
        process.stdout.write(
          `vidflow console for ${ctx.target.description}: ${server.url}\n(Ctrl-C stops it)\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        await server.close();
      } finally {
        ctx.close();
      }
    });

  program
    .command('stats')
    .description('jobs per status, credits used and p50/p95 turnaround over a window')
    .option('--since <duration>', 'the window, e.g. 1h, 24h, 30d', '24h')
    .option('--json', 'machine-readable output')
    .option('--by <key>', 'also group by: model (jobs, completions and credits per model)')
    .addHelpText(
      'after',
      examples('vidflow stats', 'vidflow stats --since 7d --json', 'vidflow stats --by model'),
    )
    .action(async (options: { since: string; json?: boolean; by?: string }) => {
      const { showStats } = await import('./commands/stats.js');
      await withTarget((ctx) => showStats(ctx, options));
    });

  addWebhooksCommand(program, globals, setExitCode);

  return program;
}

/**
 * Run the command line `argv` (as `process.argv`: node, script, arguments...).
 * @returns the exit code.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  let exitCode = 0;
  const program = createProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    return reportError(program, error);
  }
}

/** Print an error a person can act on (the stack trace only with --debug); return the exit code. */
function reportError(program: Command, error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander printed the message (and help) already.
    return error.exitCode === 0 ? 0 : 2;
  }
  const debug = program.opts<GlobalOptions>().debug === true;
  const local = program.opts<GlobalOptions>().stack === undefined;
  const explained =
    error instanceof CliError ? error : (explainAwsError(error) ?? explainConnection(error, local));
  if (debug) console.error(error);
  if (explained !== undefined) {
    if (!debug) console.error(`${ERROR_PREFIX}${explained.message}`);
    return explained.exitCode;
  }
  if (!debug) {
    console.error(`${ERROR_PREFIX}${error instanceof Error ? error.message : String(error)}`);
    console.error('(run again with --debug for the details)');
  }
  return 1;
}

/** A runtime that stopped answering mid-command. */
function explainConnection(error: unknown, local: boolean): CliError | undefined {
  const text = error instanceof Error ? `${error.message} ${String(error.cause ?? '')}` : '';
  if (/ECONNREFUSED|ECONNRESET|socket hang up/.test(text)) {
    return new CliError(
      `lost the connection to ${local ? 'the local runtime (is `vidflow dev` still running?)' : 'AWS'}: ${text.trim()}`,
    );
  }
  return undefined;
}
