/**
 * `vidflow`: the command line (contract section 6).
 */
import { Command, InvalidArgumentError } from 'commander';
import { runEmulatorCommand } from '../local/emulator/cli.js';
import { DEFAULT_DATA_DIR } from '../local/runtime.js';
import { runDev } from './commands/dev.js';
import { listJobs, showStatus, submitFile } from './commands/jobs.js';
import { type CliContext, CliError, connectLocal } from './context.js';

// The local tools run on Node 20 knowingly (Lambda runs Node 24): keep the SDK's notice out of the output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const program = new Command('vidflow')
  .description(
    'Drop a video into a bucket, get an edited video back (runway/gen4_aleph on AWS Step Functions).',
  )
  .option(
    '--data-dir <dir>',
    'where the local runtime keeps its data',
    process.env.VIDFLOW_DATA_DIR ?? DEFAULT_DATA_DIR,
  )
  .option('--debug', 'show stack traces on errors')
  .showHelpAfterError();

const dataDir = (): string => program.opts<{ dataDir: string }>().dataDir;

async function withLocal(run: (ctx: CliContext) => Promise<number>): Promise<void> {
  const ctx = await connectLocal(dataDir());
  try {
    process.exitCode = await run(ctx);
  } finally {
    ctx.close();
  }
}

const positiveInteger = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new InvalidArgumentError('expected a positive whole number');
  return number;
};

program
  .command('dev')
  .description('run the local runtime: S3, DynamoDB, Step Functions and the provider emulator on 127.0.0.1')
  .option('--random-ports', 'pick free ports instead of the fixed defaults')
  .option('--quiet', 'print only the summary, not each job event')
  .addHelpText(
    'after',
    '\nExamples:\n  $ vidflow dev\n  $ AIMLAPI_KEY=... vidflow dev   # call the real provider\n',
  )
  .action(async (options: { randomPorts?: boolean; quiet?: boolean }) => {
    const runtime = await runDev({ dataDir: dataDir(), ...options });
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
    '\nExamples:\n  $ vidflow emulator --port 4010 --time-scale 0.05\n  $ vidflow emulator --faults "get:500@0.2"\n',
  )
  .action(async (options: { port: string; timeScale?: string; faults?: string }) => {
    await runEmulatorCommand({
      port: options.port,
      dataDir: `${dataDir()}/emulator`,
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
    '\nExamples:\n  $ vidflow submit clip.mp4 --prompt "make it snow" --wait\n  $ vidflow submit clip.mp4 --key trips/day1.mp4 --prompt "night time" --frame-size 960:960 --json\n',
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
      await withLocal((ctx) =>
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
  .option('--json', 'machine-readable output')
  .addHelpText(
    'after',
    '\nExamples:\n  $ vidflow status f4jlmn3sssod446ym3em\n  $ vidflow status f4jlmn3sssod446ym3em --json\n',
  )
  .action(async (jobId: string, options: { json?: boolean }) => {
    await withLocal((ctx) => showStatus(ctx, jobId, options));
  });

program
  .command('list')
  .description('list jobs, newest first')
  .option('--status <status>', 'only jobs in this status, e.g. COMPLETED')
  .option('--since <duration>', 'how far back, e.g. 90m, 24h, 7d', '24h')
  .option('--source <key>', 'all jobs of this input key')
  .option('--limit <n>', 'at most this many', positiveInteger)
  .option('--json', 'machine-readable output')
  .addHelpText(
    'after',
    '\nExamples:\n  $ vidflow list --status COMPLETED --since 24h\n  $ vidflow list --source trips/clip.mp4 --json\n',
  )
  .action(
    async (options: { status?: string; since?: string; source?: string; limit?: number; json?: boolean }) => {
      await withLocal((ctx) => listJobs(ctx, options));
    },
  );

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (program.opts<{ debug?: boolean }>().debug) console.error(error);
  else console.error(`vidflow: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = error instanceof CliError ? error.exitCode : 1;
}
