/**
 * One vidflow Lambda: a NodejsFunction bundled by the local esbuild (no Docker), ESM, arm64,
 * X-Ray tracing active, with its own log group (its role may write only there) and an
 * environment typed by {@link EnvName}.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Duration, type RemovalPolicy, Tags } from 'aws-cdk-lib';
import { type IGrantable, type IPrincipal, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { EnvName } from '../functions/config/env-names.js';
import { acknowledgeNagFinding } from './nag.js';

/** The five pipeline functions, named like their folder under `functions/`. */
export const VidflowFunctionName = {
  submit: 'submit',
  check: 'check',
  finalize: 'finalize',
  recordFailure: 'record-failure',
  sweep: 'sweep',
} as const;

export type VidflowFunctionName = (typeof VidflowFunctionName)[keyof typeof VidflowFunctionName];

/**
 * The webhook delivery's two functions (infra/webhook-delivery.ts), named like their folder under
 * `functions/`. The stack always creates them now (endpoints are data); "optional" is from when
 * they needed context `webhookUrl`. Kept apart from {@link VidflowFunctionName} so whoever needs
 * the five pipeline functions (the local runtime) counts only those.
 */
export const OptionalFunctionName = {
  webhook: 'webhook',
  webhookFanOut: 'webhook-fanout',
} as const;

export type OptionalFunctionName = (typeof OptionalFunctionName)[keyof typeof OptionalFunctionName];

/** Tag on each `AWS::Lambda::Function` naming which handler it runs; the local runtime reads it. */
export const FUNCTION_TAG = 'vidflow:function';

/** Environment variables a function may be given: only names from `functions/config/env-names.ts`. */
export type FunctionEnvironment = Partial<Record<EnvName, string>>;

/** Repository root: the bundling project root and the base of every handler entry. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Lets ESM bundles load CommonJS dependencies that call `require` (some AWS SDK internals do).
 * The alias avoids clashing with a bundled `createRequire` import.
 */
const ESM_REQUIRE_SHIM =
  "import { createRequire as __vidflowCreateRequire } from 'node:module'; const require = __vidflowCreateRequire(import.meta.url);";

export interface VidflowFunctionProps {
  /** Which handler: bundles `functions/<name>/handler.ts`, export `handler`. */
  readonly name: VidflowFunctionName | OptionalFunctionName;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** Memory in MiB (CPU scales with it). */
  readonly memorySize: number;
  /** Longest one invocation may run. */
  readonly timeout: Duration;
  /** Initial environment; more can be added with {@link VidflowFunction.addEnvironment}. */
  readonly environment: FunctionEnvironment;
  /** What happens to the log group when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

/** Grants to a VidflowFunction go to its function's role; cdk-nag findings are acknowledged on it. */
export class VidflowFunction extends Construct implements IGrantable {
  readonly function: NodejsFunction;
  readonly grantPrincipal: IPrincipal;
  readonly timeout: Duration;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: VidflowFunctionProps) {
    super(scope, id);
    this.timeout = props.timeout;

    const logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy,
    });
    this.logGroup = logGroup;

    // Our own role instead of AWSLambdaBasicExecutionRole, whose logs actions cover every log group.
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `vidflow: the ${props.name} function`,
    });
    logGroup.grantWrite(role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: join(REPO_ROOT, 'functions', props.name, 'handler.ts'),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      environment: { ...props.environment },
      logGroup,
      role,
      tracing: Tracing.ACTIVE,
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        // Prefer the ESM builds of dependencies (the AWS SDK ships both).
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        banner: ESM_REQUIRE_SHIM,
        // Bundle the AWS SDK v3 too: pinned by our lockfile, and faster cold starts than the runtime's copy.
        externalModules: [],
      },
    });
    this.grantPrincipal = this.function.grantPrincipal;

    acknowledgeNagFinding(
      this,
      'AwsSolutions-IAM5',
      'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions.',
      'Resource::*',
    );
    Tags.of(this.function).add(FUNCTION_TAG, props.name, { includeResourceTypes: ['AWS::Lambda::Function'] });
  }

  /** Adds one variable; the name must come from `EnvName`. */
  addEnvironment(name: EnvName, value: string): void {
    this.function.addEnvironment(name, value);
  }
}
