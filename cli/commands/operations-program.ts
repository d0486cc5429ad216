/**
 * The commands an operator runs around the jobs: `doctor` (is the target ready), `models` (the
 * catalog), `console` (the web console) and `stats` (jobs, credits and turnaround over a window).
 */
import type { Command } from 'commander';
import { examples, type ProgramContext, positiveInteger } from '../program-context.js';

/** Adds `vidflow doctor`, `models`, `console` and `stats` to the program. */
export function addOperationsCommands(program: Command, cli: ProgramContext): void {
  program
    .command('doctor')
    .description(
      'check the local runtime (or --stack) before the first drop: outputs, buckets, table, provider key',
    )
    .option('--json', 'machine-readable output')
    .addHelpText('after', examples('vidflow doctor', 'vidflow --stack Vidflow doctor --json'))
    .action(async (options: { json?: boolean }) => {
      const { runDoctor } = await import('./doctor.js');
      cli.setExitCode(await runDoctor(cli.connect, process.stdout, options));
    });

  program
    .command('models')
    .description('the model catalog: each model with its fields, their rules and defaults')
    .option('--json', 'machine-readable output (an array of { id, fields: [{ name, ... }], ... })')
    .addHelpText('after', examples('vidflow models', 'vidflow models --json'))
    .action(async (options: { json?: boolean }) => {
      const { showModels } = await import('./models.js');
      cli.setExitCode(showModels(process.stdout, options));
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
      const { serveConsole } = await import('../../console/server/start-local.js');
      const ctx = await cli.connect();
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
      const { showStats } = await import('./stats.js');
      await cli.withTarget((ctx) => showStats(ctx, options));
    });
}
