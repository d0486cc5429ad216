/**
 * VidflowStack wires the pipeline: buckets (pipeline-buckets.ts), the submit trigger and its
 * dead-letter queue, the jobs table, the event bus, the five functions (pipeline-functions.ts), the
 * polling state machine; webhook delivery to any number of endpoints (webhook-delivery.ts); alarms
 * and a dashboard (monitoring.ts).
 */
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { EventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { EventType, type IBucket } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { DEFAULT_PROVIDER_BASE_URL } from '../functions/config/config.js';
import { EnvName } from '../functions/config/env-names.js';
import { JobsIndex } from '../functions/config/jobs-table.js';
import { InputCdn } from './input-cdn.js';
import { JobsTable } from './jobs-table.js';
import { PipelineMonitoring } from './monitoring.js';
import { acknowledgeNagFinding, nagManagedPolicy, nagResource } from './nag.js';
import { DEFAULT_STACK_NAME, type PhysicalNames, physicalNames } from './physical-names.js';
import { PipelineBuckets } from './pipeline-buckets.js';
import {
  type AdmissionLimits,
  admissionLimits,
  createPipelineFunctions,
  type PipelineFunctions,
} from './pipeline-functions.js';
import { PipelineSecret } from './pipeline-secret.js';
import { JobStateMachine } from './state-machine.js';
import { WebhookDelivery } from './webhook-delivery.js';

/** The construct id of the stack in the app when the `stackName` context key is absent. */
export const VIDFLOW_STACK_ID = DEFAULT_STACK_NAME;

/**
 * Every object created in the input bucket invokes submit, which classifies the key itself
 * (`functions/domain/drops.ts`): S3 filters are case-sensitive and cannot express "any case"
 * (`clip.Mp4`, `clip.mp4.Json`), so classification is the code's job, not the filter's. Objects
 * that are not drops cost one short invocation that logs why they are ignored.
 */
export interface VidflowStackProps extends StackProps {
  /**
   * Name of an existing bucket to adopt as the input bucket (notifications are added to it).
   * @default - a new versioned, encrypted, TLS-only bucket
   */
  readonly inputBucketName?: string;
  /**
   * Name of an existing bucket to adopt as the output bucket. Must differ from the input bucket.
   * @default - a new versioned, encrypted, TLS-only bucket
   */
  readonly outputBucketName?: string;
  /**
   * Overall deadline of one generation, from submission; a job past it ends `TIMED_OUT`.
   * @default Duration.minutes(30)
   */
  readonly jobTimeout?: Duration;
  /**
   * Largest input video accepted, in bytes; larger drops are rejected before any paid call.
   * @default 16 MiB
   */
  readonly maxInputBytes?: number;
  /**
   * Provider base URL.
   * @default 'https://api.aimlapi.com'
   */
  readonly providerBaseUrl?: string;
  /**
   * Complete ARN of an existing Secrets Manager secret holding the provider API key as plain text.
   * @default - a new secret `<prefix>/provider-api-key` (physical-names.ts) with a generated placeholder to replace
   */
  readonly providerSecretArn?: string;
  /**
   * Name of the EventBridge bus that receives one event per terminal job state.
   * @default - the stack's prefix (physical-names.ts): `vidflow` for the stack `Vidflow`
   */
  readonly eventBusName?: string;
  /**
   * An https URL that receives every terminal job event, POSTed and signed per Standard Webhooks:
   * webhook endpoint `ep_default` (more with `vidflow webhooks add`).
   * @default - no default endpoint
   */
  readonly webhookUrl?: string;
  /**
   * PEM public key (RSA 2048) of the key pair that signs input URLs: turns on a CloudFront
   * distribution in front of the input bucket (infra/input-cdn.ts) for inputs too big for a data URI.
   * @default - none: such inputs are sent as S3 presigned GETs, which the provider's HEAD cannot use
   */
  readonly inputCdnPublicKey?: string;
  /**
   * Complete ARN of an existing Secrets Manager secret holding the Standard Webhooks signing
   * secret (`whsec_` + base64 of 24 to 64 random bytes). Only used with `webhookUrl`.
   * @default - a new secret `<prefix>/webhook-secret` whose generated placeholder (32 base64
   * characters) already works as a key: the receiver's secret is then `whsec_` + that value
   */
  readonly webhookSecretArn?: string;
  /**
   * What happens to the buckets, table, queues, secrets and log groups when the stack is deleted.
   * `DESTROY` also empties created buckets; adopted buckets are never touched.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * An email address subscribed to the alarm topic; it must confirm the subscription.
   * @default - no subscription: subscribe to the `AlarmTopicArn` output yourself
   */
  readonly alarmEmail?: string;
  /**
   * Encrypt the created buckets with a customer-managed KMS key (rotated yearly) instead of
   * SSE-S3; the functions get exactly the key actions their S3 calls need. Adopted buckets keep
   * their own encryption.
   * @default false
   */
  readonly bucketKms?: boolean;
  /**
   * Move input videos to S3 Glacier Instant Retrieval this long after upload (they stay readable
   * at once, so `vidflow retry` still works). Created input buckets only.
   * @default - never
   */
  readonly archiveInputsAfter?: Duration;
  /**
   * Generations in flight at the provider at once; drops beyond it wait in `WAITING` and are let
   * in, oldest first, as jobs end. 0 means no cap.
   * @default 10
   */
  readonly maxInFlight?: number;
  /**
   * Credits the jobs admitted on one UTC day may use; once reserved, new drops wait in `WAITING`
   * until the next day, or until a deploy raises it.
   * @default - no budget
   */
  readonly dailyCreditBudget?: number;
  /**
   * Credits reserved per job against `dailyCreditBudget` until the provider reports its cost.
   * @default 40
   */
  readonly creditsPerJobEstimate?: number;
  /**
   * The catalog model of a drop that names none (`vidflow models` lists the catalog).
   * @default 'runway/gen4_aleph'
   */
  readonly defaultModel?: string;
  /**
   * The only catalog models a drop may use; a drop naming another ends `REJECTED`
   * (`MODEL_NOT_ALLOWED`) before anything is paid.
   * @default - every catalog model
   */
  readonly allowedModels?: readonly string[];
}

export class VidflowStack extends Stack {
  readonly inputBucket: IBucket;
  readonly outputBucket: IBucket;
  /** The buckets with their KMS key (context `bucketKms`) and access logs, and the grants on them. */
  readonly buckets: PipelineBuckets;
  readonly jobsTable: JobsTable;
  readonly jobStateMachine: JobStateMachine;
  readonly eventBus: EventBus;
  readonly deadLetterQueue: Queue;
  readonly providerSecret: ISecret;
  readonly functions: PipelineFunctions;
  /** Webhook endpoints, their queue and functions (always: endpoints are data). */
  readonly webhook: WebhookDelivery;
  readonly monitoring: PipelineMonitoring;
  /** Every physical name of this deployment, derived from the stack name (physical-names.ts). */
  readonly names: PhysicalNames;
  private readonly providerApiKey: PipelineSecret;
  private readonly removalPolicy: RemovalPolicy;

  /**
   * @throws Error when `webhookSecretArn` comes without `webhookUrl`, or the input and output
   * buckets are the same adopted bucket.
   */
  constructor(scope: Construct, id: string, props: VidflowStackProps = {}) {
    super(scope, id, {
      description: 'vidflow: drop a video into S3, get an edited video back (runway/gen4_aleph).',
      ...props,
    });
    this.names = physicalNames(this.stackName);
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const { removalPolicy } = this;
    const jobTimeout = props.jobTimeout ?? Duration.minutes(30);
    if (props.webhookSecretArn !== undefined && props.webhookUrl === undefined) {
      throw new Error('vidflow: webhookSecretArn is only used with webhookUrl');
    }

    // `inputBucketName`, `outputBucketName` and `archiveInputsAfter` pass through as they are.
    this.buckets = new PipelineBuckets(this, {
      ...props,
      bucketKms: props.bucketKms === true,
      removalPolicy,
    });
    this.inputBucket = this.buckets.inputBucket;
    this.outputBucket = this.buckets.outputBucket;
    this.jobsTable = new JobsTable(this, 'JobsTable', { removalPolicy });
    this.eventBus = new EventBus(this, 'EventBus', {
      eventBusName: props.eventBusName ?? this.names.eventBus,
    });
    this.providerApiKey = new PipelineSecret(this, 'ProviderApiKey', {
      ...(props.providerSecretArn !== undefined && { existingArn: props.providerSecretArn }),
      secretName: this.names.providerSecret,
      description: 'vidflow: the AI/ML API key, as plain text. Replace the generated placeholder.',
      noRotationReason:
        'A third-party API key: only the provider can issue a new one, so there is nothing to rotate it with.',
      removalPolicy,
    });
    this.providerSecret = this.providerApiKey.secret;
    this.deadLetterQueue = this.createSubmitDeadLetterQueue();

    const admission = admissionLimits(props);
    this.functions = createPipelineFunctions(this, {
      serviceName: this.names.service,
      jobsTableName: this.jobsTable.table.tableName,
      eventBusName: this.eventBus.eventBusName,
      inputBucketName: this.inputBucket.bucketName,
      outputBucketName: this.outputBucket.bucketName,
      providerBaseUrl: props.providerBaseUrl ?? DEFAULT_PROVIDER_BASE_URL,
      providerSecretArn: this.providerSecret.secretArn,
      jobTimeout,
      maxInputBytes: props.maxInputBytes ?? 16 * 1024 * 1024,
      admission,
      ...(props.defaultModel !== undefined && { defaultModel: props.defaultModel }),
      ...(props.allowedModels !== undefined && { allowedModels: props.allowedModels }),
      removalPolicy,
    });
    if (props.inputCdnPublicKey !== undefined) this.addInputCdn(props.inputCdnPublicKey);

    this.jobStateMachine = this.createStateMachine(jobTimeout);
    this.scheduleSweeper();
    this.triggerSubmitOnDrops();
    this.grantPermissions();

    this.webhook = this.addWebhookDelivery(props);
    this.monitoring = this.addMonitoring(props.alarmEmail);
    this.addOutputs(admission);
  }

  /** Where S3's failed asynchronous invocations of submit land, after bounded retries. */
  private createSubmitDeadLetterQueue(): Queue {
    const queue = new Queue(this, 'SubmitDeadLetterQueue', {
      enforceSSL: true,
      encryption: QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      removalPolicy: this.removalPolicy,
    });
    acknowledgeNagFinding(
      queue,
      'AwsSolutions-SQS3',
      "It is the dead-letter queue (of submit's asynchronous invocations); nothing consumes it automatically.",
    );
    return queue;
  }

  /** Submit and sweep hand the provider signed CloudFront URLs of large inputs (infra/input-cdn.ts). */
  private addInputCdn(publicKeyPem: string): void {
    const cdn = new InputCdn(this, 'InputCdn', {
      inputBucket: this.inputBucket,
      publicKeyPem,
      removalPolicy: this.removalPolicy,
    });
    for (const fn of [this.functions.submit, this.functions.sweep]) {
      for (const [name, value] of Object.entries(cdn.environment)) fn.addEnvironment(name as EnvName, value);
      cdn.grantSign(fn.function);
    }
  }

  /** The polling loop (infra/state-machine.ts); submit and sweep start its executions. */
  private createStateMachine(jobTimeout: Duration): JobStateMachine {
    const { submit, check, finalize, 'record-failure': recordFailure, sweep } = this.functions;
    const machine = new JobStateMachine(this, 'JobStateMachine', {
      checkFunction: check.function,
      finalizeFunction: finalize.function,
      recordFailureFunction: recordFailure.function,
      admitFunction: sweep.function,
      stateMachineName: this.names.stateMachine,
      jobTimeout,
      taskTimeouts: {
        check: check.timeout.plus(Duration.seconds(30)),
        finalize: finalize.timeout.plus(Duration.minutes(1)),
        recordFailure: recordFailure.timeout.plus(Duration.seconds(30)),
        admit: sweep.timeout.plus(Duration.seconds(30)),
      },
      removalPolicy: this.removalPolicy,
    });
    submit.addEnvironment(EnvName.stateMachineArn, machine.stateMachine.stateMachineArn);
    return machine;
  }

  /**
   * The state machine invokes sweep, so sweep names it without a reference (which would be a
   * dependency cycle): by its ARN, built from its fixed name; `resourceName` picks the machine
   * (`stateMachine`) or its executions (`execution`, `<name>:*`).
   */
  private stateMachineArnByName(resource: 'stateMachine' | 'execution'): string {
    const name = this.jobStateMachine.stateMachineName;
    return this.formatArn({
      service: 'states',
      resource,
      resourceName: resource === 'stateMachine' ? name : `${name}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** The sweeper's schedule: stuck jobs within a grace period (10 min), waiting jobs within a minute. */
  private scheduleSweeper(): void {
    const { sweep } = this.functions;
    sweep.addEnvironment(EnvName.stateMachineArn, this.stateMachineArnByName('stateMachine'));
    new Rule(this, 'SweepSchedule', {
      description: 'vidflow: runs the sweeper every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(sweep.function, { retryAttempts: 0 })],
    });
  }

  /** Every object created in the input bucket invokes submit (see {@link VidflowStackProps}). */
  private triggerSubmitOnDrops(): void {
    const { submit } = this.functions;
    // S3 invokes submit asynchronously: bounded retries, then the event lands in the queue.
    submit.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    this.inputBucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(submit.function));
    // CDK's own handler that configures the notifications; its role is not ours to shape.
    const notificationsHandler = this.node.children.find((child) =>
      child.node.id.startsWith('BucketNotificationsHandler'),
    );
    if (notificationsHandler !== undefined) {
      acknowledgeNagFinding(
        notificationsHandler,
        'AwsSolutions-IAM4',
        "CDK's BucketNotificationsHandler comes with this managed policy and takes no role of ours.",
        nagManagedPolicy(this, 'service-role/AWSLambdaBasicExecutionRole'),
      );
    }
  }

  /** Permissions, as narrow as each function's code needs (test/infra/least-privilege.test.ts). */
  private grantPermissions(): void {
    const { submit, check, finalize, 'record-failure': recordFailure, sweep } = this.functions;
    // Sweep submits waiting jobs: it presigns (or reads) their inputs as submit does.
    this.buckets.grantReadDrops(submit, { list: true });
    this.buckets.grantReadDrops(sweep);
    this.buckets.grantWriteResults(finalize);
    // Only submit and sweep list jobs: sweep (stuck and waiting jobs) through byStatus and unsent
    // events through byPendingEvent; submit through byStatus (jobs a preset may complete) and
    // bySource (a sidecar's jobs: two writes of the same bytes in a second are two jobs).
    this.jobsTable.grantJobStore(submit.function, { queryIndexes: [JobsIndex.byStatus, JobsIndex.bySource] });
    this.jobsTable.grantJobStore(sweep.function, {
      queryIndexes: [JobsIndex.byStatus, JobsIndex.byPendingEvent],
    });
    for (const fn of [check, finalize, recordFailure]) this.jobsTable.grantJobStore(fn.function);
    for (const fn of [submit, check, finalize, sweep]) this.providerApiKey.grantReadValue(fn);
    for (const fn of [submit, finalize, recordFailure, sweep]) this.eventBus.grantPutEventsTo(fn.function);
    this.jobStateMachine.stateMachine.grants.startExecution(submit.function);
    Grant.addToPrincipal({
      grantee: sweep,
      actions: ['states:StartExecution'],
      resourceArns: [this.stateMachineArnByName('stateMachine')],
    });
    // The sweeper asks whether a stuck job's execution still runs.
    const executionsArn = this.stateMachineArnByName('execution');
    Grant.addToPrincipal({
      grantee: sweep,
      actions: ['states:DescribeExecution'],
      resourceArns: [executionsArn],
    });
    acknowledgeNagFinding(
      sweep,
      'AwsSolutions-IAM5',
      "Executions are named after job ids; DescribeExecution is limited to this state machine's executions.",
      `Resource::${nagResource(this, executionsArn)}`,
    );
  }

  /**
   * Webhook endpoints are data (`vidflow webhooks add`): the delivery always exists; the
   * `webhookUrl` context adds endpoint `ep_default` with the stack's own secret.
   */
  private addWebhookDelivery(props: VidflowStackProps): WebhookDelivery {
    let defaultEndpoint: { url: string; secret: ISecret } | undefined;
    if (props.webhookUrl !== undefined) {
      const { secret } = new PipelineSecret(this, 'WebhookSecret', {
        ...(props.webhookSecretArn !== undefined && { existingArn: props.webhookSecretArn }),
        secretName: this.names.webhookSecret,
        description:
          'vidflow: the Standard Webhooks signing secret. The generated value works as is (the receiver uses whsec_ + it); or set your own whsec_... value.',
        noRotationReason:
          'Shared with the webhook receiver, which must change its copy at the same time: rotated by hand.',
        removalPolicy: this.removalPolicy,
      });
      defaultEndpoint = { url: props.webhookUrl, secret };
      new CfnOutput(this, 'WebhookSecretArn', { value: secret.secretArn });
    }
    const webhook = new WebhookDelivery(this, 'WebhookDelivery', {
      eventBus: this.eventBus,
      serviceName: this.names.service,
      removalPolicy: this.removalPolicy,
      ...(defaultEndpoint === undefined ? {} : { defaultEndpoint }),
    });
    new CfnOutput(this, 'WebhooksTableName', { value: webhook.table.tableName });
    new CfnOutput(this, 'WebhookQueueUrl', { value: webhook.queue.queueUrl });
    new CfnOutput(this, 'WebhookSecretPrefix', { value: webhook.secretPrefix });
    new CfnOutput(this, 'WebhookDeadLetterQueueUrl', { value: webhook.deadLetterQueue.queueUrl });
    return webhook;
  }

  /** Alarms on every function and queue to one SNS topic, which also hears webhook failures. */
  private addMonitoring(alarmEmail: string | undefined): PipelineMonitoring {
    const monitoring = new PipelineMonitoring(this, 'Monitoring', {
      stateMachine: this.jobStateMachine.stateMachine,
      submitDeadLetterQueue: this.deadLetterQueue,
      sweepLogGroup: this.functions.sweep.logGroup,
      functions: {
        ...Object.fromEntries(Object.entries(this.functions).map(([name, fn]) => [name, fn.function])),
        webhook: this.webhook.function.function,
        webhookFanOut: this.webhook.fanOut.function,
      },
      webhookDeadLetterQueue: this.webhook.deadLetterQueue,
      ...(alarmEmail !== undefined && { alarmEmail }),
      dashboardName: this.names.dashboard,
      serviceName: this.names.service,
      removalPolicy: this.removalPolicy,
    });
    this.webhook.notify(monitoring.topic);
    return monitoring;
  }

  /** What the CLI and the README's deploy guide read from the deployed stack. */
  private addOutputs(admission: AdmissionLimits): void {
    new CfnOutput(this, 'InputBucketName', { value: this.inputBucket.bucketName });
    new CfnOutput(this, 'OutputBucketName', { value: this.outputBucket.bucketName });
    new CfnOutput(this, 'JobsTableName', { value: this.jobsTable.table.tableName });
    new CfnOutput(this, 'StateMachineArn', { value: this.jobStateMachine.stateMachine.stateMachineArn });
    new CfnOutput(this, 'EventBusName', { value: this.eventBus.eventBusName });
    new CfnOutput(this, 'AdmissionLimits', {
      description: 'The in-flight cap and daily credit budget, as JSON (vidflow retry applies them too)',
      value: JSON.stringify(admission),
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    // `vidflow --stack ... retry` submits the new attempt itself and reads the provider key from here.
    new CfnOutput(this, 'ProviderSecretArn', { value: this.providerSecret.secretArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
  }
}
