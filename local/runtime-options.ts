/**
 * The local runtime's knobs read from the process environment: ports, the time scale, and the
 * default webhook endpoint (local/runtime.ts).
 */
import { EnvName } from '../functions/config/env-names.js';
import { WebhookEndpointError } from '../functions/domain/webhook-endpoints.js';

export const DEFAULT_TIME_SCALE = 0.05;

/** Fixed ports for `vidflow dev`, so copy-pasted commands keep working across restarts. */
export const DEFAULT_PORTS = { s3: 4569, dynamodb: 4567, stepFunctions: 4583, provider: 4010 } as const;

export type RuntimePorts = Record<keyof typeof DEFAULT_PORTS, number>;

/**
 * Environment variables that move one server off its default port (between the defaults and
 * `RuntimeOptions.ports`): for a second runtime beside a running one, or a test that must
 * restart a runtime on the same ports, as a user restarting `vidflow dev` would.
 */
export const PORT_ENV_NAMES: Readonly<Record<keyof typeof DEFAULT_PORTS, string>> = {
  s3: 'VIDFLOW_PORT_S3',
  dynamodb: 'VIDFLOW_PORT_DYNAMODB',
  stepFunctions: 'VIDFLOW_PORT_STEPFUNCTIONS',
  provider: 'VIDFLOW_PORT_PROVIDER',
};

export class PortConfigError extends Error {
  override readonly name = 'PortConfigError';
}

/** The webhook settings a runtime may be given (`RuntimeOptions.webhook`). */
export interface RuntimeWebhookOptions {
  readonly url?: string;
  readonly secret?: string;
  /** @default 1 */
  readonly timeScale?: number;
  readonly timeoutMs?: number;
  /** How often the relay looks for new events and due retries. @default 100 */
  readonly pollIntervalMs?: number;
}

/**
 * The ports of `PORT_ENV_NAMES` that are set.
 * @throws PortConfigError when one is set to something other than a port number.
 */
export function portsFromEnv(): Partial<RuntimePorts> {
  const ports: Partial<RuntimePorts> = {};
  for (const [service, name] of Object.entries(PORT_ENV_NAMES) as [keyof typeof DEFAULT_PORTS, string][]) {
    const port = portFromEnv(name);
    if (port !== undefined) ports[service] = port;
  }
  return ports;
}

/**
 * The input CDN stand-in listens beside S3: `VIDFLOW_PORT_INPUT_CDN`, else S3's port + 1 (any
 * free port when S3's is).
 * @throws PortConfigError when the variable is set to something other than a port number.
 */
export function inputCdnPort(s3Port: number): number {
  return portFromEnv('VIDFLOW_PORT_INPUT_CDN') ?? (s3Port === 0 ? 0 : s3Port + 1);
}

function portFromEnv(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new PortConfigError(`${name} must be a port number from 0 to 65535, got "${value}"`);
  }
  return port;
}

/**
 * The webhook settings of `VIDFLOW_WEBHOOK_URL`, `VIDFLOW_WEBHOOK_SECRET` and `VIDFLOW_WEBHOOK_TIME_SCALE`.
 * @throws WebhookEndpointError when only one of the URL and the secret is set.
 */
export function webhookFromEnv(): RuntimeWebhookOptions {
  const url = process.env[EnvName.webhookUrl];
  const secret = process.env[EnvName.webhookSecret];
  const timeScale = envNumber(EnvName.webhookTimeScale);
  if (!url !== !secret) {
    throw new WebhookEndpointError(`set both ${EnvName.webhookUrl} and ${EnvName.webhookSecret}, or neither`);
  }
  return { ...(url && secret ? { url, secret } : {}), ...(timeScale === undefined ? {} : { timeScale }) };
}

/** A positive number from the process environment, or undefined when unset or not one. */
export function envNumber(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  return Number.isFinite(number) && number > 0 ? number : undefined;
}
