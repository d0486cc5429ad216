/**
 * AWS list prices (us-east-1, on-demand) and what one job consumes, so a policy's polls turn into
 * dollars. Provider charges, EventBridge, CloudWatch Logs and data transfer are left out.
 */

export const PRICES_USD = {
  /** Step Functions Standard: $0.025 per 1,000 state transitions. */
  stateTransition: 0.025 / 1000,
  /** Lambda: $0.20 per 1M requests. */
  lambdaRequest: 0.2 / 1_000_000,
  /** Lambda arm64: per GB-second. */
  lambdaGbSecond: 0.0000133334,
  /** DynamoDB on-demand: $0.625 per 1M write request units. */
  dynamoWriteUnit: 0.625 / 1_000_000,
  /** DynamoDB on-demand: $0.125 per 1M read request units. */
  dynamoReadUnit: 0.125 / 1_000_000,
  /** S3 Standard PUT, COPY, POST, LIST: $0.005 per 1,000. */
  s3Put: 0.005 / 1000,
  /** S3 Standard GET, HEAD and others: $0.0004 per 1,000. */
  s3Get: 0.0004 / 1000,
} as const;

/** What a unit of work consumes. */
export interface Usage {
  readonly transitions: number;
  readonly lambdaRequests: number;
  readonly lambdaGbSeconds: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  readonly s3Puts: number;
  readonly s3Gets: number;
}

/**
 * The job record is about 2 KB and sits in three GSIs with projection ALL (status, source,
 * generation id), so each update writes 2 WRU to the table and 2 to each index.
 */
const JOB_UPDATE_WRU = 2 * 4;
/** A strongly consistent read of the ~2 KB record. */
const JOB_READ_RRU = 1;

/** One check: Wait + Task + Choice, the check Lambda (256 MB, ~100 ms), a read and an update of the job. */
export const CHECK_USAGE: Usage = {
  transitions: 3,
  lambdaRequests: 1,
  lambdaGbSeconds: 0.25 * 0.1,
  writeUnits: JOB_UPDATE_WRU,
  readUnits: JOB_READ_RRU,
  s3Puts: 0,
  s3Gets: 0,
};

/**
 * Everything else a completed job costs, the same for every policy:
 * - submit (512 MB, ~0.5 s): job read, create + claim + submitted + execution ARN writes (the
 *   create and claim before the generation id exists: two indexes), HEAD, two range reads,
 *   sidecar and preset lookups, the provider's HEAD + GET of the presigned input;
 * - finalize (1024 MB, ~2 s): Task + Succeed transitions, job read, copying + completed
 *   writes, a one-part upload of the output and the record file;
 * - admission under the default in-flight cap: the slot taken and given back (one small item,
 *   1 WRU each), the admitted mark on the job, and the "Let waiting jobs in" step: a Task
 *   transition and an asynchronous sweep invocation (512 MB, ~0.1 s) that reads the waiting line
 *   (one query, 1 RRU when nothing waits).
 */
export const FIXED_USAGE: Usage = {
  transitions: 2 + 1,
  lambdaRequests: 2 + 1,
  lambdaGbSeconds: 0.5 * 0.5 + 1 * 2 + 0.5 * 0.1,
  // ... + the claim's "sending" mark right before the POST.
  writeUnits: 2 * 3 + 2 * 3 + JOB_UPDATE_WRU * 2 + JOB_UPDATE_WRU * 2 + 1 + 1 + JOB_UPDATE_WRU + 2 * 3,
  readUnits: JOB_READ_RRU * 2 + 1,
  s3Puts: 2,
  s3Gets: 7,
};

/**
 * vidflow's extra work for its history (one item per model and frame size, in no index: 300
 * slots of three numbers, about 6.5 KB, so 7 WRU a write and 1 RRU an eventually consistent
 * read): a read per check and two per job (submit reads the job and the history), counted as if
 * never cached; one write per check (what it saw: still running, or completed); and the first
 * ETA written on the record at submission.
 */
export const HISTORY_PER_CHECK: Usage = { ...zero(), readUnits: 1, writeUnits: 7 };
export const HISTORY_PER_JOB: Usage = {
  ...zero(),
  readUnits: JOB_READ_RRU + 1,
  writeUnits: JOB_UPDATE_WRU,
};

export function zero(): Usage {
  return {
    transitions: 0,
    lambdaRequests: 0,
    lambdaGbSeconds: 0,
    writeUnits: 0,
    readUnits: 0,
    s3Puts: 0,
    s3Gets: 0,
  };
}

export function addUsage(a: Usage, b: Usage, times = 1): Usage {
  return {
    transitions: a.transitions + b.transitions * times,
    lambdaRequests: a.lambdaRequests + b.lambdaRequests * times,
    lambdaGbSeconds: a.lambdaGbSeconds + b.lambdaGbSeconds * times,
    writeUnits: a.writeUnits + b.writeUnits * times,
    readUnits: a.readUnits + b.readUnits * times,
    s3Puts: a.s3Puts + b.s3Puts * times,
    s3Gets: a.s3Gets + b.s3Gets * times,
  };
}

export function costUsd(usage: Usage): number {
  return (
    usage.transitions * PRICES_USD.stateTransition +
    usage.lambdaRequests * PRICES_USD.lambdaRequest +
    usage.lambdaGbSeconds * PRICES_USD.lambdaGbSecond +
    usage.writeUnits * PRICES_USD.dynamoWriteUnit +
    usage.readUnits * PRICES_USD.dynamoReadUnit +
    usage.s3Puts * PRICES_USD.s3Put +
    usage.s3Gets * PRICES_USD.s3Get
  );
}

/** The usage of a job that made `polls` checks on average. */
export function jobUsage(polls: number, withHistory: boolean): Usage {
  let usage = addUsage(FIXED_USAGE, CHECK_USAGE, polls);
  if (withHistory) usage = addUsage(addUsage(usage, HISTORY_PER_JOB), HISTORY_PER_CHECK, polls);
  return usage;
}
