/**
 * The emulator's own routes under `/_emulator/` (no auth, not logged), for tests and the CLI: the
 * request log, the input fetches made, the credit balance, a health check. Not part of the
 * provider's API.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Generations } from './generations.js';
import { readBody, sendJson } from './http.js';
import type { EmulatorStore } from './store.js';

export interface ControlRoutesProps {
  readonly generations: Generations;
  readonly store: EmulatorStore;
}

/**
 * Answers `path` when it is a control route.
 *
 * @returns false when it is not one (nothing was answered).
 */
export async function answerControlRoute(
  props: ControlRoutesProps,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<boolean> {
  const method = request.method ?? 'GET';
  switch (path) {
    case '/_emulator/requests':
      request.resume();
      if (method === 'DELETE') {
        await props.store.clearRequests();
        response.writeHead(204).end();
      } else sendJson(response, 200, props.store.requests());
      return true;
    case '/_emulator/input-fetches':
      request.resume();
      sendJson(
        response,
        200,
        props.generations
          .list()
          .filter((generation) => generation.inputFetches !== undefined)
          .map((generation) => ({ generationId: generation.id, fetches: generation.inputFetches })),
      );
      return true;
    case '/_emulator/credits':
      await answerCredits(props.generations, request, response, method);
      return true;
    case '/_emulator/health':
      request.resume();
      sendJson(response, 200, { ok: true });
      return true;
    default:
      return false;
  }
}

/** `GET` the balance; `POST {"balance": n}` sets it (`null`: unlimited). */
async function answerCredits(
  generations: Generations,
  request: IncomingMessage,
  response: ServerResponse,
  method: string,
): Promise<void> {
  if (method === 'POST') {
    const parsed: unknown = JSON.parse((await readBody(request)).toString('utf8') || '{}');
    const balance =
      typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'balance') : undefined;
    if (balance !== null && (typeof balance !== 'number' || !Number.isFinite(balance) || balance < 0)) {
      sendJson(response, 400, {
        message: 'expected {"balance": <credits, 0 or more>} or {"balance": null}',
      });
      return;
    }
    generations.setBalance(balance ?? undefined);
  } else request.resume();
  sendJson(response, 200, { balance: generations.balance ?? null });
}
