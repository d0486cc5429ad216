/**
 * The `vidflow` command line (README "Using vidflow"). Against the local runtime by default, or a
 * deployed stack with `--stack`. Exit codes: 0 success, 1 failure (or a job that did not
 * complete, for `submit --wait` and `watch <jobId>`), 2 usage errors.
 *
 * The commands come in groups, each in `cli/commands/*-program.ts`; their modules are imported
 * when their command runs, so `vidflow status` does not load the local runtime (and the CDK)
 * that `vidflow dev` needs.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { explainAwsError } from './aws-errors.js';
import { addJobActionCommands, addJobQueryCommands } from './commands/jobs-program.js';
import { addOperationsCommands } from './commands/operations-program.js';
import { addRuntimeCommands } from './commands/runtime-program.js';
import { addWebhooksCommand } from './commands/webhooks-program.js';
import { CliError, DEFAULT_DATA_DIR } from './context.js';
import { createProgramContext, type GlobalOptions } from './program-context.js';

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

  const cli = createProgramContext(program, setExitCode);
  addRuntimeCommands(program, cli);
  addJobQueryCommands(program, cli);
  addJobActionCommands(program, cli);
  addOperationsCommands(program, cli);
  addWebhooksCommand(program, cli.globals, setExitCode);

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
