/**
 * WebhookDelivery: terminal job events to any number of webhook endpoints, signed per Standard
 * Webhooks, each endpoint isolated from the others by managed services only.
 *
 * Rule (source `vidflow`, the five detail-types) -> `webhook-fanout` function -> SQS FIFO queue,
 * one message group per endpoint -> `webhook` function, one message per invocation.
 * - Isolation and order: SQS hands out a FIFO group's next message only once the one before is
 *   deleted, so a dead endpoint holds back its own messages (in order) and nobody else's.
 * - Retry schedule: a failed attempt hides its message for the next wait of the Standard
 *   Webhooks schedule (visibility timeout, at most 12 h), up to 8 attempts over about 27.5 h.
 * - Endpoints, the delivery log (by endpoint and time) and replayable messages live in the
 *   webhooks table, expiring by TTL; each endpoint's signing secrets in its own Secrets Manager
 *   secret under `<stack name>/webhooks/`.
 * - Alarms: an endpoint disabled (a `410`, or 5 days of failures; metric `WebhookEndpointDisabled`),
 *   and events the fan-out could not queue (its dead-letter queue).
 */
import { Arn, ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DETAIL_TYPES, EVENT_SOURCE } from '../functions/adapters/events.js';
import { METRICS_NAMESPACE } from '../functions/adapters/observability.js';
import { MESSAGES_BY_EVENT_TIME_INDEX } from '../functions/adapters/webhook-aws.js';
import { EnvName } from '../functions/config/env-names.js';
import { ENDPOINT_DISABLED_METRIC, WEBHOOK_MAX_ATTEMPTS } from '../functions/domain/webhook-endpoints.js';
import { acknowledgeNagFinding, nagResource } from './nag.js';
import { OptionalFunctionName, VidflowFunction } from './vidflow-function.js';

/**
 * Receives before a message is dead-lettered: the function deletes a message once its 8
 * attempts are spent, so only messages it cannot handle (unreadable, a store failing) get there.
 */
export const WEBHOOK_MAX_RECEIVE_COUNT = WEBHOOK_MAX_ATTEMPTS + 2;

/** Longest one delivery attempt may run: the 15 s POST timeout, the reads and writes, and slack. */
const FUNCTION_TIMEOUT = Duration.seconds(30);

export interface WebhookDeliveryProps {
  /** The bus the job events are put on. */
  readonly eventBus: IEventBus;
  /** The Powertools service name of the functions (the stack's prefix, physical-names.ts). */
  readonly serviceName: string;
  /** What happens to the table, queues and log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * The stack's `webhookUrl` and its signing secret: endpoint `ep_default`.
   * @default - no default endpoint; endpoints come from `vidflow webhooks add`
   */
  readonly defaultEndpoint?: { readonly url: string; readonly secret: ISecret };
}

