/**
 * The console beside a local runtime (`vidflow dev`, `npm run demo`) or
 * any other target (`vidflow console --stack`): connects the CLI's context
 * to the runtime's `endpoints.json`, serves the console, and adds its URL to that file as `console`.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CliContext, connectLocal } from '../../cli/context.js';
import { type ConsoleServer, startConsoleServer } from './server.js';

/** `vidflow dev`'s console port, so the URL survives restarts; `VIDFLOW_PORT_CONSOLE` moves it. */
export const DEFAULT_CONSOLE_PORT = 4600;
export const CONSOLE_PORT_ENV_NAME = 'VIDFLOW_PORT_CONSOLE';

/**
 * Serve the console for `ctx` on `port`, or on {@link DEFAULT_CONSOLE_PORT} (`VIDFLOW_PORT_CONSOLE`)
 * when none is given; the default port falls back to a free one when it is taken (a second
 * runtime, or `vidflow console --stack` beside `vidflow dev`, should not fail over it).
 * @throws (rejection) when an explicit port is taken.
 */
export async function serveConsole(
  ctx: CliContext,
  options: { readonly port?: number; readonly onError?: (error: unknown) => void } = {},
): Promise<ConsoleServer> {
  const fromEnv = process.env[CONSOLE_PORT_ENV_NAME];
  const explicit = options.port ?? (fromEnv === undefined || fromEnv === '' ? undefined : Number(fromEnv));
  const onError = options.onError ? { onError: options.onError } : {};
  try {
    return await startConsoleServer({ ctx, port: explicit ?? DEFAULT_CONSOLE_PORT, ...onError });
  } catch (error) {
    const busy = error instanceof Error && 'code' in error && error.code === 'EADDRINUSE';
    if (!busy || explicit !== undefined) throw error;
    return startConsoleServer({ ctx, port: 0, ...onError });
  }
}

/**
 * Serve the console for the runtime in `dataDir` (see {@link serveConsole}) and record its URL
 * in `endpoints.json`.
 * @throws (rejection) when the runtime's endpoints cannot be read, or an explicit port is taken.
 */
export async function startLocalConsole(options: {
  readonly dataDir: string;
  readonly port?: number;
  readonly onError?: (error: unknown) => void;
}): Promise<ConsoleServer> {
  const ctx = await connectLocal(options.dataDir);
  let server: ConsoleServer;
  try {
    server = await serveConsole(ctx, {
      ...(options.port === undefined ? {} : { port: options.port }),
      ...(options.onError ? { onError: options.onError } : {}),
    });
  } catch (error) {
    ctx.close();
    throw error;
  }
  const path = join(options.dataDir, 'endpoints.json');
  const endpoints = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  // Replaced atomically: tools poll this file while the runtime starts.
  const temporary = `${path}.console.tmp`;
  await writeFile(temporary, `${JSON.stringify({ ...endpoints, console: server.url }, null, 2)}\n`);
  await rename(temporary, path);
  return {
    url: server.url,
    port: server.port,
    close: async () => {
      await server.close();
      ctx.close();
    },
  };
}
