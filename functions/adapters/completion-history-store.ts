/**
 * The polling policy's history (see functions/domain/poll-policy.ts) in the jobs table: one item
 * per history key (the frame size for the default model, `<model>@<frame size>` for another)
 * under the reserved key `#stats#<history key>` (job ids are lowercase base32, so none starts
 * with `#`; the item has none of the index keys, so no index or listing sees it):
 *
 *   { jobId: "#stats#1280:720", kind: "poll-history", historyKey, updatedAt, version,
 *     observations: { "<slot>": [afterSeconds, bySeconds, atSeconds, queuedSeconds?], ... } }
 *
 * `bySeconds` 0 means still running at `afterSeconds`; `atSeconds` (epoch) orders observations
 * by age (items written before it existed hold `[after, by]`: read as the oldest);
 * `queuedSeconds`, when present, is when a check last saw the generation queued. `version`
 * counts the writes: the policy memoises its plan on it.
 *
 * Recording writes one map entry with a single update (creating the item on first use), so
 * concurrent checks never overwrite each other's slots. Reads are eventually consistent and
 * cached per process for 5 s: jobs dropped together learn from each other within a check or two,
 * and a read (half a read unit) costs far less than the check it serves.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { InternalItemKind, JobsAttribute } from '../config/jobs-table.js';
import type {
  CompletionHistory,
  CompletionHistoryStore,
  CompletionObservation,
} from '../domain/poll-policy.js';

export const HISTORY_KEY_PREFIX = '#stats#';

/** The jobs-table key of a history key's item. */
export function historyItemKeyOf(key: string): string {
  return `${HISTORY_KEY_PREFIX}${key}`;
}

export interface DynamoCompletionHistoryStoreOptions {
  /** How long a read is reused. @default 5_000 */
  readonly cacheMs?: number;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

export class DynamoCompletionHistoryStore implements CompletionHistoryStore {
  private readonly cache = new Map<string, { readonly history: CompletionHistory; readonly at: number }>();
  private readonly cacheMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoCompletionHistoryStoreOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  async read(key: string): Promise<CompletionHistory> {
    const cached = this.cache.get(key);
    if (cached !== undefined && this.now() - cached.at < this.cacheMs) return cached.history;
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [JobsAttribute.jobId]: historyItemKeyOf(key) },
        ProjectionExpression: '#observations, #version',
        ExpressionAttributeNames: { '#observations': 'observations', '#version': 'version' },
      }),
    );
    const version = result.Item?.version;
    const history: CompletionHistory = {
      observations: parseObservations(result.Item?.observations),
      ...(typeof version === 'number' ? { version: `${this.tableName}/${key}/${version}` } : {}),
    };
    this.cache.set(key, { history, at: this.now() });
    return history;
  }

  async record(key: string, slot: number, observation: CompletionObservation): Promise<void> {
    const value = [observation.afterSeconds, observation.bySeconds ?? 0, observation.atSeconds ?? 0];
    if (observation.queuedSeconds !== undefined) value.push(observation.queuedSeconds);
    const updatedAt = new Date(this.now()).toISOString();
    try {
      await this.setSlot(key, slot, value, updatedAt);
      return;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [JobsAttribute.jobId]: historyItemKeyOf(key),
            [JobsAttribute.kind]: InternalItemKind.pollHistory,
            historyKey: key,
            updatedAt,
            version: 1,
            observations: { [String(slot)]: value },
          },
          ConditionExpression: 'attribute_not_exists(#id)',
          ExpressionAttributeNames: { '#id': JobsAttribute.jobId },
        }),
      );
    } catch (error) {
      // Another check created the item meanwhile: it exists now, so set the slot in it.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      await this.setSlot(key, slot, value, updatedAt);
    }
  }

  private async setSlot(key: string, slot: number, value: number[], updatedAt: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [JobsAttribute.jobId]: historyItemKeyOf(key) },
        UpdateExpression: 'SET #observations.#slot = :value, #updatedAt = :updatedAt ADD #version :one',
        ConditionExpression: 'attribute_exists(#observations)',
        ExpressionAttributeNames: {
          '#observations': 'observations',
          '#slot': String(slot),
          '#updatedAt': 'updatedAt',
          '#version': 'version',
        },
        ExpressionAttributeValues: { ':value': value, ':updatedAt': updatedAt, ':one': 1 },
      }),
    );
  }
}

/**
 * The stored map, keeping only well-formed `[after, by]`, `[after, by, at]` and
 * `[after, by, at, queued]` entries (`by` 0: still running at `after`; `queued` 0: never seen
 * queued), oldest first.
 */
export function parseObservations(stored: unknown): CompletionObservation[] {
  if (typeof stored !== 'object' || stored === null) return [];
  const observations: CompletionObservation[] = [];
  for (const value of Object.values(stored)) {
    if (!Array.isArray(value) || value.length < 2 || value.length > 4) continue;
    const [afterSeconds, bySeconds, atSeconds = 0, queuedSeconds = 0] = value as unknown[];
    const numbers = [afterSeconds, bySeconds, atSeconds, queuedSeconds];
    if (!numbers.every((n): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0)) continue;
    const [after, by, at, queued] = numbers as [number, number, number, number];
    if (by === 0 && after === 0) continue;
    if (by > 0 && by < after) continue;
    observations.push({
      afterSeconds: after,
      ...(by > 0 ? { bySeconds: by } : {}),
      ...(at > 0 ? { atSeconds: at } : {}),
      ...(queued > 0 && queued <= after ? { queuedSeconds: queued } : {}),
    });
  }
  return observations.sort((a, b) => (a.atSeconds ?? 0) - (b.atSeconds ?? 0));
}