export class WebhookDelivery extends Construct {
  readonly table: Table;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly fanOutDeadLetterQueue: Queue;
  readonly rule: Rule;
  readonly fanOut: VidflowFunction;
  readonly function: VidflowFunction;
  /** Where the CLI creates each endpoint's secret: `<stack name>/webhooks/`. */
  readonly secretPrefix: string;
  /** The Powertools service name: the functions' metrics dimension, which the alarm filters on. */
  private readonly serviceName: string;
  readonly endpointDisabledAlarm: Alarm;
  readonly fanOutDeadLetterAlarm: Alarm;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.secretPrefix = `${stack.stackName}/webhooks/`;
    this.serviceName = props.serviceName;

    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      // Like the jobs table: kept, and protected from deletion, unless the stack is disposable.
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy,
    });
    this.table.addLocalSecondaryIndex({
      indexName: MESSAGES_BY_EVENT_TIME_INDEX,
      sortKey: { name: 'eventTime', type: AttributeType.STRING },
    });

    ({
      deadLetterQueue: this.deadLetterQueue,
      queue: this.queue,
      fanOutDeadLetterQueue: this.fanOutDeadLetterQueue,
    } = createDeliveryQueues(this, props.removalPolicy));

    const environment = {
      [EnvName.webhooksTableName]: this.table.tableName,
      [EnvName.webhookQueueUrl]: this.queue.queueUrl,
      [EnvName.webhookSecretPrefix]: this.secretPrefix,
      ...(props.defaultEndpoint === undefined
        ? {}
        : {
            [EnvName.webhookUrl]: props.defaultEndpoint.url,
            [EnvName.webhookSecretArn]: props.defaultEndpoint.secret.secretArn,
          }),
      [EnvName.serviceName]: props.serviceName,
      [EnvName.logLevel]: 'INFO',
    };

    this.fanOut = new VidflowFunction(this, 'FanOut', {
      name: OptionalFunctionName.webhookFanOut,
      description: 'vidflow: queues each job event for every webhook endpoint that wants it',
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT,
      removalPolicy: props.removalPolicy,
      environment,
    });
    // webhook-aws.ts: endpoints (Query) and the replay archive (PutItem); then SendMessageBatch.
    // The table only: neither function reads the index (replay runs in the CLI).
    Grant.addToPrincipal({
      grantee: this.fanOut.function,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
      resourceArns: [this.table.tableArn],
    });
    this.queue.grant(this.fanOut.function, 'sqs:SendMessage');

    this.rule = new Rule(this, 'Rule', {
      description: 'vidflow: terminal job events to the webhook fan-out',
      eventBus: props.eventBus,
      eventPattern: { source: [EVENT_SOURCE], detailType: Object.values(DETAIL_TYPES) },
      targets: [
        new LambdaFunction(this.fanOut.function, {
          deadLetterQueue: this.fanOutDeadLetterQueue,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    this.function = new VidflowFunction(this, 'Webhook', {
      name: OptionalFunctionName.webhook,
      description: 'vidflow: POSTs a job event to one webhook endpoint, signed per Standard Webhooks',
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT,
      removalPolicy: props.removalPolicy,
      environment,
    });
    // Consume (ReceiveMessage, DeleteMessage, ChangeMessageVisibility: the retry delay, ...).
    this.function.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true }),
    );
    // webhook-aws.ts: endpoints (Query), a disabled endpoint and each attempt (PutItem).
    Grant.addToPrincipal({
      grantee: this.function.function,
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
      resourceArns: [this.table.tableArn],
    });
    const secretsArn = Arn.format(
      {
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${this.secretPrefix}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      },
      stack,
    );
    this.function.function.addToRolePolicy(
      new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretsArn] }),
    );
    acknowledgeNagFinding(
      this.function,
      'AwsSolutions-IAM5',
      'Endpoints are data: each one gets a secret under this prefix when it is added, after deployment.',
      `Resource::${nagResource(this, secretsArn)}`,
    );
    props.defaultEndpoint?.secret.grantRead(this.function.function);

    this.endpointDisabledAlarm = this.createEndpointDisabledAlarm();
    this.fanOutDeadLetterAlarm = this.createFanOutDeadLetterAlarm();
  }

  /** An endpoint was disabled: it answered 410, or failed for 5 days (metric from the delivery function). */
  private createEndpointDisabledAlarm(): Alarm {
    return new Alarm(this, 'EndpointDisabledAlarm', {
      metric: new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: ENDPOINT_DISABLED_METRIC,
        dimensionsMap: { service: this.serviceName },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      alarmDescription:
        'vidflow: a webhook endpoint was disabled (it answered 410, or failed for 5 days); see `vidflow webhooks list`',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /** A job event the fan-out could not queue, after EventBridge's retries. */
  private createFanOutDeadLetterAlarm(): Alarm {
    return new Alarm(this, 'FanOutDeadLetterAlarm', {
      metric: this.fanOutDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      alarmDescription: 'vidflow: a job event could not be queued for the webhook endpoints',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /** Sends this construct's alarms (and their recovery) to the topic. */
  notify(topic: ITopic): void {
    for (const alarm of [this.endpointDisabledAlarm, this.fanOutDeadLetterAlarm]) {
      alarm.addAlarmAction(new SnsAction(topic));
      alarm.addOkAction(new SnsAction(topic));
    }
  }
}

/** The FIFO delivery queue (one message group per endpoint), its dead-letter queue, and the fan-out's. */
function createDeliveryQueues(
  scope: Construct,
  removalPolicy: RemovalPolicy,
): { deadLetterQueue: Queue; queue: Queue; fanOutDeadLetterQueue: Queue } {
  const deadLetterQueue = new Queue(scope, 'DeadLetterQueue', {
    fifo: true,
    enforceSSL: true,
    encryption: QueueEncryption.SQS_MANAGED,
    retentionPeriod: Duration.days(14),
    removalPolicy: removalPolicy,
  });
  const queue = new Queue(scope, 'Queue', {
    fifo: true,
    // High-throughput FIFO: the limit and the deduplication apply per endpoint.
    fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
    deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
    enforceSSL: true,
    encryption: QueueEncryption.SQS_MANAGED,
    // Lambda requires at least the function timeout; six times it is AWS's advice for SQS sources.
    visibilityTimeout: Duration.seconds(FUNCTION_TIMEOUT.toSeconds() * 6),
    // Counts from the first send: the schedule (27.5 h) plus a backlog behind a failing head.
    retentionPeriod: Duration.days(14),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: WEBHOOK_MAX_RECEIVE_COUNT },
    removalPolicy: removalPolicy,
  });
  // EventBridge's dead-letter queue must be a standard queue.
  const fanOutDeadLetterQueue = new Queue(scope, 'FanOutDeadLetterQueue', {
    enforceSSL: true,
    encryption: QueueEncryption.SQS_MANAGED,
    retentionPeriod: Duration.days(14),
    removalPolicy: removalPolicy,
  });
  for (const queue of [deadLetterQueue, fanOutDeadLetterQueue]) {
    acknowledgeNagFinding(queue, 'AwsSolutions-SQS3', 'This is a dead-letter queue; it has none of its own.');
  }
  return { deadLetterQueue, queue, fanOutDeadLetterQueue };
}
