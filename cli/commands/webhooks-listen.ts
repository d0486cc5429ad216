/**
 * `vidflow webhooks listen`: a local receiver for wiring a first endpoint. It verifies each
 * delivery's Standard Webhooks signature with the secret it is given (or the secret of a local
 * endpoint), answers 204 to a valid one and 401 to anything else, and prints one line (or one
 * JSON object with `--json`) per delivery. It never prints the secret.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { WebhookSecretStore } from '../../functions/adapters/webhook-attempts.js';
import { signingSecrets } from '../../functions/domain/webhook-endpoints.js';
import { CliError } from '../context.js';
import { type CliOutput, printJsonLine } from '../format.js';

/** One delivery as `listen` saw it. */
export interface ReceivedDelivery {
  readonly at: string;
  readonly webhookId: string;
  readonly eventType?: string;
  readonly jobId?: string;
  readonly verified: boolean;
  readonly status: number;
}

export interface Listener {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the receiver on 127.0.0.1 (`port` 0 picks a free one).
 * @throws CliError when the secret is not a Standard Webhooks secret.
 */
export async function startListener(
  secrets: readonly string[],
  port: number,
  onDelivery: (delivery: ReceivedDelivery) => void,
): Promise<Listener> {
  let verifiers: Webhook[];
  try {
    verifiers = secrets.map((secret) => new Webhook(secret));
  } catch (error) {
    throw new CliError('the secret must be a Standard Webhooks secret: whsec_ followed by base64', 2, {
      cause: error,
    });
  }
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      const verified = verifiers.some((verifier) => {
        try {
          verifier.verify(body, headers);
          return true;
        } catch {
          return false;
        }
      });
      const status = verified ? 204 : 401;
      response.writeHead(status).end();
      let event: { detailType?: unknown; detail?: { jobId?: unknown } } = {};
      try {
        event = JSON.parse(body) as typeof event;
      } catch {
        event = {};
      }
      onDelivery({
        at: new Date().toISOString(),
        webhookId: headers['webhook-id'],
        ...(typeof event.detailType === 'string' ? { eventType: event.detailType } : {}),
        ...(typeof event.detail?.jobId === 'string' ? { jobId: event.detail.jobId } : {}),
        verified,
        status,
      });
    });
  });
  await new Promise<void>((listening, failed) => {
    server.once('error', failed);
    server.listen(port, '127.0.0.1', listening);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () =>
      new Promise<void>((closed) => {
        server.close(() => closed());
        server.closeAllConnections();
      }),
  };
}

/** The secrets `listen` verifies with: `--secret`, else the local endpoint's current (and overlapping) ones. */
export async function listenSecrets(
  options: { secret?: string; endpoint?: string },
  store: WebhookSecretStore,
): Promise<string[]> {
  if (options.secret !== undefined) return [options.secret];
  if (options.endpoint === undefined)
    throw new CliError('listen needs --secret whsec_... or --endpoint <id>', 2);
  const secrets = await store.get(options.endpoint);
  if (secrets === undefined) throw new CliError(`no local webhook endpoint ${options.endpoint}`);
  return signingSecrets(secrets, new Date());
}

/** Runs `listen` until Ctrl-C. */
export async function listenCommand(
  out: CliOutput,
  secrets: readonly string[],
  options: { port: number; json?: boolean },
): Promise<number> {
  const listener = await startListener(secrets, options.port, (delivery) => {
    if (options.json) printJsonLine(out.stdout, delivery);
    else {
      out.stdout.write(
        `${delivery.at}  ${delivery.verified ? 'verified' : 'BAD SIGNATURE'}  ${delivery.webhookId}  ${delivery.eventType ?? '?'}  ${delivery.jobId ?? ''}\n`,
      );
    }
  });
  out.stderr.write(`listening on ${listener.url} (Ctrl-C stops)\n`);
  await new Promise<void>((stopped) => {
    process.once('SIGINT', stopped);
    process.once('SIGTERM', stopped);
  });
  await listener.close();
  return 0;
}
