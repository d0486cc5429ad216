/**
 * A job store in memory, for benchmarks that exercise a use case without DynamoDB (the copy
 * benchmark runs the real finalize against local S3 only).
 */
import { StaleTransitionError } from '../functions/domain/errors.js';
import { isTerminal, type Job, type JobStatus } from '../functions/domain/job.js';
import type { JobChanges, JobStore } from '../functions/domain/ports.js';

export class MemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, Job>();

  async create(job: Job): Promise<boolean> {
    if (this.jobs.has(job.jobId)) return false;
    this.jobs.set(job.jobId, job);
    return true;
  }

  async get(jobId: string): Promise<Job | undefined> {
    return this.jobs.get(jobId);
  }

  async update(
    jobId: string,
    changes: JobChanges,
    options: Parameters<JobStore['update']>[2] = {},
  ): Promise<Job> {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new StaleTransitionError(`job ${jobId} does not exist`);
    if (options.expectStatus !== undefined && !options.expectStatus.includes(job.status)) {
      throw new StaleTransitionError(`job ${jobId} is ${job.status}`);
    }
    const now = new Date().toISOString();
    const updated: Job = {
      ...job,
      ...changes,
      updatedAt: now,
      ...(changes.status === undefined ? {} : { statusChangedAt: now }),
      pollCount: job.pollCount + (options.incrementPollCount ? 1 : 0),
    };
    this.jobs.set(jobId, updated);
    return updated;
  }

  async listBySource(): Promise<readonly Job[]> {
    return [...this.jobs.values()];
  }

  async listByStatus(status: JobStatus): Promise<readonly Job[]> {
    return [...this.jobs.values()].filter((job) => job.status === status);
  }

  async listPendingEvents(range: Parameters<JobStore['listPendingEvents']>[0]): Promise<readonly string[]> {
    const until = range.until.toISOString();
    return [...this.jobs.values()]
      .filter(
        (job) => isTerminal(job.status) && job.eventPublishedAt === undefined && job.statusChangedAt <= until,
      )
      .slice(0, range.limit)
      .map((job) => job.jobId);
  }
}
