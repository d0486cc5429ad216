/**
 * The metrics of jobs that end (issue 7): which figures each terminal status records, that the
 * use cases record them through the `JobMetrics` port, and what the Powertools adapter writes
 * (one CloudWatch EMF line, namespace `vidflow`).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAwsClients } from '../../functions/adapters/aws-clients.js';
import {
  createObservability,
  instrumentHandler,
  PowertoolsJobMetrics,
} from '../../functions/adapters/observability.js';
import { decodeCaughtError } from '../../functions/adapters/step-functions-error.js';
import { loadConfig } from '../../functions/config/config.js';
import { EnvName } from '../../functions/config/env-names.js';
import { type FinalizeDeps, finalizeJob } from '../../functions/domain/finalize-job.js';
import { JobStatus } from '../../functions/domain/job.js';
import { type JobMetric, measureTerminalJob } from '../../functions/domain/job-metrics.js';
import { type JobMetrics, silentLogger } from '../../functions/domain/ports.js';
import { type RecordFailureDeps, recordFailure } from '../../functions/domain/record-failure.js';
import { handleObjectCreated } from '../../functions/domain/submit-job.js';
import { createRecordFailureHandler } from '../../functions/record-failure/handler.js';
import { rejectionOf } from '../support/assertions.js';
import {
  FakeAdmissionStore,
  FakeClock,
  FakeEvents,
  FakeJobStore,
  FakeObjectStore,
  FakeOutputFetcher,
  FakeProvider,
} from '../support/fakes.js';
import { aJob, INPUT_BUCKET, OUTPUT_BUCKET } from '../support/jobs.js';
import { minimalMp4 } from '../support/media.js';
import { createSubmitHarness } from '../support/submit-harness.js';

/** Four minutes after `aJob()`'s creation time. */
const NOW = '2025-05-01T12:04:00.000Z';
const OUTPUT_URL = 'https://cdn.example.com/out/gen-42.mp4?sig=abc';

class FakeJobMetrics implements JobMetrics {
  readonly recorded: JobMetric[][] = [];
  record(metrics: readonly JobMetric[]): void {
    this.recorded.push([...metrics]);
  }
}

describe('measureTerminalJob', () => {
  it('gives a completed job one JobsCompleted, its turnaround from creation, its polls and its credits', () => {
    const job = aJob({ status: JobStatus.completed, completedAt: NOW, pollCount: 7, creditsUsed: 12 });

    expect(measureTerminalJob(job)).toStrictEqual([
      { name: 'JobsCompleted', unit: 'Count', value: 1 },
      { name: 'TurnaroundSeconds', unit: 'Seconds', value: 240 },
      { name: 'PollsPerJob', unit: 'Count', value: 7 },
      { name: 'CreditsUsed', unit: 'Count', value: 12 },
    ]);
  });

  it.each([JobStatus.failed, JobStatus.timedOut])(
    'counts a %s job in JobsFailed, with its polls and no turnaround',
    (status) => {
      const job = aJob({ status, completedAt: NOW, pollCount: 3 });

      expect(measureTerminalJob(job)).toStrictEqual([
        { name: 'JobsFailed', unit: 'Count', value: 1 },
        { name: 'PollsPerJob', unit: 'Count', value: 3 },
      ]);
    },
  );

  it('gives a rejected job, which never reached the provider, only JobsRejected', () => {
    const { generationId: _, ...rejected } = aJob({ status: JobStatus.rejected, completedAt: NOW });

    expect(measureTerminalJob(rejected)).toStrictEqual([{ name: 'JobsRejected', unit: 'Count', value: 1 }]);
  });

  it('counts a cancelled job in no counter, but still reports the credits it used', () => {
    const job = aJob({ status: JobStatus.cancelled, completedAt: NOW, pollCount: 2, creditsUsed: 5 });

    expect(measureTerminalJob(job)).toStrictEqual([
      { name: 'PollsPerJob', unit: 'Count', value: 2 },
      { name: 'CreditsUsed', unit: 'Count', value: 5 },
    ]);
  });
});

