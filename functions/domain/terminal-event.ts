/**
 * One event per terminal state, delivered at least once: whoever ends a job publishes its
 * event and then marks the job `eventPublishedAt`. A job left terminal but unmarked (the
 * publish failed, or the process died in between) is published again by the sweeper once
 * the grace period has passed. A crash between the publish and the mark sends it twice;
 * the job id and status (and `webhook-id`) let consumers drop the copy.
 */
import { isTerminal, type Job } from './job.js';
import type { Clock, JobEvents, JobStore } from './ports.js';

export interface TerminalEventDeps {
  readonly jobs: JobStore;
  readonly events: JobEvents;
  readonly clock: Clock;
}

/** Publish the terminal event of `job` unless it already was. Returns the job as marked. */
export async function publishTerminalEventOnce(deps: TerminalEventDeps, job: Job): Promise<Job> {
  if (!isTerminal(job.status) || job.eventPublishedAt !== undefined) return job;
  await deps.events.publishTerminal(job);
  return deps.jobs.update(job.jobId, { eventPublishedAt: deps.clock.now().toISOString() }, { touch: false });
}
