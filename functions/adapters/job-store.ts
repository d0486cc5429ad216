/**
 * The job store over DynamoDB (lib-dynamodb marshalling). Conditional writes only: the local
 * DynamoDB has no transactions, and none are needed.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { JobsAttribute, JobsIndex, PENDING_EVENT_PARTITION } from '../config/jobs-table.js';
import { StaleTransitionError } from '../domain/errors.js';
import { fieldsRemovedBy, isTerminal, type Job, JobStatus } from '../domain/job.js';
import type { Clock, JobChanges, JobStore } from '../domain/ports.js';
import { systemClock } from '../domain/ports.js';

/** Attributes kept only for the indexes; removed when a record is read back. */
type IndexAttributes = { statusDay: string; sourceId: string; eventPending?: string };

/** Page size of a limited status query. */
const MAX_QUERY_PAGE_ITEMS = 1000;

/**
 * The status index partition of a record: `<STATUS>#<YYYY-MM-DD>`, one per status and day, so no
 * partition grows hot at millions of jobs. `WAITING` is the exception, `WAITING#queue`: the
 * waiting line is read oldest first on every admission, may span any number of days (a budget
 * holds drops until the next day, or until it is raised), and is bounded by the backlog.
 */
export function statusDayOf(status: JobStatus, at: string): string {
  return status === JobStatus.waiting ? WAITING_PARTITION : `${status}#${at.slice(0, 10)}`;
}

const WAITING_PARTITION = `${JobStatus.waiting}#queue`;

export function sourceIdOf(bucket: string, key: string): string {
  return `${bucket}/${key}`;
}