describe('the use cases record the metrics of the jobs they end', () => {
  it('finalize records the completed job once', async () => {
    const clock = new FakeClock(NOW);
    const jobs = new FakeJobStore(clock);
    const fetcher = new FakeOutputFetcher();
    fetcher.serve(OUTPUT_URL, minimalMp4(4096));
    const seeded = aJob({ providerStatus: 'completed', pollCount: 7, creditsUsed: 12 });
    jobs.seed(seeded);
    const metrics = new FakeJobMetrics();
    const deps: FinalizeDeps = {
      jobs,
      admission: new FakeAdmissionStore(),
      objects: new FakeObjectStore(clock),
      provider: new FakeProvider(),
      fetcher,
      events: new FakeEvents(),
      metrics,
      clock,
      logger: silentLogger,
      settings: { outputBucket: OUTPUT_BUCKET },
    };

    await finalizeJob(deps, seeded.jobId, OUTPUT_URL);
    await finalizeJob(deps, seeded.jobId, OUTPUT_URL);

    expect(metrics.recorded).toStrictEqual([
      [
        { name: 'JobsCompleted', unit: 'Count', value: 1 },
        { name: 'TurnaroundSeconds', unit: 'Seconds', value: 240 },
        { name: 'PollsPerJob', unit: 'Count', value: 7 },
        { name: 'CreditsUsed', unit: 'Count', value: 12 },
      ],
    ]);
  });

  it('record-failure records the failed job', async () => {
    const clock = new FakeClock(NOW);
    const jobs = new FakeJobStore(clock);
    const seeded = aJob({ pollCount: 4 });
    jobs.seed(seeded);
    const metrics = new FakeJobMetrics();
    const deps: RecordFailureDeps = {
      jobs,
      admission: new FakeAdmissionStore(),
      events: new FakeEvents(),
      metrics,
      clock,
      logger: silentLogger,
    };

    await recordFailure(
      deps,
      seeded.jobId,
      decodeCaughtError({
        Error: 'GenerationFailedError',
        Cause: JSON.stringify({
          errorType: 'GenerationFailedError',
          errorMessage: 'GENERATION_FAILED: the provider reported the generation failed',
        }),
      }),
    );
    expect(metrics.recorded).toStrictEqual([
      [
        { name: 'JobsFailed', unit: 'Count', value: 1 },
        { name: 'PollsPerJob', unit: 'Count', value: 4 },
      ],
    ]);
  });

  it('submit records a rejected drop, before any paid call', async () => {
    const h = createSubmitHarness();
    const metrics = new FakeJobMetrics();
    h.objects.put(INPUT_BUCKET, 'clip.mp4', '', { contentType: 'video/mp4', metadata: { prompt: 'p' } });

    const job = await handleObjectCreated({ ...h.deps, metrics }, { bucket: INPUT_BUCKET, key: 'clip.mp4' });

    expect(job?.status).toBe(JobStatus.rejected);
    expect(metrics.recorded).toStrictEqual([[{ name: 'JobsRejected', unit: 'Count', value: 1 }]]);
    expect(h.provider.creates).toStrictEqual([]);
  });
});

