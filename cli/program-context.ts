/**
 * What every command of the `vidflow` program shares: the global options, the connection to the
 * target (the local runtime, or a deployed stack with `--stack`) and the exit code. The command
 * groups (`cli/commands/*-program.ts`) add their commands through it.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { Logger } from '../functions/domain/ports.js';
import { type CliContext, CliError, connectLocal } from './context.js';

/** The options before the command name (`vidflow --stack Vidflow list`). */
export interface GlobalOptions {
  readonly dataDir: string;
  readonly stack?: string;
  readonly profile?: string;
  readonly region?: string;
  readonly debug?: boolean;
}

/** Handed to each command group: how a command reaches its target and reports its exit code. */
export interface ProgramContext {
  /** The global options as parsed (read when a command runs, not when it is added). */
  readonly globals: () => GlobalOptions;
  /**
   * Connects to the target; the caller closes the context.
   * @throws CliError when the local runtime is not running or the stack cannot be read.
   */
  readonly connect: () => Promise<CliContext>;
  /** Runs a command against the target and closes it; the command's result is the exit code. */
  readonly withTarget: (run: (ctx: CliContext) => Promise<number>) => Promise<void>;
  /**
   * Refuses `--stack` for a command that only runs locally.
   * @throws CliError (exit code 2) when `--stack` is given.
   */
  readonly localOnly: (command: string) => void;
  readonly setExitCode: (code: number) => void;
}

/** The context of `program`'s commands. */
export function createProgramContext(program: Command, setExitCode: (code: number) => void): ProgramContext {
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

  return { globals, connect, withTarget, localOnly, setExitCode };
}

/** With --debug: the use cases' log lines, as JSON on stderr. */
function stderrLogger(): Logger {
  const log =
    (level: string) =>
    (message: string, ...extra: Record<string, unknown>[]) =>
      process.stderr.write(`${JSON.stringify({ level, message, ...Object.assign({}, ...extra) })}\n`);
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/**
 * Commander's parser of a positive whole number option.
 * @throws InvalidArgumentError (commander reports it, exit code 2) for anything else.
 */
export const positiveInteger = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new InvalidArgumentError('expected a positive whole number');
  return number;
};

/** A command's "Examples:" help section, one `$ command` a line. */
export const examples = (...lines: string[]) =>
  `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`;
