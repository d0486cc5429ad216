/**
 * The jobs table's key and index names, shared by the stack (which creates them) and the
 * job store (which queries them).
 */
export const JobsTableKey = {
  partitionKey: 'jobId',
} as const;

export const JobsIndex = {
  /** Partition `statusDay` (`<STATUS>#<YYYY-MM-DD>`), sort `statusChangedAt`. */
  byStatus: 'byStatus',
  /** Partition `sourceId` (`<bucket>/<key>`), sort `createdAt`. */
  bySource: 'bySource',
  /** Partition `generationId` (sparse). */
  byGenerationId: 'byGenerationId',
  /**
   * Partition `eventPending` (sparse: only ended jobs whose terminal event is not marked sent),
   * sort `statusChangedAt`. How the sweeper finds an unsent event however long ago the job ended.
   */
  byPendingEvent: 'byPendingEvent',
} as const;

export const JobsAttribute = {
  jobId: 'jobId',
  statusDay: 'statusDay',
  statusChangedAt: 'statusChangedAt',
  sourceId: 'sourceId',
  createdAt: 'createdAt',
  generationId: 'generationId',
  /**
   * {@link PENDING_EVENT_PARTITION} while a job is ended and its terminal event not marked sent;
   * absent otherwise (the job store keeps it, docs/architecture.md "Jobs table").
   */
  eventPending: 'eventPending',
  /** On internal items only (never on a job): what the item is, one of {@link InternalItemKind}. */
  kind: 'kind',
} as const;

/**
 * The one value of `eventPending`. One partition is enough: an item stays in it only between a
 * job's end and its event's mark (milliseconds, or until the sweeper publishes it), and its writes
 * (two per ended job) stay far below a partition's 1,000 writes a second.
 */
export const PENDING_EVENT_PARTITION = 'pending';

/**
 * The jobs table also holds a few internal items beside the jobs. Their `jobId` starts with
 * {@link INTERNAL_ITEM_PREFIX} (job ids are lowercase base32, so none does) and they carry a
 * `kind` attribute, so a scan can leave them out (`attribute_not_exists(kind)`); they have none
 * of the index keys, so no index query (and so no `vidflow list`) returns them.
 */
export const InternalItemKind = {
  /** `#stats#<frameSize>`: recent generation times the polling policy learns from. */
  pollHistory: 'poll-history',
  /** `#admission#slots`: the jobs holding an in-flight slot. */
  admissionSlots: 'admission-slots',
  /** `#admission#credits#<YYYY-MM-DD>`: the credits reserved and spent on one UTC day. */
  admissionCredits: 'admission-credits',
} as const;

export type InternalItemKind = (typeof InternalItemKind)[keyof typeof InternalItemKind];

/** The first character of every internal item's key. */
export const INTERNAL_ITEM_PREFIX = '#';

/** Whether a jobs-table key names an internal item rather than a job. */
export function isInternalItemKey(jobId: string): boolean {
  return jobId.startsWith(INTERNAL_ITEM_PREFIX);
}