describe('the Powertools adapter', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  /** The EMF lines Powertools writes to stdout while `run` runs. */
  async function emfLinesOf(run: () => unknown): Promise<Record<string, unknown>[]> {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await run();
    } finally {
      vi.mocked(process.stdout.write).mockRestore();
    }
    return lines.filter((line) => line.includes('"_aws"')).map((line) => JSON.parse(line));
  }

  function completedJobMetrics(): PowertoolsJobMetrics {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const adapter = new PowertoolsJobMetrics();
    adapter.record(
      measureTerminalJob(
        aJob({ status: JobStatus.completed, completedAt: NOW, pollCount: 7, creditsUsed: 12 }),
      ),
    );
    return adapter;
  }

  it('publishes a completed job as one EMF line in namespace vidflow, with exact names, units and values', async () => {
    const adapter = completedJobMetrics();

    const [line, ...more] = await emfLinesOf(() => adapter.publish());

    expect(more).toStrictEqual([]);
    expect(line).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'vidflow',
            Dimensions: [['service']],
            Metrics: [
              { Name: 'JobsCompleted', Unit: 'Count' },
              { Name: 'TurnaroundSeconds', Unit: 'Seconds' },
              { Name: 'PollsPerJob', Unit: 'Count' },
              { Name: 'CreditsUsed', Unit: 'Count' },
            ],
          },
        ],
      },
      service: 'vidflow',
      JobsCompleted: 1,
      TurnaroundSeconds: 240,
      PollsPerJob: 7,
      CreditsUsed: 12,
    });
  });

  it('publishes the metrics of an invocation that threw, and writes nothing when no job ended', async () => {
    const adapter = completedJobMetrics();
    const observability = {
      tracer: createObservability({ tracingEnabled: false, metricsEnabled: false }).tracer,
      metrics: adapter,
    };
    const failing = instrumentHandler(observability, 'finalize', async () => {
      throw new Error('boom');
    });

    const lines = await emfLinesOf(() => rejectionOf(failing(undefined)));
    const idle = await emfLinesOf(() =>
      instrumentHandler(observability, 'check', async () => 'ok')(undefined),
    );

    expect(lines.map((line) => line.JobsCompleted)).toStrictEqual([1]);
    expect(idle).toStrictEqual([]);
  });

  it('is replaced by a no-op when the configuration turns metrics off (the local runtime)', async () => {
    const observability = createObservability({ tracingEnabled: false, metricsEnabled: false });
    observability.metrics.record([{ name: 'JobsCompleted', unit: 'Count', value: 1 }]);

    expect(observability.metrics).not.toBeInstanceOf(PowertoolsJobMetrics);
    expect(await emfLinesOf(() => observability.metrics.publish())).toStrictEqual([]);
    expect(observability.tracer.isTracingEnabled()).toBe(false);
  });
});

describe('the handlers', () => {
  const dynamo = mockClient(DynamoDBDocumentClient);
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

  afterEach(() => dynamo.reset());

  it('record-failure hands its use case the job metrics and publishes them once per invocation', async () => {
    const failed = aJob({
      status: JobStatus.failed,
      pollCount: 4,
      completedAt: NOW,
      error: { code: 'GENERATION_FAILED', message: 'failed', stage: 'generation', retryable: false },
    });
    dynamo.on(GetCommand).resolves({ Item: aJob({ pollCount: 4 }) });
    dynamo.on(UpdateCommand).resolves({ Attributes: failed });
    const recorded: JobMetric[][] = [];
    let published = 0;
    const handler = createRecordFailureHandler(
      { [EnvName.jobsTable]: 'vidflow-jobs' },
      {
        logger: silentLogger,
        clients: {
          ...createAwsClients(loadConfig({ [EnvName.jobsTable]: 'vidflow-jobs', AWS_REGION: 'us-east-1' })),
          dynamo: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials })),
        },
        observability: {
          tracer: createObservability({ tracingEnabled: false, metricsEnabled: false }).tracer,
          metrics: {
            record: (metrics) => recorded.push([...metrics]),
            publish: () => {
              published += 1;
            },
          },
        },
      },
    );

    await handler({
      jobId: failed.jobId,
      error: {
        Error: 'GenerationFailedError',
        Cause: JSON.stringify({
          errorType: 'GenerationFailedError',
          errorMessage: 'GENERATION_FAILED: failed',
        }),
      },
    });

    expect(recorded).toStrictEqual([
      [
        { name: 'JobsFailed', unit: 'Count', value: 1 },
        { name: 'PollsPerJob', unit: 'Count', value: 4 },
      ],
    ]);
    expect(published).toBe(1);
  });
});
