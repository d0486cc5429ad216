/**
 * PipelineMonitoring: what an on-call engineer watches. CloudWatch alarms (failed and timed-out
 * executions, a non-empty dead-letter queue, function errors) notify an SNS topic, optionally
 * subscribed by email; a `vidflow` dashboard shows the pipeline at a glance.
 *
 * The topic is encrypted with a customer-managed KMS key rather than the AWS-managed `aws/sns`
 * key: CloudWatch cannot publish to a topic under `aws/sns` (its key policy cannot be changed to
 * let CloudWatch use it), so the alarms would fire into nothing.
 */
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  type Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, type ILogGroup, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** Namespace of vidflow's own metrics. */
export const METRIC_NAMESPACE = 'vidflow';

/** The sweep function's log message when it resolved stuck jobs (functions/domain/sweep-jobs.ts). */
export const STUCK_JOBS_LOG_MESSAGE = 'sweeper resolved stuck jobs';

/** The window every alarm evaluates: one period of five minutes. */
export const ALARM_PERIOD = Duration.minutes(5);

/** Counts summed over the alarm period (executions, errors, resolved stuck jobs). */
const SUM = { period: ALARM_PERIOD, statistic: 'Sum' } as const;
/** Queue depths: the largest in the alarm period. */
const DEPTH = { period: ALARM_PERIOD, statistic: 'Maximum' } as const;

export interface PipelineMonitoringProps {
  /** The job state machine. */
  readonly stateMachine: IStateMachine;
  /** Where submit's failed asynchronous invocations land. */
  readonly submitDeadLetterQueue: IQueue;
  /** The pipeline's functions, by name (e.g. `submit`); each gets an Errors alarm and dashboard lines. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The webhook delivery's dead-letter queue, when webhook delivery is configured. */
  readonly webhookDeadLetterQueue?: IQueue;
  /**
   * The sweep function's log group: its "sweeper resolved stuck jobs" lines become the
   * `vidflow/StuckJobsResolved` metric, and its alarm.
   */
  readonly sweepLogGroup: ILogGroup;
  /** Subscribed to the alarm topic by email (the address must confirm the subscription). */
  readonly alarmEmail?: string;
  /** The CloudWatch dashboard's name (physical-names.ts). */
  readonly dashboardName: string;
  /**
   * The `service` dimension of this deployment's metrics (physical-names.ts): the stuck-jobs
   * metric carries it, so two stacks in one account and region do not set off each other's alarm.
   */
  readonly serviceName: string;
  /** What happens to the topic's KMS key when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

export class PipelineMonitoring extends Construct {
  readonly topic: Topic;
  readonly topicKey: Key;
  readonly dashboard: Dashboard;
  /** Every alarm, by construct id (e.g. `ExecutionsFailedAlarm`, `submitErrorsAlarm`). */
  readonly alarms: Readonly<Record<string, Alarm>>;

