/**
 * The figures of a job that reached a terminal status: what the `JobMetrics` port records
 * (CloudWatch metrics through Powertools in AWS, nothing locally). Computed here so every
 * adapter records the same names, units and values.
 */
import { type Job, JobStatus } from './job.js';

/** The metric names, namespace `vidflow` in AWS. */
export const JobMetricName = {
  /** One per job that ended `COMPLETED`. */
  jobsCompleted: 'JobsCompleted',
  /** One per job that ended `FAILED` or `TIMED_OUT`. */
  jobsFailed: 'JobsFailed',
  /** One per job that ended `REJECTED` (bad input, nothing paid). */
  jobsRejected: 'JobsRejected',
  /** From the job's creation (the drop) to its completion; completed jobs only. */
  turnaroundSeconds: 'TurnaroundSeconds',
  /** Provider status checks the job took; jobs that reached the provider only. */
  pollsPerJob: 'PollsPerJob',
  /** The provider's `meta.usage.credits_used`; jobs whose generation reported it. */
  creditsUsed: 'CreditsUsed',
} as const;

export type JobMetricName = (typeof JobMetricName)[keyof typeof JobMetricName];

export interface JobMetric {
  readonly name: JobMetricName;
  readonly unit: 'Count' | 'Seconds';
  readonly value: number;
}

const COUNTER_OF: Partial<Record<JobStatus, JobMetricName>> = {
  [JobStatus.completed]: JobMetricName.jobsCompleted,
  [JobStatus.failed]: JobMetricName.jobsFailed,
  [JobStatus.timedOut]: JobMetricName.jobsFailed,
  [JobStatus.rejected]: JobMetricName.jobsRejected,
};

/**
 * The metrics of `job` as it ended. A job not (or not yet) terminal, and a cancelled one
 * (the user's decision, not the pipeline's outcome), count in no counter but still report
 * the checks and credits they used.
 */
export function measureTerminalJob(job: Job): JobMetric[] {
  const metrics: JobMetric[] = [];
  const counter = COUNTER_OF[job.status];
  if (counter !== undefined) metrics.push({ name: counter, unit: 'Count', value: 1 });
  if (job.status === JobStatus.completed && job.completedAt !== undefined) {
    const seconds = (Date.parse(job.completedAt) - Date.parse(job.createdAt)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) {
      metrics.push({ name: JobMetricName.turnaroundSeconds, unit: 'Seconds', value: seconds });
    }
  }
  if (job.generationId !== undefined) {
    metrics.push({ name: JobMetricName.pollsPerJob, unit: 'Count', value: job.pollCount });
  }
  if (job.creditsUsed !== undefined) {
    metrics.push({ name: JobMetricName.creditsUsed, unit: 'Count', value: job.creditsUsed });
  }
  return metrics;
}
