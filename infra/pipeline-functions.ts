/**
 * The five pipeline functions (submit, check, finalize, record-failure, sweep) and the
 * environment each is configured with. The stack wires them to their triggers and grants.
 */
import { Duration, type RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { EnvName } from '../functions/config/env-names.js';
import { type FunctionEnvironment, VidflowFunction, VidflowFunctionName } from './vidflow-function.js';

/** The in-flight cap and daily credit budget that submit and sweep apply (and `vidflow retry`). */
export interface AdmissionLimits {
  readonly maxInFlight: number;
  readonly dailyCreditBudget?: number;
  readonly creditsPerJobEstimate: number;
}

/**
 * The admission limits of the stack's props, defaults applied: 10 generations in flight, no
 * budget, 40 credits reserved per job. In this key order in the `AdmissionLimits` output.
 */
export function admissionLimits(props: {
  readonly maxInFlight?: number;
  readonly dailyCreditBudget?: number;
  readonly creditsPerJobEstimate?: number;
}): AdmissionLimits {
  return {
    maxInFlight: props.maxInFlight ?? 10,
    ...(props.dailyCreditBudget === undefined ? {} : { dailyCreditBudget: props.dailyCreditBudget }),
    creditsPerJobEstimate: props.creditsPerJobEstimate ?? 40,
  };
}

export interface PipelineFunctionsProps {
  /** The `service` of logs and metrics (physical-names.ts). */
  readonly serviceName: string;
  readonly jobsTableName: string;
  readonly eventBusName: string;
  readonly inputBucketName: string;
  readonly outputBucketName: string;
  readonly providerBaseUrl: string;
  readonly providerSecretArn: string;
  /** Overall deadline of one generation, from submission. */
  readonly jobTimeout: Duration;
  /** Largest input video accepted, in bytes. */
  readonly maxInputBytes: number;
  readonly admission: AdmissionLimits;
  /** The catalog model of a drop that names none; absent: the code's default. */
  readonly defaultModel?: string;
  /** The only catalog models a drop may use; absent: every catalog model. */
  readonly allowedModels?: readonly string[];
  /** What happens to the functions' log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

export type PipelineFunctions = Readonly<Record<VidflowFunctionName, VidflowFunction>>;

/** Creates the five pipeline functions in `scope`, each under the construct id it always had. */
export function createPipelineFunctions(scope: Stack, props: PipelineFunctionsProps): PipelineFunctions {
  const env = pipelineEnvironments(props);
  const { removalPolicy } = props;
  const submit = new VidflowFunction(scope, 'Submit', {
    name: VidflowFunctionName.submit,
    description: 'vidflow: turns an input-bucket drop into a job and submits it to the provider',
    memorySize: 512,
    timeout: Duration.seconds(60),
    removalPolicy,
    environment: env.submitting,
  });
  const check = new VidflowFunction(scope, 'Check', {
    name: VidflowFunctionName.check,
    description: 'vidflow: checks a generation and says how long to wait before the next check',
    memorySize: 256,
    timeout: Duration.seconds(30),
    removalPolicy,
    environment: env.check,
  });
  const finalize = new VidflowFunction(scope, 'Finalize', {
    name: VidflowFunctionName.finalize,
    description: 'vidflow: streams the finished video into the output bucket and completes the job',
    memorySize: 1024,
    timeout: Duration.minutes(15),
    removalPolicy,
    environment: env.finalize,
  });
  const recordFailure = new VidflowFunction(scope, 'RecordFailure', {
    name: VidflowFunctionName.recordFailure,
    description: 'vidflow: records a failed or timed-out job and emits its event',
    memorySize: 256,
    timeout: Duration.seconds(30),
    removalPolicy,
    environment: env.recordFailure,
  });
  const sweep = new VidflowFunction(scope, 'Sweep', {
    name: VidflowFunctionName.sweep,
    description: 'vidflow: resolves stuck jobs and lets waiting jobs in (every minute, and as each job ends)',
    memorySize: 512,
    // A sweep may submit several waiting jobs, each a POST of up to the provider timeout.
    timeout: Duration.minutes(5),
    removalPolicy,
    environment: env.submitting,
  });
  return {
    [VidflowFunctionName.submit]: submit,
    [VidflowFunctionName.check]: check,
    [VidflowFunctionName.finalize]: finalize,
    [VidflowFunctionName.recordFailure]: recordFailure,
    [VidflowFunctionName.sweep]: sweep,
  };
}

/** Each function's environment: only what its code reads (functions/config/env-names.ts). */
function pipelineEnvironments(props: PipelineFunctionsProps): {
  readonly submitting: FunctionEnvironment;
  readonly check: FunctionEnvironment;
  readonly finalize: FunctionEnvironment;
  readonly recordFailure: FunctionEnvironment;
} {
  const common: FunctionEnvironment = {
    [EnvName.jobsTable]: props.jobsTableName,
    [EnvName.serviceName]: props.serviceName,
    [EnvName.logLevel]: 'INFO',
  };
  const provider: FunctionEnvironment = {
    [EnvName.providerBaseUrl]: props.providerBaseUrl,
    [EnvName.providerSecretArn]: props.providerSecretArn,
  };
  const jobTimeoutSeconds = String(props.jobTimeout.toSeconds());
  const { admission } = props;
  // Submit and sweep are the two ways into a paid POST: both apply the same cap and budget.
  const submitting: FunctionEnvironment = {
    ...common,
    ...provider,
    [EnvName.inputBucket]: props.inputBucketName,
    [EnvName.maxInputBytes]: String(props.maxInputBytes),
    [EnvName.jobTimeoutSeconds]: jobTimeoutSeconds,
    [EnvName.eventBusName]: props.eventBusName,
    [EnvName.maxInFlight]: String(admission.maxInFlight),
    [EnvName.creditsPerJobEstimate]: String(admission.creditsPerJobEstimate),
    ...(admission.dailyCreditBudget === undefined
      ? {}
      : { [EnvName.dailyCreditBudget]: String(admission.dailyCreditBudget) }),
    ...(props.defaultModel === undefined ? {} : { [EnvName.defaultModel]: props.defaultModel }),
    ...(props.allowedModels === undefined ? {} : { [EnvName.allowedModels]: props.allowedModels.join(',') }),
  };
  return {
    submitting,
    check: { ...common, ...provider, [EnvName.jobTimeoutSeconds]: jobTimeoutSeconds },
    finalize: {
      ...common,
      ...provider,
      [EnvName.outputBucket]: props.outputBucketName,
      [EnvName.eventBusName]: props.eventBusName,
    },
    recordFailure: { ...common, [EnvName.eventBusName]: props.eventBusName },
  };
}
