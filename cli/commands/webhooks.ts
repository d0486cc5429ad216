/**
 * `vidflow webhooks add|list|update|disable|enable|remove|rotate-secret|attempts|replay`: the
 * webhook endpoints, their secrets and their delivery log, locally (files under
 * `<dataDir>/webhooks/`, read by the running relay) or in a stack (its webhooks table, Secrets
 * Manager and delivery queue). Secrets are printed once, by `add` and `rotate-secret`, and never logged.
 */
import { resolve } from 'node:path';
import {
  addEndpoint,
  listAttempts,
  removeEndpoint,
  replayMessages,
  rotateEndpointSecret,
  setEndpointEnabled,
  updateEndpoint,
  type WebhookAdminDeps,
  WebhookEndpointNotFoundError,
} from '../../functions/adapters/webhook-admin.js';
import type { WebhookAttemptRecord } from '../../functions/adapters/webhook-attempts.js';
import {
  FileWebhookDeliveryLog,
  FileWebhookEndpointStore,
  FileWebhookSecretStore,
  webhooksDirOf,
} from '../../functions/adapters/webhook-files.js';
import { systemClock } from '../../functions/domain/ports.js';
import {
  DEFAULT_WEBHOOK_RETENTION_MS,
  type WebhookEndpoint,
  WebhookEndpointError,
} from '../../functions/domain/webhook-endpoints.js';
import { requestReplay } from '../../local/webhook-relay.js';
import { CliError } from '../context.js';
import { type CliOutput, printJson, printTable, shortTime } from '../format.js';
import { parseDuration } from './jobs.js';

/** The local runtime's webhook stores (the runtime need not be running). */
export function localWebhookAdmin(dataDir: string): WebhookAdminDeps {
  const dir = webhooksDirOf(resolve(dataDir));
  return {
    endpoints: new FileWebhookEndpointStore(dir),
    secrets: new FileWebhookSecretStore(dir),
    log: new FileWebhookDeliveryLog(dir, DEFAULT_WEBHOOK_RETENTION_MS, systemClock),
    clock: systemClock,
    enqueueReplay: (endpointId, messages) => requestReplay(dir, { endpointId, messages }),
  };
}

/** `"Job Completed,Job Failed"` -> the list, trimmed. */
export function parseEventTypes(value: string): string[] {
  return value
    .split(',')
    .map((type) => type.trim())
    .filter((type) => type !== '');
}

/** `--since`: an ISO time, or a duration back from now (`90m`, `24h`, `7d`). */
export function parseSince(value: string, now: Date): string {
  if (/^\d+\s*[smhd]$/.test(value.trim()))
    return new Date(now.getTime() - parseDuration(value)).toISOString();
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw new CliError(`"${value}" is neither an ISO 8601 time nor a duration like 24h`, 2);
  return new Date(at).toISOString();
}

/** Runs a use case, turning its known failures into CLI errors. */
async function explained<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof WebhookEndpointNotFoundError) throw new CliError(error.message, 1, { cause: error });
    if (error instanceof WebhookEndpointError) throw new CliError(error.message, 2, { cause: error });
    throw error;
  }
}

export interface AddOptions {
  readonly events?: string;
  readonly description?: string;
  readonly sourcePrefix?: string;
  readonly model?: string;
  readonly json?: boolean;
}

export async function addCommand(
  deps: WebhookAdminDeps,
  out: CliOutput,
  url: string,
  options: AddOptions,
): Promise<number> {
  const { endpoint, secret } = await explained(() =>
    addEndpoint(deps, {
      url,
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.events === undefined ? {} : { events: parseEventTypes(options.events) }),
      filters: {
        ...(options.sourcePrefix === undefined ? {} : { sourcePrefix: options.sourcePrefix }),
        ...(options.model === undefined ? {} : { model: options.model }),
      },
    }),
  );
  if (options.json) {
    printJson(out.stdout, { id: endpoint.id, url: endpoint.url, events: endpoint.events, secret });
  } else {
    out.stdout.write(
      `added ${endpoint.id} -> ${endpoint.url} (${describeEvents(endpoint)})\n` +
        `signing secret (shown once; give it to the receiver): ${secret}\n`,
    );
  }
  return 0;
}

export async function listCommand(
  deps: WebhookAdminDeps,
  out: CliOutput,
  options: { json?: boolean },
): Promise<number> {
  const endpoints = await deps.endpoints.list();
  if (options.json) {
    printJson(out.stdout, endpoints);
    return 0;
  }
  if (endpoints.length === 0) {
    out.stderr.write('no webhook endpoints yet: add one with `vidflow webhooks add <url>`\n');
    return 0;
  }
  printTable(
    out.stdout,
    endpoints.map((endpoint) => [
      endpoint.id,
      endpoint.enabled ? 'enabled' : `disabled (${endpoint.disabledReason ?? 'manual'})`,
      describeEvents(endpoint),
      describeFilters(endpoint),
      endpoint.url,
    ]),
    ['ID', 'STATE', 'EVENTS', 'FILTERS', 'URL'],
  );
  return 0;
}

export interface UpdateOptions {
  readonly url?: string;
  readonly events?: string;
  readonly description?: string;
  /** An empty string clears the filter. */
  readonly sourcePrefix?: string;
  readonly model?: string;
  readonly json?: boolean;
}

