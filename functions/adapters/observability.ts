/**
 * Powertools Tracer and Metrics for one function process: the Tracer captures the AWS SDK
 * clients (aws-clients.ts) and each invocation (a `## <function>` subsegment with the cold
 * start and service annotations); the metrics of jobs that ended in the invocation are
 * published as one CloudWatch EMF line, namespace `vidflow`, when it returns or throws.
 *
 * The local runtime turns both off through the function environment (`POWERTOOLS_TRACE_ENABLED`,
 * `POWERTOOLS_METRICS_DISABLED`): it has no X-Ray daemon, and EMF lines are for CloudWatch.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { JobMetric } from '../domain/job-metrics.js';
import type { JobMetrics } from '../domain/ports.js';

/** The CloudWatch namespace of every vidflow metric. */
export const METRICS_NAMESPACE = 'vidflow';

/** The default `service` dimension and Tracer annotation (the stack sets its own, physical-names.ts). */
export const SERVICE_NAME = 'vidflow';

/** Job metrics that are buffered during an invocation and published at its end. */
export interface PublishedJobMetrics extends JobMetrics {
  /** Write what was recorded since the last call (nothing when nothing was). */
  publish(): void;
}

/** {@link JobMetrics} over Powertools Metrics (CloudWatch embedded metric format). */
export class PowertoolsJobMetrics implements PublishedJobMetrics {
  constructor(
    readonly metrics: Metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }),
  ) {}

  record(metrics: readonly JobMetric[]): void {
    for (const metric of metrics) this.metrics.addMetric(metric.name, MetricUnit[metric.unit], metric.value);
  }

  publish(): void {
    // Powertools warns on an empty flush; most invocations (every check) end no job.
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}

const unpublishedJobMetrics: PublishedJobMetrics = { record() {}, publish() {} };

export interface Observability {
  readonly tracer: Tracer;
  readonly metrics: PublishedJobMetrics;
}

/** The Tracer and the job metrics of one process, as the configuration allows. */
export function createObservability(settings: {
  readonly tracingEnabled: boolean;
  readonly metricsEnabled: boolean;
  readonly serviceName?: string;
}): Observability {
  const serviceName = settings.serviceName ?? SERVICE_NAME;
  return {
    // Powertools also turns the Tracer off by itself outside Lambda (no AWS_EXECUTION_ENV).
    tracer: new Tracer({ serviceName, enabled: settings.tracingEnabled }),
    metrics: settings.metricsEnabled
      ? new PowertoolsJobMetrics(new Metrics({ namespace: METRICS_NAMESPACE, serviceName }))
      : unpublishedJobMetrics,
  };
}

/**
 * Wraps one handler's invocation: traced as the subsegment `## <name>` (Powertools' manual
 * instrumentation of a handler; errors added as metadata, responses not, since they may carry
 * output URLs), then the recorded metrics are published, whether it returned or threw.
 */
export function instrumentHandler<Input, Output>(
  observability: Observability,
  name: string,
  handle: (input: Input) => Promise<Output>,
): (input: Input) => Promise<Output> {
  const { tracer, metrics } = observability;
  return async (input) => {
    const segment = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
    const subsegment = segment?.addNewSubsegment(`## ${name}`);
    if (subsegment !== undefined) tracer.setSegment(subsegment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      return await handle(input);
    } catch (error) {
      if (error instanceof Error) tracer.addErrorAsMetadata(error);
      throw error;
    } finally {
      if (segment !== undefined && subsegment !== undefined) {
        subsegment.close();
        tracer.setSegment(segment);
      }
      metrics.publish();
    }
  };
}
