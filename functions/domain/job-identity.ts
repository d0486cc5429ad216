/**
 * Which job a created object belongs to (docs/architecture.md "Job identity").
 *
 * A versioned write is named by its version id. An unversioned write is named by
 * `eTag@lastModified`, the pair any client can re-derive from a HEAD, unless that id already
 * belongs to another write (the same bytes written to the key within the same second, or a copy
 * in place): then by the event's `sequencer`, which differs between writes and repeats for
 * duplicate deliveries of one write. A write keeps its id: the `eTag@lastModified` record, once
 * made, names its owner's sequencer for good, so every later delivery resolves the same way.
 */
import { deriveJobId, isOtherWrite, type Job, type JobTrigger } from './job.js';
import type { JobStore } from './ports.js';

/**
 * Another write took the id this delivery was about to create (two writes of one key and the
 * same bytes within a second, handled at the same time). Handling the delivery again picks the
 * sequencer-named id.
 */
export class IdentityTakenError extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} belongs to another write of the same object`);
    this.name = 'IdentityTakenError';
  }
}

/** The id of the job of this write, and its record when one exists. Throws what the store throws. */
export async function chooseJobId(
  jobs: Pick<JobStore, 'get'>,
  trigger: JobTrigger,
  lastModified: string | undefined,
): Promise<{ readonly jobId: string; readonly existing?: Job }> {
  const first = deriveJobId({ ...withoutSequencer(trigger), ...optional('lastModified', lastModified) });
  const existing = await jobs.get(first);
  if (existing === undefined) return { jobId: first };
  if (trigger.versionId !== undefined || !isOtherWrite(existing.trigger, trigger)) {
    return { jobId: first, existing };
  }
  const second = deriveJobId({ ...trigger, ...optional('lastModified', lastModified) });
  const found = await jobs.get(second);
  return found === undefined ? { jobId: second } : { jobId: second, existing: found };
}

/**
 * Creates the record unless it exists. Returns false when it existed for this same write (a
 * duplicate delivery got there first).
 *
 * @throws IdentityTakenError when it exists for another write (see the module comment).
 */
export async function createForWrite(jobs: Pick<JobStore, 'create' | 'get'>, job: Job): Promise<boolean> {
  if (await jobs.create(job)) return true;
  const existing = await jobs.get(job.jobId);
  if (
    existing !== undefined &&
    job.trigger.versionId === undefined &&
    isOtherWrite(existing.trigger, job.trigger)
  ) {
    throw new IdentityTakenError(job.jobId);
  }
  return false;
}

function withoutSequencer(trigger: JobTrigger): Omit<JobTrigger, 'sequencer'> {
  const { sequencer: _sequencer, ...rest } = trigger;
  return rest;
}

function optional<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: string };
}
