/**
 * The admission counters (see `functions/domain/admission.ts`) as two kinds of items in the jobs
 * table, beside the job records (they carry no index attributes, so no index sees them):
 *
 * - `#admission#slots`: `holders`, a map from job id to when it took its in-flight slot. Taking a
 *   slot is one conditional update (`size(holders) < cap`), so concurrent submissions can never
 *   hold more than the cap; the job id as map key makes a repeated call harmless.
 * - `#admission#credits#<YYYY-MM-DD>`: `reserved` and `settled` maps from job id to credits, and
 *   `spent`, their running total. Reserving adds to `spent` only under the day's limit and only
 *   once per job; settling replaces a job's reservation by its real cost, once.
 *
 * A single item is the simplest counter that is exact without transactions; at 1,000 conditional
 * writes a second it is far below what one DynamoDB item takes, and far above any provider's cap.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { InternalItemKind, JobsAttribute } from '../config/jobs-table.js';
import type { AdmissionStore } from '../domain/ports.js';

export const SLOTS_ITEM_ID = '#admission#slots';

export function creditsItemId(day: string): string {
  return `#admission#credits#${day}`;
}

export class DynamoAdmissionStore implements AdmissionStore {
  /** Items known to exist, so each process creates each at most once. */
  private readonly created = new Set<string>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async acquireSlot(jobId: string, cap: number, at: Date): Promise<boolean> {
    await this.ensureItem(SLOTS_ITEM_ID, {
      [JobsAttribute.kind]: InternalItemKind.admissionSlots,
      holders: {},
    });
    return this.conditionally(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [JobsAttribute.jobId]: SLOTS_ITEM_ID },
        UpdateExpression: 'SET #holders.#job = if_not_exists(#holders.#job, :at)',
        ConditionExpression: 'attribute_exists(#holders.#job) OR size(#holders) < :cap',
        ExpressionAttributeNames: { '#holders': 'holders', '#job': jobId },
        ExpressionAttributeValues: { ':at': at.toISOString(), ':cap': cap },
      }),
    );
  }

  async releaseSlot(jobId: string): Promise<void> {
    await this.ensureItem(SLOTS_ITEM_ID, {
      [JobsAttribute.kind]: InternalItemKind.admissionSlots,
      holders: {},
    });
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [JobsAttribute.jobId]: SLOTS_ITEM_ID },
        UpdateExpression: 'REMOVE #holders.#job',
        ExpressionAttributeNames: { '#holders': 'holders', '#job': jobId },
      }),
    );
  }

  async slotHolders(): Promise<ReadonlyMap<string, string>> {
    const item = await this.read(SLOTS_ITEM_ID);
    const holders = item?.holders;
    if (!isRecord(holders)) return new Map();
    return new Map(
      Object.entries(holders).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
  }

  async reserveCredits(day: string, jobId: string, credits: number, limit: number): Promise<boolean> {
    const id = creditsItemId(day);
    await this.ensureItem(id, {
      [JobsAttribute.kind]: InternalItemKind.admissionCredits,
      reserved: {},
      settled: {},
      spent: 0,
    });
    const reserved = await this.conditionally(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [JobsAttribute.jobId]: id },
        UpdateExpression: 'SET #reserved.#job = :credits ADD #spent :credits',
        ConditionExpression: 'attribute_not_exists(#reserved.#job) AND #spent <= :room',
        ExpressionAttributeNames: { '#reserved': 'reserved', '#spent': 'spent', '#job': jobId },
        ExpressionAttributeValues: { ':credits': credits, ':room': limit - credits },
      }),
    );
    if (reserved) return true;
    // Refused: over the limit, or reserved by an earlier call for the same job.
    const item = await this.read(id);
    return isRecord(item?.reserved) && item.reserved[jobId] !== undefined;
  }

  async settleCredits(day: string, jobId: string, reserved: number, actual: number): Promise<void> {
    await this.conditionally(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { [JobsAttribute.jobId]: creditsItemId(day) },
        UpdateExpression: 'SET #settled.#job = :actual ADD #spent :delta',
        ConditionExpression: 'attribute_exists(#reserved.#job) AND attribute_not_exists(#settled.#job)',
        ExpressionAttributeNames: {
          '#reserved': 'reserved',
          '#settled': 'settled',
          '#spent': 'spent',
          '#job': jobId,
        },
        ExpressionAttributeValues: { ':actual': actual, ':delta': actual - reserved },
      }),
    );
  }

  async creditsSpent(day: string): Promise<number> {
    const spent = (await this.read(creditsItemId(day)))?.spent;
    return typeof spent === 'number' ? spent : 0;
  }

  /** Create an item with these empty maps unless it exists (map paths need their parent map). */
  private async ensureItem(id: string, initial: Record<string, unknown>): Promise<void> {
    if (this.created.has(id)) return;
    await this.conditionally(
      new PutCommand({
        TableName: this.tableName,
        Item: { [JobsAttribute.jobId]: id, ...initial },
        ConditionExpression: 'attribute_not_exists(#id)',
        ExpressionAttributeNames: { '#id': JobsAttribute.jobId },
      }),
    );
    this.created.add(id);
  }

  private async read(id: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { [JobsAttribute.jobId]: id }, ConsistentRead: true }),
    );
    return result.Item;
  }

  /** Send a conditional write; false when its condition failed. */
  private async conditionally(command: UpdateCommand | PutCommand): Promise<boolean> {
    try {
      await this.client.send(command as UpdateCommand);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
