/**
 * The commands that run the local stand-ins themselves: `vidflow dev` (the whole local runtime)
 * and `vidflow emulator` (the provider emulator alone). Both refuse `--stack`.
 */
import type { Command } from 'commander';
import { examples, type ProgramContext } from '../program-context.js';

/** Adds `vidflow dev` and `vidflow emulator` to the program. */
export function addRuntimeCommands(program: Command, cli: ProgramContext): void {
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
      cli.localOnly('dev');
      const { runDev } = await import('./dev.js');
      const runtime = await runDev({ dataDir: cli.globals().dataDir, ...options });
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
      cli.localOnly('emulator');
      const { runEmulatorCommand } = await import('../../local/emulator/cli.js');
      await runEmulatorCommand({
        port: options.port,
        dataDir: `${cli.globals().dataDir}/emulator`,
        ...(options.timeScale ? { timeScale: options.timeScale } : {}),
        ...(options.faults ? { faults: options.faults } : {}),
        handleSignals: true,
      });
    });
}
