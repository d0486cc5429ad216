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
} as const;

export const JobsAttribute = {
  jobId: 'jobId',
  statusDay: 'statusDay',
  statusChangedAt: 'statusChangedAt',
  sourceId: 'sourceId',
  createdAt: 'createdAt',
  generationId: 'generationId',
} as const;