  constructor(scope: Construct, id: string, props: PipelineMonitoringProps) {
    super(scope, id);
    this.topicKey = new Key(this, 'AlarmTopicKey', {
      description: 'vidflow: encrypts the alarm topic; CloudWatch may use it to publish alarms',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    this.topic = this.createTopic(props.alarmEmail);
    this.alarms = this.createAlarms(props);
    this.dashboard = this.createDashboard(props);
  }

  /** The alarm topic, under a key and a policy that let this account's alarms publish to it. */
  private createTopic(alarmEmail: string | undefined): Topic {
    const stack = Stack.of(this);
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    this.topicKey.grant(cloudWatch, 'kms:Decrypt', 'kms:GenerateDataKey*');

    const topic = new Topic(this, 'AlarmTopic', {
      displayName: 'vidflow alarms',
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    // The topic policy replaces SNS's default one: let this account's alarms publish explicitly.
    topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarms',
        effect: Effect.ALLOW,
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
          },
        },
      }),
    );
    if (alarmEmail !== undefined) {
      topic.addSubscription(new EmailSubscription(alarmEmail));
    }
    return topic;
  }

  /** One alarm per failure a user should hear of, each notifying the topic when it fires and clears. */
  private createAlarms(props: PipelineMonitoringProps): Record<string, Alarm> {
    const machine = props.stateMachine;
    const alarms: Record<string, Alarm> = {};
    const alarm = (alarmId: string, metric: Metric, description: string): void => {
      const created = new Alarm(this, alarmId, {
        metric,
        alarmDescription: `vidflow: ${description}`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(new SnsAction(this.topic));
      created.addOkAction(new SnsAction(this.topic));
      alarms[alarmId] = created;
    };

    alarm('ExecutionsFailedAlarm', machine.metricFailed(SUM), 'a job execution failed in the last 5 minutes');
    alarm(
      'ExecutionsTimedOutAlarm',
      machine.metricTimedOut(SUM),
      'a job execution hit the state machine timeout (a stuck job) in the last 5 minutes',
    );
    alarm(
      'SubmitDeadLetterQueueAlarm',
      props.submitDeadLetterQueue.metricApproximateNumberOfMessagesVisible(DEPTH),
      'an input-bucket drop could not be submitted and sits in the submit dead-letter queue',
    );
    // Jobs the sweeper had to resolve: each one was stuck (a crash, a lost POST answer, an
    // execution that ended without ending its job) for at least its grace period.
    const stuckJobs = new MetricFilter(this, 'StuckJobsFilter', {
      logGroup: props.sweepLogGroup,
      filterPattern: FilterPattern.stringValue('$.message', '=', STUCK_JOBS_LOG_MESSAGE),
      metricNamespace: METRIC_NAMESPACE,
      metricName: 'StuckJobsResolved',
      metricValue: '$.resolved',
      // Powertools logs carry `service`; as a dimension it keeps each deployment's count apart.
      dimensions: { service: '$.service' },
    }).metric({ ...SUM, dimensionsMap: { service: props.serviceName } });
    alarm('StuckJobsAlarm', stuckJobs, 'the sweeper resolved a stuck job in the last 5 minutes');
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}ErrorsAlarm`, fn.metricErrors(SUM), `the ${name} function failed in the last 5 minutes`);
    }
    if (props.webhookDeadLetterQueue !== undefined) {
      alarm(
        'WebhookDeadLetterQueueAlarm',
        props.webhookDeadLetterQueue.metricApproximateNumberOfMessagesVisible(DEPTH),
        'a job event could not be delivered to the webhook and sits in its dead-letter queue',
      );
    }
    return alarms;
  }

  /** The pipeline at a glance: executions, dead-letter depth, function errors and p99 duration. */
  private createDashboard(props: PipelineMonitoringProps): Dashboard {
    const machine = props.stateMachine;
    const functions = Object.entries(props.functions);
    const deadLetterDepth: IMetric[] = [
      props.submitDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ ...DEPTH, label: 'submit' }),
    ];
    if (props.webhookDeadLetterQueue !== undefined) {
      deadLetterDepth.push(
        props.webhookDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ ...DEPTH, label: 'webhook' }),
      );
    }
    return new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      widgets: [
        [
          new GraphWidget({
            title: 'Job executions',
            width: 12,
            left: [
              machine.metricStarted({ ...SUM, label: 'started' }),
              machine.metricSucceeded({ ...SUM, label: 'succeeded' }),
              machine.metricFailed({ ...SUM, label: 'failed' }),
              machine.metricTimedOut({ ...SUM, label: 'timed out' }),
            ],
          }),
          new GraphWidget({ title: 'Dead-letter queue depth', width: 12, left: deadLetterDepth }),
        ],
        [
          new GraphWidget({
            title: 'Function errors',
            width: 12,
            left: functions.map(([name, fn]) => fn.metricErrors({ ...SUM, label: name })),
          }),
          new GraphWidget({
            title: 'Function duration (p99)',
            width: 12,
            left: functions.map(([name, fn]) =>
              fn.metricDuration({ period: ALARM_PERIOD, statistic: 'p99', label: name }),
            ),
          }),
        ],
      ],
    });
  }
}
