/**
 * VidflowStack: buckets, the submit trigger and its dead-letter queue, the jobs table, the
 * event bus, the four functions and the polling state machine; the webhook delivery to any
 * number of endpoints (`infra/webhook-delivery.ts`; a `webhookUrl` adds the first); alarms to an
 * SNS topic and a CloudWatch dashboard.
 */
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { EventBus, Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  BucketGrants,
  EventType,
  type IBucket,
  type LifecycleRule,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { EnvName } from '../functions/config/env-names.js';
import { JobsIndex } from '../functions/config/jobs-table.js';
import { InputCdn } from './input-cdn.js';
import { JobsTable } from './jobs-table.js';
import { PipelineMonitoring } from './monitoring.js';
import { acknowledgeNagFinding, nagManagedPolicy, nagResource } from './nag.js';
import { DEFAULT_STACK_NAME, type PhysicalNames, physicalNames } from './physical-names.js';
import { JobStateMachine } from './state-machine.js';
import { type FunctionEnvironment, VidflowFunction, VidflowFunctionName } from './vidflow-function.js';
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
  readonly jobsTable: JobsTable;
  readonly jobStateMachine: JobStateMachine;
  readonly eventBus: EventBus;
  readonly deadLetterQueue: Queue;
  readonly providerSecret: ISecret;
  readonly functions: Readonly<Record<VidflowFunctionName, VidflowFunction>>;
  /** Webhook endpoints, their queue and functions (always: endpoints are data). */
  readonly webhook: WebhookDelivery;
  readonly monitoring: PipelineMonitoring;
  /** The created buckets' KMS key, with context `bucketKms`. */
  readonly bucketKey?: Key;
  /** Every physical name of this deployment, derived from the stack name (physical-names.ts). */
  readonly names: PhysicalNames;
  /** Server access logs of the created buckets; absent when both buckets are adopted. */
  private accessLogsBucket?: Bucket;

  constructor(scope: Construct, id: string, props: VidflowStackProps = {}) {
    super(scope, id, {
      description: 'vidflow: drop a video into S3, get an edited video back (runway/gen4_aleph).',
      ...props,
    });
    const names = physicalNames(this.stackName);
    this.names = names;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const jobTimeout = props.jobTimeout ?? Duration.minutes(30);
    const maxInputBytes = props.maxInputBytes ?? 16 * 1024 * 1024;
    const providerBaseUrl = props.providerBaseUrl ?? 'https://api.aimlapi.com';

    if (props.webhookSecretArn !== undefined && props.webhookUrl === undefined) {
      throw new Error('vidflow: webhookSecretArn is only used with webhookUrl');
    }
    if (props.inputBucketName !== undefined && props.inputBucketName === props.outputBucketName) {
      // Outputs are videos too: writing them into the input bucket would trigger submit again, forever.
      throw new Error('vidflow: the input and output buckets must differ');
    }

    this.bucketKey =
      props.bucketKms === true
        ? new Key(this, 'BucketKey', {
            description: 'vidflow: encrypts the input and output buckets',
            enableKeyRotation: true,
            removalPolicy,
          })
        : undefined;
    this.inputBucket = this.adoptOrCreateBucket('InputBucket', props.inputBucketName, removalPolicy, [
      ...(props.archiveInputsAfter === undefined
        ? []
        : [
            {
              id: 'archive-inputs',
              transitions: [
                {
                  storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL,
                  transitionAfter: props.archiveInputsAfter,
                },
              ],
            },
          ]),
    ]);
    this.outputBucket = this.adoptOrCreateBucket('OutputBucket', props.outputBucketName, removalPolicy);
    this.jobsTable = new JobsTable(this, 'JobsTable', { removalPolicy });
    const table = this.jobsTable.table;

    this.eventBus = new EventBus(this, 'EventBus', { eventBusName: props.eventBusName ?? names.eventBus });

    this.providerSecret =
      props.providerSecretArn !== undefined
        ? Secret.fromSecretCompleteArn(this, 'ProviderApiKey', props.providerSecretArn)
        : new Secret(this, 'ProviderApiKey', {
            secretName: names.providerSecret,
            description: 'vidflow: the AI/ML API key, as plain text. Replace the generated placeholder.',
            generateSecretString: { passwordLength: 32, excludePunctuation: true },
            removalPolicy,
          });
    if (this.providerSecret instanceof Secret) {
      acknowledgeNagFinding(
        this.providerSecret,
        'AwsSolutions-SMG4',
        'A third-party API key: only the provider can issue a new one, so there is nothing to rotate it with.',
      );
    }

    this.deadLetterQueue = new Queue(this, 'SubmitDeadLetterQueue', {
      enforceSSL: true,
      encryption: QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
      removalPolicy,
    });
    acknowledgeNagFinding(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      "It is the dead-letter queue (of submit's asynchronous invocations); nothing consumes it automatically.",
    );

    const common: FunctionEnvironment = {
      [EnvName.jobsTable]: table.tableName,
      [EnvName.serviceName]: names.service,
      [EnvName.logLevel]: 'INFO',
    };
    const provider: FunctionEnvironment = {
      [EnvName.providerBaseUrl]: providerBaseUrl,
      [EnvName.providerSecretArn]: this.providerSecret.secretArn,
    };
    const jobTimeoutSeconds = String(jobTimeout.toSeconds());
    const admission = {
      maxInFlight: props.maxInFlight ?? 10,
      ...(props.dailyCreditBudget === undefined ? {} : { dailyCreditBudget: props.dailyCreditBudget }),
      creditsPerJobEstimate: props.creditsPerJobEstimate ?? 40,
    };
    // Submit and sweep are the two ways into a paid POST: both apply the same cap and budget.
    const submitting: FunctionEnvironment = {
      ...common,
      ...provider,
      [EnvName.inputBucket]: this.inputBucket.bucketName,
      [EnvName.maxInputBytes]: String(maxInputBytes),
      [EnvName.jobTimeoutSeconds]: jobTimeoutSeconds,
      [EnvName.eventBusName]: this.eventBus.eventBusName,
      [EnvName.maxInFlight]: String(admission.maxInFlight),
      [EnvName.creditsPerJobEstimate]: String(admission.creditsPerJobEstimate),
      ...(admission.dailyCreditBudget === undefined
        ? {}
        : { [EnvName.dailyCreditBudget]: String(admission.dailyCreditBudget) }),
      ...(props.defaultModel === undefined ? {} : { [EnvName.defaultModel]: props.defaultModel }),
      ...(props.allowedModels === undefined
        ? {}
        : { [EnvName.allowedModels]: props.allowedModels.join(',') }),
    };

    const submit = new VidflowFunction(this, 'Submit', {
      name: VidflowFunctionName.submit,
      description: 'vidflow: turns an input-bucket drop into a job and submits it to the provider',
      memorySize: 512,
      timeout: Duration.seconds(60),
      removalPolicy,
      environment: submitting,
    });
    const check = new VidflowFunction(this, 'Check', {
      name: VidflowFunctionName.check,
      description: 'vidflow: checks a generation and says how long to wait before the next check',
      memorySize: 256,
      timeout: Duration.seconds(30),
      removalPolicy,
      environment: { ...common, ...provider, [EnvName.jobTimeoutSeconds]: jobTimeoutSeconds },
    });
    const finalize = new VidflowFunction(this, 'Finalize', {
      name: VidflowFunctionName.finalize,
      description: 'vidflow: streams the finished video into the output bucket and completes the job',
      memorySize: 1024,
      timeout: Duration.minutes(15),
      removalPolicy,
      environment: {
        ...common,
        ...provider,
        [EnvName.outputBucket]: this.outputBucket.bucketName,
        [EnvName.eventBusName]: this.eventBus.eventBusName,
      },
    });
    const recordFailure = new VidflowFunction(this, 'RecordFailure', {
      name: VidflowFunctionName.recordFailure,
      description: 'vidflow: records a failed or timed-out job and emits its event',
      memorySize: 256,
      timeout: Duration.seconds(30),
      removalPolicy,
      environment: { ...common, [EnvName.eventBusName]: this.eventBus.eventBusName },
    });
    const sweep = new VidflowFunction(this, 'Sweep', {
      name: VidflowFunctionName.sweep,
      description:
        'vidflow: resolves stuck jobs and lets waiting jobs in (every minute, and as each job ends)',
      memorySize: 512,
      // A sweep may submit several waiting jobs, each a POST of up to the provider timeout.
      timeout: Duration.minutes(5),
      removalPolicy,
      environment: submitting,
    });
    if (props.inputCdnPublicKey !== undefined) {
      const cdn = new InputCdn(this, 'InputCdn', {
        inputBucket: this.inputBucket,
        publicKeyPem: props.inputCdnPublicKey,
        removalPolicy,
      });
      for (const fn of [submit, sweep]) {
        for (const [name, value] of Object.entries(cdn.environment))
          fn.addEnvironment(name as EnvName, value);
        cdn.grantSign(fn.function);
      }
    }
    this.functions = {
      [VidflowFunctionName.submit]: submit,
      [VidflowFunctionName.check]: check,
      [VidflowFunctionName.finalize]: finalize,
      [VidflowFunctionName.recordFailure]: recordFailure,
      [VidflowFunctionName.sweep]: sweep,
    };

    this.jobStateMachine = new JobStateMachine(this, 'JobStateMachine', {
      checkFunction: check.function,
      finalizeFunction: finalize.function,
      recordFailureFunction: recordFailure.function,
      admitFunction: sweep.function,
      stateMachineName: names.stateMachine,
      jobTimeout,
      taskTimeouts: {
        check: check.timeout.plus(Duration.seconds(30)),
        finalize: finalize.timeout.plus(Duration.minutes(1)),
        recordFailure: recordFailure.timeout.plus(Duration.seconds(30)),
        admit: sweep.timeout.plus(Duration.seconds(30)),
      },
      removalPolicy,
    });
    const stateMachine = this.jobStateMachine.stateMachine;
    submit.addEnvironment(EnvName.stateMachineArn, stateMachine.stateMachineArn);
    // The state machine invokes sweep, so sweep names it without a reference (which would be a
    // dependency cycle): by its ARN, built from its fixed name.
    const stateMachineArn = this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.jobStateMachine.stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    sweep.addEnvironment(EnvName.stateMachineArn, stateMachineArn);
    // The sweeper's schedule: stuck jobs within a grace period (10 min), waiting jobs within a minute.
    new Rule(this, 'SweepSchedule', {
      description: 'vidflow: runs the sweeper every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(sweep.function, { retryAttempts: 0 })],
    });

    // S3 invokes submit asynchronously: bounded retries, then the event lands in the queue.
    submit.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    const toSubmit = new LambdaDestination(submit.function);
    this.inputBucket.addEventNotification(EventType.OBJECT_CREATED, toSubmit);
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

    // Permissions, as narrow as each function's code needs.
    const inputGrants = BucketGrants.fromBucket(this.inputBucket);
    // GetObject covers HEAD and ranged GETs and signs the presigned URL; GetObjectVersion reads a drop's exact version.
    // Sweep submits waiting jobs: it presigns (or reads) their inputs as submit does.
    for (const fn of [submit, sweep]) {
      inputGrants.actionsOnObjectKeys(fn.function, '*', 's3:GetObject', 's3:GetObjectVersion');
      acknowledgeNagFinding(
        fn,
        'AwsSolutions-IAM5',
        'Drops arrive under any key the user picks; reads are limited to objects of the input bucket.',
        `Resource::${nagObjectsArn(this.inputBucket)}`,
      );
    }
    // ListBucket turns a missing sidecar or preset into a 404 rather than a 403.
    Grant.addToPrincipal({
      grantee: submit.function,
      actions: ['s3:ListBucket'],
      resourceArns: [this.inputBucket.bucketArn],
    });
    // PutObject covers single and multipart uploads; Abort lets lib-storage clean up a failed one.
    BucketGrants.fromBucket(this.outputBucket).actionsOnObjectKeys(
      finalize.function,
      '*',
      's3:PutObject',
      's3:AbortMultipartUpload',
    );
    acknowledgeNagFinding(
      finalize,
      'AwsSolutions-IAM5',
      'Output keys mirror the input keys users pick; writes are limited to objects of the output bucket.',
      `Resource::${nagObjectsArn(this.outputBucket)}`,
    );
    if (this.bucketKey !== undefined) {
      // Reading a drop (and the provider's GET of a URL presigned by submit or sweep) decrypts;
      // finalize's PUT encrypts, and a multipart upload also decrypts its parts to complete.
      for (const fn of [submit, sweep]) this.bucketKey.grant(fn.function, 'kms:Decrypt');
      this.bucketKey.grant(finalize.function, 'kms:GenerateDataKey', 'kms:Decrypt');
    }
    // Only submit and sweep list jobs: sweep (stuck and waiting jobs) through byStatus; submit
    // through byStatus (jobs a preset may complete) and bySource (the jobs a sidecar completes:
    // two writes of the same bytes within a second are two jobs a HEAD cannot tell apart).
    this.jobsTable.grantJobStore(submit.function, { queryIndexes: [JobsIndex.byStatus, JobsIndex.bySource] });
    this.jobsTable.grantJobStore(sweep.function, { queryIndexes: [JobsIndex.byStatus] });
    for (const fn of [check, finalize, recordFailure]) this.jobsTable.grantJobStore(fn.function);
    // GetSecretValue alone: grantRead would add DescribeSecret, which the code never calls.
    for (const fn of [submit, check, finalize, sweep]) {
      Grant.addToPrincipal({
        grantee: fn.function,
        actions: ['secretsmanager:GetSecretValue'],
        resourceArns: [this.providerSecret.secretArn],
      });
    }
    for (const fn of [submit, finalize, recordFailure, sweep]) {
      this.eventBus.grantPutEventsTo(fn.function);
    }
    stateMachine.grants.startExecution(submit.function);
    Grant.addToPrincipal({
      grantee: sweep.function,
      actions: ['states:StartExecution'],
      resourceArns: [stateMachineArn],
    });
    // The sweeper asks whether a stuck job's execution still runs.
    const executionsArn = this.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.jobStateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    Grant.addToPrincipal({
      grantee: sweep.function,
      actions: ['states:DescribeExecution'],
      resourceArns: [executionsArn],
    });
    acknowledgeNagFinding(
      sweep,
      'AwsSolutions-IAM5',
      "Executions are named after job ids; DescribeExecution is limited to this state machine's executions.",
      `Resource::${nagResource(this, executionsArn)}`,
    );

    // Webhook endpoints are data (`vidflow webhooks add`): the delivery always exists; the
    // `webhookUrl` context adds endpoint `ep_default` with the stack's own secret.
    let defaultEndpoint: { url: string; secret: ISecret } | undefined;
    if (props.webhookUrl !== undefined) {
      const secret =
        props.webhookSecretArn !== undefined
          ? Secret.fromSecretCompleteArn(this, 'WebhookSecret', props.webhookSecretArn)
          : new Secret(this, 'WebhookSecret', {
              secretName: names.webhookSecret,
              description:
                'vidflow: the Standard Webhooks signing secret. The generated value works as is (the receiver uses whsec_ + it); or set your own whsec_... value.',
              // Letters and digits only: 32 of them are valid base64 (a 24-byte key), as the library wants.
              generateSecretString: { passwordLength: 32, excludePunctuation: true },
              removalPolicy,
            });
      if (secret instanceof Secret) {
        acknowledgeNagFinding(
          secret,
          'AwsSolutions-SMG4',
          'Shared with the webhook receiver, which must change its copy at the same time: rotated by hand.',
        );
      }
      defaultEndpoint = { url: props.webhookUrl, secret };
      new CfnOutput(this, 'WebhookSecretArn', { value: secret.secretArn });
    }
    this.webhook = new WebhookDelivery(this, 'WebhookDelivery', {
      eventBus: this.eventBus,
      serviceName: names.service,
      removalPolicy,
      ...(defaultEndpoint === undefined ? {} : { defaultEndpoint }),
    });
    new CfnOutput(this, 'WebhooksTableName', { value: this.webhook.table.tableName });
    new CfnOutput(this, 'WebhookQueueUrl', { value: this.webhook.queue.queueUrl });
    new CfnOutput(this, 'WebhookSecretPrefix', { value: this.webhook.secretPrefix });
    new CfnOutput(this, 'WebhookDeadLetterQueueUrl', { value: this.webhook.deadLetterQueue.queueUrl });

    this.monitoring = new PipelineMonitoring(this, 'Monitoring', {
      stateMachine,
      submitDeadLetterQueue: this.deadLetterQueue,
      sweepLogGroup: sweep.logGroup,
      functions: {
        ...Object.fromEntries(Object.entries(this.functions).map(([name, fn]) => [name, fn.function])),
        webhook: this.webhook.function.function,
        webhookFanOut: this.webhook.fanOut.function,
      },
      webhookDeadLetterQueue: this.webhook.deadLetterQueue,
      ...(props.alarmEmail !== undefined && { alarmEmail: props.alarmEmail }),
      dashboardName: names.dashboard,
      serviceName: names.service,
      removalPolicy,
    });
    this.webhook.notify(this.monitoring.topic);

    new CfnOutput(this, 'InputBucketName', { value: this.inputBucket.bucketName });
    new CfnOutput(this, 'OutputBucketName', { value: this.outputBucket.bucketName });
    new CfnOutput(this, 'JobsTableName', { value: table.tableName });
    new CfnOutput(this, 'StateMachineArn', { value: stateMachine.stateMachineArn });
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

  private adoptOrCreateBucket(
    id: string,
    existingName: string | undefined,
    removalPolicy: RemovalPolicy,
    extraLifecycleRules: readonly LifecycleRule[] = [],
  ): IBucket {
    if (existingName !== undefined) return Bucket.fromBucketName(this, id, existingName);
    return new Bucket(this, id, {
      serverAccessLogsBucket: this.getAccessLogsBucket(removalPolicy),
      serverAccessLogsPrefix: `${id}/`,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      ...(this.bucketKey === undefined
        ? { encryption: BucketEncryption.S3_MANAGED }
        : { encryption: BucketEncryption.KMS, encryptionKey: this.bucketKey, bucketKeyEnabled: true }),
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        ...extraLifecycleRules,
      ],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
  }

  /** Created with the first bucket that logs to it. */
  private getAccessLogsBucket(removalPolicy: RemovalPolicy): Bucket {
    if (this.accessLogsBucket !== undefined) return this.accessLogsBucket;
    const bucket = new Bucket(this, 'AccessLogsBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // Server access logging delivers only to SSE-S3 buckets.
      encryption: BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
    acknowledgeNagFinding(
      bucket,
      'AwsSolutions-S1',
      'It is the access-logs bucket; logging it into itself would loop.',
    );
    this.accessLogsBucket = bucket;
    return bucket;
  }
}

/** How cdk-nag spells `bucket/*` in a finding, for a created or an adopted bucket. */
function nagObjectsArn(bucket: IBucket): string {
  return nagResource(bucket, bucket.arnForObjects('*'));
}
