/**
 * One event per terminal state, delivered at least once: whoever ends a job publishes its
 * event and then marks the job `eventPublishedAt`. A job left terminal but unmarked (the
 * publish failed, or the process died in between) is published by the sweeper once the grace
 * period has passed, however long ago it ended (the job store keeps such jobs in a sparse index).
 * Only the sweeper does: another step meeting the job ended could race the one ending it and
 * send the event twice. A crash between the publish and the mark sends it twice;
 * the job id and status (and `webhook-id`) let consumers drop the copy.
 */
import { releaseAdmission } from './admission.js';
import { isTerminal, type Job } from './job.js';
import { measureTerminalJob } from './job-metrics.js';
import type { AdmissionStore, Clock, JobEvents, JobMetrics, JobStore } from './ports.js';

export interface TerminalEventDeps {
  readonly jobs: JobStore;
  readonly admission: AdmissionStore;
  readonly events: JobEvents;
  readonly clock: Clock;
  /** Where the ended job's figures go (counted as often as its event is sent). @default none */
  readonly metrics?: JobMetrics;
}

/**
 * Publish the terminal event of `job` unless it already was. Returns the job as marked.
 * First gives back the job's in-flight slot and settles its credits (admission.ts), so a job
 * whose event is out has released what it held.
 */
export async function publishTerminalEventOnce(deps: TerminalEventDeps, job: Job): Promise<Job> {
  if (!isTerminal(job.status) || job.eventPublishedAt !== undefined) return job;
  await releaseAdmission(deps, job);
  await deps.events.publishTerminal(job);
  deps.metrics?.record(measureTerminalJob(job));
  return deps.jobs.update(job.jobId, { eventPublishedAt: deps.clock.now().toISOString() }, { touch: false });
}
