/**
 * The `vidflow webhooks` command group: its subcommands, options and help. Each action loads its
 * implementation lazily, like the rest of the program.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { WebhookAdminDeps } from '../../functions/adapters/webhook-admin.js';
import { CliError } from '../context.js';
import { processOutput } from '../format.js';
import { examples } from '../program-context.js';

export interface WebhooksGlobals {
  readonly dataDir: string;
  readonly stack?: string;
  readonly profile?: string;
  readonly region?: string;
}

const port = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65_535) {
    throw new InvalidArgumentError('expected a port number from 0 to 65535');
  }
  return number;
};

const positive = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('expected a positive integer');
  return number;
};

/** Adds `vidflow webhooks ...` to the program. */
export function addWebhooksCommand(
  program: Command,
  globals: () => WebhooksGlobals,
  setExitCode: (code: number) => void,
): void {
  const webhooks = program
    .command('webhooks')
    .description(
      'webhook endpoints: add, list, update, disable, enable, remove, rotate-secret, attempts, replay, listen',
    )
    .addHelpText(
      'after',
      examples(
        'vidflow webhooks add https://example.com/hooks --events "Job Completed,Job Failed" --json',
        'vidflow webhooks list',
        'vidflow webhooks attempts ep_AbC123 --since 24h --failed',
        'vidflow webhooks replay ep_AbC123 --since 2025-01-31T10:00:00Z --failed-only',
        'vidflow webhooks listen --port 8787 --secret whsec_...',
      ),
    );

  async function admin(): Promise<WebhookAdminDeps> {
    const options = globals();
    if (options.stack === undefined) {
      const { localWebhookAdmin } = await import('./webhooks.js');
      return localWebhookAdmin(options.dataDir);
    }
    const { stackWebhookAdmin } = await import('./webhooks-stack.js');
    return stackWebhookAdmin({
      stack: options.stack,
      ...(options.profile === undefined ? {} : { profile: options.profile }),
      ...(options.region === undefined ? {} : { region: options.region }),
    });
  }

  async function run(action: WebhooksAction): Promise<void> {
    const deps = await admin();
    setExitCode(await action(deps, await import('./webhooks.js')));
  }

  addEndpointCommands(webhooks, run);
  addDeliveryCommands(webhooks, run);

  webhooks
    .command('listen')
    .description('a local receiver that verifies signatures and prints each delivery')
    .option('--port <port>', 'port on 127.0.0.1 (0: any free one)', port, 8787)
    .option('--secret <whsec>', 'the signing secret to verify with')
    .option('--endpoint <id>', 'verify with the secret(s) of this local endpoint')
    .option('--json', 'one JSON object per delivery')
    .addHelpText(
      'after',
      examples(
        'vidflow webhooks listen --port 8787 --secret whsec_...',
        'vidflow webhooks listen --endpoint ep_AbC123 --json',
      ),
    )
    .action(async (options: { port: number; secret?: string; endpoint?: string; json?: boolean }) => {
      if (globals().stack !== undefined)
        throw new CliError('`vidflow webhooks listen` runs locally; drop --stack', 2);
      const { listenCommand, listenSecrets } = await import('./webhooks-listen.js');
      const deps = await admin();
      setExitCode(await listenCommand(processOutput, await listenSecrets(options, deps.secrets), options));
    });
}

/** A webhooks subcommand's work, given the admin dependencies and the loaded command module. */
type WebhooksAction = (deps: WebhookAdminDeps, commands: typeof import('./webhooks.js')) => Promise<number>;