export async function updateCommand(
  deps: WebhookAdminDeps,
  out: CliOutput,
  id: string,
  options: UpdateOptions,
): Promise<number> {
  const clearable = (value: string | undefined) =>
    value === undefined ? {} : { v: value === '' ? null : value };
  const prefix = clearable(options.sourcePrefix);
  const model = clearable(options.model);
  const endpoint = await explained(() =>
    updateEndpoint(deps, id, {
      ...(options.url === undefined ? {} : { url: options.url }),
      ...(options.description === undefined ? {} : { description: options.description }),
      ...(options.events === undefined ? {} : { events: parseEventTypes(options.events) }),
      ...('v' in prefix ? { sourcePrefix: prefix.v } : {}),
      ...('v' in model ? { model: model.v } : {}),
    }),
  );
  printEndpoint(out, endpoint, options.json, 'updated');
  return 0;
}

export async function enableCommand(
  deps: WebhookAdminDeps,
  out: CliOutput,
  id: string,
  enabled: boolean,
  options: { json?: boolean },
): Promise<number> {
  const endpoint = await explained(() => setEndpointEnabled(deps, id, enabled));
  printEndpoint(out, endpoint, options.json, enabled ? 'enabled' : 'disabled');
  return 0;
}

export async function removeCommand(
  deps: WebhookAdminDeps,
  out: CliOutput,
  id: string,
  options: { json?: boolean },
): Promise<number> {
  await explained(() => removeEndpoint(deps, id));
  if (options.json) printJson(out.stdout, { id, removed: true });
  else out.stdout.write(`removed ${id}\n`);
  return 0;
}

export async function rotateCommand(
  deps: WebhookAdminDeps,
  out: CliOutput,
  id: string,
  options: { overlap: string; json?: boolean },
): Promise<number> {
  const rotated = await explained(() => rotateEndpointSecret(deps, id, parseDuration(options.overlap)));
  if (options.json) printJson(out.stdout, rotated);
  else {
    out.stdout.write(
      `new signing secret of ${id} (shown once): ${rotated.secret}\n` +
        (rotated.previousValidUntil === undefined
          ? 'the old secret no longer signs\n'
          : `deliveries carry both signatures until ${rotated.previousValidUntil}; update the receiver before then\n`),
    );
  }
  return 0;
}

export async function attemptsCommand(
  deps: WebhookAdminDeps,
  out: CliOutput,
  id: string,
  options: { since?: string; failed?: boolean; limit?: number; json?: boolean },
): Promise<number> {
  const attempts = await explained(() =>
    listAttempts(deps, id, {
      ...(options.since === undefined ? {} : { since: parseSince(options.since, deps.clock.now()) }),
      ...(options.failed ? { failedOnly: true } : {}),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    }),
  );
  if (options.json) {
    printJson(out.stdout, attempts);
    return 0;
  }
  if (attempts.length === 0) {
    out.stderr.write(`no attempts to ${id} in that window\n`);
    return 0;
  }
  printTable(out.stdout, attempts.map(attemptRow), [
    'TIME (UTC)',
    'EVENT ID',
    'TYPE',
    'TRY',
    'OUTCOME',
    'STATUS',
    'MS',
  ]);
  return 0;
}

export async function replayCommand(
  deps: WebhookAdminDeps,
  out: CliOutput,
  id: string,
  options: { since?: string; failedOnly?: boolean; event?: string; json?: boolean },
): Promise<number> {
  if ((options.since === undefined) === (options.event === undefined)) {
    throw new CliError('replay needs --since <time> or --event <id> (one of them)', 2);
  }
  const messages = await explained(() =>
    replayMessages(deps, id, {
      ...(options.since === undefined ? {} : { since: parseSince(options.since, deps.clock.now()) }),
      ...(options.failedOnly ? { failedOnly: true } : {}),
      ...(options.event === undefined ? {} : { eventId: options.event }),
    }),
  );
  const ids = messages.map((message) => message.webhookId);
  if (options.json) printJson(out.stdout, { endpointId: id, queued: ids.length, events: ids });
  else
    out.stdout.write(
      `queued ${ids.length} event(s) for ${id}${ids.length > 0 ? `: ${ids.join(', ')}` : ''}\n`,
    );
  return 0;
}

function printEndpoint(
  out: CliOutput,
  endpoint: WebhookEndpoint,
  json: boolean | undefined,
  verb: string,
): void {
  if (json) printJson(out.stdout, endpoint);
  else
    out.stdout.write(
      `${verb} ${endpoint.id} -> ${endpoint.url} (${describeEvents(endpoint)}; ${describeFilters(endpoint)})\n`,
    );
}

function describeEvents(endpoint: WebhookEndpoint): string {
  return endpoint.events.length === 0 ? 'all events' : endpoint.events.join(', ');
}

function describeFilters(endpoint: WebhookEndpoint): string {
  const { sourcePrefix, model } = endpoint.filters;
  const parts = [
    ...(sourcePrefix === undefined ? [] : [`source ${sourcePrefix}*`]),
    ...(model === undefined ? [] : [`model ${model}`]),
  ];
  return parts.length === 0 ? 'no filters' : parts.join(', ');
}

function attemptRow(attempt: WebhookAttemptRecord): string[] {
  return [
    shortTime(attempt.at),
    attempt.webhookId,
    attempt.eventType,
    `${attempt.attempt}${attempt.replay ? ' (replay)' : ''}`,
    attempt.outcome,
    attempt.httpStatus === undefined ? (attempt.error ?? '') : String(attempt.httpStatus),
    String(attempt.latencyMs),
  ];
}
