/**
 * The polling policy's history (see functions/domain/poll-policy.ts) in the jobs table: one item
 * per frame size under the reserved key `#stats#<frameSize>` (job ids are lowercase base32, so
 * none starts with `#`; the item has none of the index keys, so no index or listing sees it):
 *
 *   { jobId: "#stats#1280:720", kind: "poll-history", frameSize, updatedAt,
 *     observations: { "<slot>": [afterSeconds, bySeconds], ... } }
 *
 * Recording writes one map entry with a single update (creating the item on first use), so
 * concurrent checks never overwrite each other's slots. Reads are eventually consistent and
 * cached per process for a minute: the policy needs a recent history, not the latest one.
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

/** The jobs-table key of a frame size's history item. */
export function historyKeyOf(frameSize: string): string {
  return `${HISTORY_KEY_PREFIX}${frameSize}`;
}

export interface DynamoCompletionHistoryStoreOptions {
  /** How long a read is reused. @default 60_000 */
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
    this.cacheMs = options.cacheMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  async read(frameSize: string): Promise<CompletionHistory> {
    const cached = this.cache.get(frameSize);
    if (cached !== undefined && this.now() - cached.at < this.cacheMs) return cached.history;
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [JobsAttribute.jobId]: historyKeyOf(frameSize) },
        ProjectionExpression: '#observations',
        ExpressionAttributeNames: { '#observations': 'observations' },
      }),
    );
    const history = { observations: parseObservations(result.Item?.observations) };
    this.cache.set(frameSize, { history, at: this.now() });
    return history;
  }

  async record(frameSize: string, slot: number, observation: CompletionObservation): Promise<void> {
    const value = [observation.afterSeconds, observation.bySeconds];
    const updatedAt = new Date(this.now()).toISOString();
    try {
      await this.setSlot(frameSize, slot, value, updatedAt);
      return;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [JobsAttribute.jobId]: historyKeyOf(frameSize),
            [JobsAttribute.kind]: InternalItemKind.pollHistory,
            frameSize,
            updatedAt,
            observations: { [String(slot)]: value },
          },
          ConditionExpression: 'attribute_not_exists(#id)',
          ExpressionAttributeNames: { '#id': JobsAttribute.jobId },
        }),
      );
    } catch (error) {
      // Another check created the item meanwhile: it exists now, so set the slot in it.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      await this.setSlot(frameSize, slot, value, updatedAt);
    }
  }

  private async setSlot(frameSize: string, slot: number, value: number[], updatedAt: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [JobsAttribute.jobId]: historyKeyOf(frameSize) },
        UpdateExpression: 'SET #observations.#slot = :value, #updatedAt = :updatedAt',
        ConditionExpression: 'attribute_exists(#observations)',
        ExpressionAttributeNames: {
          '#observations': 'observations',
          '#slot': String(slot),
          '#updatedAt': 'updatedAt',
        },
        ExpressionAttributeValues: { ':value': value, ':updatedAt': updatedAt },
      }),
    );
  }
}

/** The stored map, keeping only well-formed `[after, by]` pairs. */
export function parseObservations(stored: unknown): CompletionObservation[] {
  if (typeof stored !== 'object' || stored === null) return [];
  const observations: CompletionObservation[] = [];
  for (const value of Object.values(stored)) {
    if (!Array.isArray(value) || value.length !== 2) continue;
    const [afterSeconds, bySeconds] = value;
    if (typeof afterSeconds !== 'number' || typeof bySeconds !== 'number') continue;
    if (!Number.isFinite(afterSeconds) || !Number.isFinite(bySeconds) || bySeconds <= 0) continue;
    observations.push({ afterSeconds, bySeconds });
  }
  // A stable order, so an unchanged history reuses the policy's memoised plan.
  return observations.sort((a, b) => a.bySeconds - b.bySeconds || a.afterSeconds - b.afterSeconds);
}