/** `add`, `list`, `update`, `disable`, `enable`, `remove` and `rotate-secret`: the endpoints themselves. */
function addEndpointCommands(webhooks: Command, run: (action: WebhooksAction) => Promise<void>): void {
  webhooks
    .command('add <url>')
    .description('add an endpoint; prints its signing secret once')
    .option(
      '--events <types>',
      'comma-separated detail types, e.g. "Job Completed,Job Failed" (default: all)',
    )
    .option('--description <text>', 'what the endpoint is for')
    .option('--source-prefix <prefix>', 'only jobs whose input key starts with this, e.g. trips/')
    .option('--model <model>', 'only jobs of this model, e.g. runway/gen4_aleph')
    .option('--json', 'print { id, url, events, secret }')
    .addHelpText(
      'after',
      examples(
        'vidflow webhooks add https://example.com/hooks --events "Job Completed,Job Failed" --json',
        'vidflow webhooks add https://example.com/trips --source-prefix trips/ --model runway/gen4_aleph',
      ),
    )
    .action((url: string, options) => run((deps, c) => c.addCommand(deps, processOutput, url, options)));

  webhooks
    .command('list')
    .description('the endpoints, enabled or not')
    .option('--json', 'machine-readable output (an array of endpoints, without secrets)')
    .addHelpText('after', examples('vidflow webhooks list', 'vidflow webhooks list --json'))
    .action((options) => run((deps, c) => c.listCommand(deps, processOutput, options)));

  webhooks
    .command('update <endpoint>')
    .description('change an endpoint (an empty --source-prefix or --model clears that filter)')
    .option('--url <url>', 'the new URL')
    .option('--events <types>', 'comma-separated detail types')
    .option('--description <text>', 'what the endpoint is for')
    .option('--source-prefix <prefix>', 'only jobs whose input key starts with this')
    .option('--model <model>', 'only jobs of this model')
    .option('--json', 'print the endpoint')
    .addHelpText(
      'after',
      examples(
        'vidflow webhooks update ep_AbC123 --url https://example.com/new',
        'vidflow webhooks update ep_AbC123 --source-prefix ""',
      ),
    )
    .action((id: string, options) => run((deps, c) => c.updateCommand(deps, processOutput, id, options)));

  for (const [name, enabled] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    webhooks
      .command(`${name} <endpoint>`)
      .description(
        enabled ? 'send to the endpoint again (replay what it missed)' : 'stop sending to the endpoint',
      )
      .option('--json', 'print the endpoint')
      .addHelpText('after', examples(`vidflow webhooks ${name} ep_AbC123`))
      .action((id: string, options) =>
        run((deps, c) => c.enableCommand(deps, processOutput, id, enabled, options)),
      );
  }

  webhooks
    .command('remove <endpoint>')
    .description('delete the endpoint and its secret')
    .option('--json', 'print { id, removed }')
    .addHelpText('after', examples('vidflow webhooks remove ep_AbC123'))
    .action((id: string, options) => run((deps, c) => c.removeCommand(deps, processOutput, id, options)));

  webhooks
    .command('rotate-secret <endpoint>')
    .description('issue a new signing secret; both sign during the overlap')
    .option('--overlap <duration>', 'how long the old secret keeps signing, e.g. 24h, 90m, 0s', '24h')
    .option('--json', 'print { endpointId, secret, previousValidUntil }')
    .addHelpText(
      'after',
      examples(
        'vidflow webhooks rotate-secret ep_AbC123',
        'vidflow webhooks rotate-secret ep_AbC123 --overlap 2h --json',
      ),
    )
    .action((id: string, options) => run((deps, c) => c.rotateCommand(deps, processOutput, id, options)));
}

/** `attempts` and `replay`: what was delivered to an endpoint, and sending it again. */
function addDeliveryCommands(webhooks: Command, run: (action: WebhooksAction) => Promise<void>): void {
  webhooks
    .command('attempts <endpoint>')
    .description('the delivery log of an endpoint, oldest first')
    .option('--since <time>', 'an ISO time or a duration back (24h, 7d)')
    .option('--failed', 'only attempts that did not deliver')
    .option('--limit <n>', 'only the last n', positive)
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      examples(
        'vidflow webhooks attempts ep_AbC123 --since 24h',
        'vidflow webhooks attempts ep_AbC123 --failed --json',
      ),
    )
    .action((id: string, options) => run((deps, c) => c.attemptsCommand(deps, processOutput, id, options)));

  webhooks
    .command('replay <endpoint>')
    .description('send events again, with their original webhook-id')
    .option('--since <time>', 'every event at or after this time (ISO, or a duration back)')
    .option('--failed-only', 'with --since: only events never delivered')
    .option('--event <id>', 'one event, by its webhook-id')
    .option('--json', 'print { endpointId, queued, events }')
    .addHelpText(
      'after',
      examples(
        'vidflow webhooks replay ep_AbC123 --since 2025-01-31T10:00:00Z',
        'vidflow webhooks replay ep_AbC123 --since 7d --failed-only',
        'vidflow webhooks replay ep_AbC123 --event f4jlmn3sssod446ym3em-COMPLETED-1',
      ),
    )
    .action((id: string, options) => run((deps, c) => c.replayCommand(deps, processOutput, id, options)));
}
