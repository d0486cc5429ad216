/**
 * WebhookDelivery: terminal job events from the bus, POSTed to a webhook, signed per Standard
 * Webhooks, retried on the local relay's schedule (about 2 h 45 min), then dead-lettered.
 *
 * Rule (source `vidflow`, the five detail-types) -> queue -> the `webhook` function, one message
 * per invocation. The function sets each retry's delay on the message (ChangeMessageVisibility)
 * and reports it as a batch item failure; the redrive policy allows exactly one receive per
 * attempt of the schedule, so the message moves to the dead-letter queue once it is spent.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DETAIL_TYPES, EVENT_SOURCE } from '../functions/adapters/events.js';
import { DEFAULT_WEBHOOK_RETRY_DELAYS_MS } from '../functions/adapters/webhooks.js';
import { EnvName } from '../functions/config/env-names.js';
import { OptionalFunctionName, VidflowFunction } from './vidflow-function.js';

/** Attempts of the retry schedule, so receives allowed before the message is dead-lettered. */
export const WEBHOOK_MAX_RECEIVE_COUNT = DEFAULT_WEBHOOK_RETRY_DELAYS_MS.length + 1;

/** Longest one delivery attempt may run: the 15 s POST timeout, the secret read, and slack. */
const FUNCTION_TIMEOUT = Duration.seconds(30);

export interface WebhookDeliveryProps {
  /** The bus the job events are put on. */
  readonly eventBus: IEventBus;
  /** Where events are POSTed: an https URL. */
  readonly url: string;
  /** The Standard Webhooks signing secret (`whsec_` + base64). */
  readonly secret: ISecret;
  /** The Powertools service name of the function (the stack's prefix, physical-names.ts). */
  readonly serviceName: string;
  /** What happens to the queues and the log group when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

export class WebhookDelivery extends Construct {
  readonly rule: Rule;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly function: VidflowFunction;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps) {
    super(scope, id);

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      enforceSSL: true,
      encryption: QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });
    this.queue = new Queue(this, 'Queue', {
      enforceSSL: true,
      encryption: QueueEncryption.SQS_MANAGED,
      // Lambda requires at least the function timeout; six times it is AWS's advice for SQS sources.
      visibilityTimeout: Duration.seconds(FUNCTION_TIMEOUT.toSeconds() * 6),
      // Retention counts from the first send and must outlast the whole schedule (about 2 h 45 min).
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: WEBHOOK_MAX_RECEIVE_COUNT },
      removalPolicy: props.removalPolicy,
    });

    this.rule = new Rule(this, 'Rule', {
      description: 'vidflow: terminal job events to the webhook delivery queue',
      eventBus: props.eventBus,
      eventPattern: { source: [EVENT_SOURCE], detailType: Object.values(DETAIL_TYPES) },
      // Events EventBridge cannot put in the queue land in the dead-letter queue too.
      targets: [new SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue })],
    });

    this.function = new VidflowFunction(this, 'Webhook', {
      name: OptionalFunctionName.webhook,
      description: 'vidflow: POSTs a job event to the webhook, signed per Standard Webhooks',
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT,
      removalPolicy: props.removalPolicy,
      environment: {
        [EnvName.webhookUrl]: props.url,
        [EnvName.webhookSecretArn]: props.secret.secretArn,
        [EnvName.webhookQueueUrl]: this.queue.queueUrl,
        [EnvName.serviceName]: props.serviceName,
        [EnvName.logLevel]: 'INFO',
      },
    });
    // Grants consume (ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes,
    // GetQueueUrl) on this queue only; ChangeMessageVisibility is how the function sets each delay.
    this.function.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true }),
    );
    props.secret.grantRead(this.function.function);
  }
}
