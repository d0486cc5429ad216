/**
 * The one polling state machine (docs/architecture.md): what runs in AWS and, through the
 * synthesized template, what the local runtime executes. JSONPath and Lambda tasks only,
 * since the local runner executes nothing else.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Errors,
  Fail,
  JitterType,
  JsonPath,
  LogLevel,
  QueryLanguage,
  type RetryProps,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  type TaskStateBase,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvocationType, LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TRANSIENT_ERROR_NAMES } from '../functions/domain/errors.js';
import { acknowledgeNagFinding, nagResource } from './nag.js';

/** State names: they read as sentences, and the local runtime keys its overrides on them. */
export { StateName } from './state-names.js';

import { StateName } from './state-names.js';

/** How long past the job deadline the execution itself may run: the check function fails first. */
export const EXECUTION_TIMEOUT_MARGIN = Duration.minutes(15);

/** Backoff for the transient errors the functions throw (provider briefly down, copy interrupted). */
export const TRANSIENT_RETRY: Readonly<RetryProps> = {
  errors: [...TRANSIENT_ERROR_NAMES],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 6,
  maxDelay: Duration.seconds(60),
  jitterStrategy: JitterType.FULL,
};

/** Lambda concurrency throttling, which LambdaInvoke's built-in service-exception retry leaves out. */
export const THROTTLE_RETRY: Readonly<RetryProps> = {
  errors: ['Lambda.TooManyRequestsException'],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 6,
  maxDelay: Duration.seconds(60),
  jitterStrategy: JitterType.FULL,
};

export interface JobStateMachineProps {
  /** Checks the generation; gets `{ jobId, waitSeconds, finished? }`, its result replaces the state. */
  readonly checkFunction: IFunction;
  /** Copies the result to the output bucket and completes the job; gets the check's last result. */
  readonly finalizeFunction: IFunction;
  /** Records any failure on the job; gets the state plus `error: { Error, Cause }`. */
  readonly recordFailureFunction: IFunction;
  /**
   * Lets waiting jobs in once this one ended and freed its in-flight slot; gets `{ "admit": true }`.
   * Its result is discarded and its failure ignored: the scheduled sweep admits them anyway.
   */
  readonly admitFunction: IFunction;
  /** The state machine's name, fixed so the admit function can name it without a reference. */
  readonly stateMachineName: string;
  /**
   * The job's overall deadline. The execution times out {@link EXECUTION_TIMEOUT_MARGIN} later,
   * as a backstop: the check function itself fails a job past its deadline.
   */
  readonly jobTimeout: Duration;
  /**
   * Task timeouts (`TimeoutSeconds`), a little above each function's own timeout. Always set:
   * without one a Task waits forever in AWS, and the local runner gives up after 60 s.
   * @default Duration.minutes(1) for check, record-failure and admit, Duration.minutes(16) for finalize
   */
  readonly taskTimeouts?: {
    readonly check?: Duration;
    readonly finalize?: Duration;
    readonly recordFailure?: Duration;
    readonly admit?: Duration;
  };
  /**
   * What happens to the execution log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Wait -> check -> "Generation finished?" loop, then finalize; every failure of check or
 * finalize is caught and recorded on the job before the execution fails.
 */
export class JobStateMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly stateMachineName: string;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: JobStateMachineProps) {
    super(scope, id);
    this.stateMachineName = props.stateMachineName;

    const jobFailed = new Fail(this, StateName.jobFailed, {
      error: 'JobFailed',
      cause: 'The job record holds the failure: error.code, error.message, error.stage.',
    });
    const admit = (stateName: StateName, next: Fail | Succeed) =>
      LambdaInvoke.jsonPath(this, stateName, {
        lambdaFunction: props.admitFunction,
        payload: TaskInput.fromObject({ admit: true }),
        invocationType: LambdaInvocationType.EVENT,
        resultPath: JsonPath.DISCARD,
        retryOnServiceExceptions: true,
        taskTimeout: Timeout.duration(props.taskTimeouts?.admit ?? Duration.minutes(1)),
      })
        .addRetry(THROTTLE_RETRY)
        .addCatch(next, { errors: [Errors.ALL], resultPath: JsonPath.DISCARD })
        .next(next);
    const recordFailure = invokeLambda(this, StateName.recordFailure, props.recordFailureFunction, {
      timeout: props.taskTimeouts?.recordFailure ?? Duration.minutes(1),
    }).next(admit(StateName.admitAfterFailure, jobFailed));

    const catchAll = { errors: [Errors.ALL], resultPath: '$.error' };

    const check = invokeLambda(this, StateName.checkGeneration, props.checkFunction, {
      timeout: props.taskTimeouts?.check ?? Duration.minutes(1),
    })
      .addRetry(TRANSIENT_RETRY)
      .addCatch(recordFailure, catchAll);

    const finalize = invokeLambda(this, StateName.copyResult, props.finalizeFunction, {
      timeout: props.taskTimeouts?.finalize ?? Duration.minutes(16),
    })
      .addRetry(TRANSIENT_RETRY)
      .addCatch(recordFailure, catchAll)
      .next(admit(StateName.admitAfterCompletion, new Succeed(this, StateName.jobCompleted)));

    const waitBeforeChecking = new Wait(this, StateName.waitBeforeChecking, {
      time: WaitTime.secondsPath('$.waitSeconds'),
    });
    const generationFinished = new Choice(this, StateName.generationFinished)
      .when(Condition.booleanEquals('$.finished', true), finalize)
      .otherwise(waitBeforeChecking);

    const definition = waitBeforeChecking.next(check).next(generationFinished);

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.stateMachine = new StateMachine(this, 'Resource', {
      stateMachineName: props.stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      queryLanguage: QueryLanguage.JSON_PATH,
      definitionBody: DefinitionBody.fromChainable(definition),
      comment: 'vidflow: wait, check the generation until it finishes, copy the result; record any failure.',
      timeout: props.jobTimeout.plus(EXECUTION_TIMEOUT_MARGIN),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: LogLevel.ERROR, includeExecutionData: false },
    });

    acknowledgeNagFinding(
      this.stateMachine,
      'AwsSolutions-SF1',
      'ERROR level on purpose: ALL would log every poll of every job; the execution history keeps the rest.',
    );
    acknowledgeNagFinding(
      this.stateMachine,
      'AwsSolutions-IAM5',
      'X-Ray and CloudWatch Logs delivery actions support no resource-level permissions.',
      'Resource::*',
    );
    for (const fn of [
      props.checkFunction,
      props.finalizeFunction,
      props.recordFailureFunction,
      props.admitFunction,
    ]) {
      acknowledgeNagFinding(
        this.stateMachine,
        'AwsSolutions-IAM5',
        'LambdaInvoke grants the function and its versions (:*); only these four functions.',
        `Resource::${nagResource(this, `${fn.functionArn}:*`)}`,
      );
    }
  }
}

/**
 * The default `lambda:invoke` integration (`Payload.$: "$"`, `OutputPath: "$.Payload"`): the
 * function's result replaces the state, and Lambda service errors are retried by CDK's built-in
 * retrier; throttling gets its own.
 */
function invokeLambda(
  scope: Construct,
  stateName: StateName,
  lambdaFunction: IFunction,
  options: { readonly timeout: Duration },
): TaskStateBase {
  return LambdaInvoke.jsonPath(scope, stateName, {
    lambdaFunction,
    payloadResponseOnly: false,
    retryOnServiceExceptions: true,
    outputPath: '$.Payload',
    taskTimeout: Timeout.duration(options.timeout),
  }).addRetry(THROTTLE_RETRY);
}