export class DynamoJobStore implements JobStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock = systemClock,
  ) {}

  async create(job: Job): Promise<boolean> {
    const item: Job & IndexAttributes = {
      ...job,
      statusDay: statusDayOf(job.status, job.statusChangedAt),
      sourceId: sourceIdOf(job.source.bucket, job.source.key),
      ...(isEventPending(job.status, job.eventPublishedAt) ? { eventPending: PENDING_EVENT_PARTITION } : {}),
    };
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#id)',
          ExpressionAttributeNames: { '#id': JobsAttribute.jobId },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async get(jobId: string): Promise<Job | undefined> {
    // Internal items share the table (`#stats#...`, `#admission#...`): they never answer as jobs.
    if (isInternalItemId(jobId)) return undefined;
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [JobsAttribute.jobId]: jobId },
        ConsistentRead: true,
      }),
    );
    return result.Item === undefined || typeof result.Item.status !== 'string'
      ? undefined
      : fromItem(result.Item);
  }

  async update(
    jobId: string,
    changes: JobChanges,
    options: Parameters<JobStore['update']>[2] = {},
  ): Promise<Job> {
    const now = this.clock.now().toISOString();
    const names: Record<string, string> = { '#id': JobsAttribute.jobId };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    if (options.touch !== false) {
      names['#updatedAt'] = 'updatedAt';
      values[':now'] = now;
      sets.push('#updatedAt = :now');
    }
    const removes: string[] = [];
    const conditions = ['attribute_exists(#id)'];

    let index = 0;
    const set = (field: string, value: unknown) => {
      index += 1;
      names[`#f${index}`] = field;
      values[`:v${index}`] = value;
      sets.push(`#f${index} = :v${index}`);
    };
    for (const [field, value] of Object.entries(changes)) {
      if (value !== undefined) set(field, value);
    }
    if (changes.status !== undefined) {
      set(JobsAttribute.statusChangedAt, now);
      set(JobsAttribute.statusDay, statusDayOf(changes.status, now));
    }
    // The pending-event index follows the record in the same write: in it from the job's end until
    // its event is marked sent, out of it when the job starts again (vidflow retry).
    if (changes.status !== undefined && isEventPending(changes.status, changes.eventPublishedAt)) {
      set(JobsAttribute.eventPending, PENDING_EVENT_PARTITION);
    } else if (changes.status !== undefined || changes.eventPublishedAt !== undefined) {
      names['#pending'] = JobsAttribute.eventPending;
      removes.push('#pending');
    }
    if (options.incrementPollCount) {
      names['#pollCount'] = 'pollCount';
      values[':one'] = 1;
      values[':zero'] = 0;
      sets.push('#pollCount = if_not_exists(#pollCount, :zero) + :one');
    }
    for (const field of fieldsRemovedBy(changes.status, options.removeFields)) {
      names[`#r_${field}`] = field;
      removes.push(`#r_${field}`);
    }
    if (options.expectStatus !== undefined) {
      names['#status'] = 'status';
      const placeholders = options.expectStatus.map((status, i) => {
        values[`:s${i}`] = status;
        return `:s${i}`;
      });
      conditions.push(`#status IN (${placeholders.join(', ')})`);
    }
    if (options.expectUnclaimed) {
      names['#claim'] = 'submissionClaim';
      names['#generationId'] = JobsAttribute.generationId;
      conditions.push('attribute_not_exists(#claim) AND attribute_not_exists(#generationId)');
    }
    if (options.expectClaimToken !== undefined) {
      names['#claim'] = 'submissionClaim';
      names['#token'] = 'token';
      values[':token'] = options.expectClaimToken;
      conditions.push('#claim.#token = :token');
    }

    const expression = [
      sets.length > 0 ? `SET ${sets.join(', ')}` : '',
      removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
    ]
      .filter((clause) => clause !== '')
      .join(' ');
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [JobsAttribute.jobId]: jobId },
          UpdateExpression: expression,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (result.Attributes === undefined)
        throw new StaleTransitionError(`job ${jobId} returned no attributes`);
      return fromItem(result.Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new StaleTransitionError(`job ${jobId} is not in a state this change may leave`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async listBySource(bucket: string, key: string): Promise<readonly Job[]> {
    const jobs: Job[] = [];
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        IndexName: JobsIndex.bySource,
        KeyConditionExpression: '#sourceId = :sourceId',
        ExpressionAttributeNames: { '#sourceId': JobsAttribute.sourceId },
        ExpressionAttributeValues: { ':sourceId': sourceIdOf(bucket, key) },
        ScanIndexForward: false,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) jobs.push(fromItem(item));
    return jobs;
  }

  async listByStatus(
    status: JobStatus,
    range: Parameters<JobStore['listByStatus']>[1],
  ): Promise<readonly Job[]> {
    const until = range.until ?? this.clock.now();
    const limit = range.limit ?? Number.POSITIVE_INFINITY;
    const oldestFirst = range.oldestFirst === true;
    const jobs: Job[] = [];
    // One partition per day (the newest day first, unless oldest first is asked for), so results
    // come out in order; `WAITING` has one partition for all days.
    const partitions =
      status === JobStatus.waiting
        ? [WAITING_PARTITION]
        : dayPartitions(status, range.since, until, oldestFirst);
    for (const partition of partitions) {
      const pages = paginateQuery(
        { client: this.client },
        {
          TableName: this.tableName,
          IndexName: JobsIndex.byStatus,
          KeyConditionExpression: '#statusDay = :statusDay AND #at BETWEEN :since AND :until',
          ExpressionAttributeNames: {
            '#statusDay': JobsAttribute.statusDay,
            '#at': JobsAttribute.statusChangedAt,
          },
          ExpressionAttributeValues: {
            ':statusDay': partition,
            ':since': range.since.toISOString(),
            ':until': until.toISOString(),
          },
          ScanIndexForward: oldestFirst,
          // A limited list reads no more than it returns, instead of a whole 1 MB page.
          ...(Number.isFinite(limit) ? { Limit: Math.min(limit - jobs.length, MAX_QUERY_PAGE_ITEMS) } : {}),
        },
      );
      for await (const page of pages) {
        for (const item of page.Items ?? []) {
          jobs.push(fromItem(item));
          if (jobs.length >= limit) return jobs;
        }
      }
    }
    return jobs;
  }

  async listPendingEvents(range: Parameters<JobStore['listPendingEvents']>[0]): Promise<readonly string[]> {
    const ids: string[] = [];
    const pages = paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        IndexName: JobsIndex.byPendingEvent,
        KeyConditionExpression: '#pending = :pending AND #at <= :until',
        ExpressionAttributeNames: {
          '#pending': JobsAttribute.eventPending,
          '#at': JobsAttribute.statusChangedAt,
        },
        ExpressionAttributeValues: {
          ':pending': PENDING_EVENT_PARTITION,
          ':until': range.until.toISOString(),
        },
        ScanIndexForward: true,
        Limit: Math.min(range.limit, MAX_QUERY_PAGE_ITEMS),
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const jobId: unknown = item[JobsAttribute.jobId];
        if (typeof jobId === 'string') ids.push(jobId);
        if (ids.length >= range.limit) return ids;
      }
    }
    return ids;
  }
}

/** Whether a record in `status` waits for its terminal event to be marked sent. */
function isEventPending(status: JobStatus, eventPublishedAt: string | undefined): boolean {
  return isTerminal(status) && eventPublishedAt === undefined;
}

/** The status index partitions of `status` over [since, until], oldest or newest day first. */
function dayPartitions(status: JobStatus, since: Date, until: Date, oldestFirst: boolean): string[] {
  const days = daysBetween(since, until);
  return (oldestFirst ? days : days.reverse()).map((day) => statusDayOf(status, day));
}

/** ISO dates (YYYY-MM-DD) of every UTC day touching [since, until], oldest first. */
export function daysBetween(since: Date, until: Date): string[] {
  const days: string[] = [];
  const cursor = new Date(Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate()));
  while (cursor.getTime() <= until.getTime()) {
    days.push(cursor.toISOString().slice(0, 10));
    cursor.setUTCDate(cursor.getUTCDate() + 1);
  }
  return days;
}

/** Ids of the table's internal items start with `#`; job ids are lower-case base32. */
export function isInternalItemId(id: string): boolean {
  return id.startsWith('#');
}

function fromItem(item: Record<string, unknown>): Job {
  const { statusDay: _statusDay, sourceId: _sourceId, eventPending: _eventPending, ...job } = item;
  return job as unknown as Job;
}
