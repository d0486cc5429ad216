/**
 * `--stack <name>`: find a deployed vidflow stack by its CloudFormation outputs and connect to
 * it with the standard AWS credential chain (environment, `--profile`/`AWS_PROFILE`, SSO, roles).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { AdmissionSettings } from '../functions/domain/admission.js';
import type { Logger } from '../functions/domain/ports.js';
import { explainAwsError } from './aws-errors.js';
import { type CliContext, CliError, type CliTarget, createAwsClients, createContext } from './context.js';
import type { CliOutput } from './format.js';
import { readSubmitFunctionEnvironment } from './submit-function.js';

/** The stack outputs the CLI reads (set by `infra/vidflow-stack.ts`). */
export const StackOutput = {
  inputBucket: 'InputBucketName',
  outputBucket: 'OutputBucketName',
  jobsTable: 'JobsTableName',
  stateMachineArn: 'StateMachineArn',
  eventBusName: 'EventBusName',
  /** Optional: only `retry` needs it. */
  providerSecretArn: 'ProviderSecretArn',
  /** Optional (stacks before the in-flight cap lack it): the cap and budget `retry` applies. */
  admissionLimits: 'AdmissionLimits',
} as const;

const REQUIRED_OUTPUTS = [
  StackOutput.inputBucket,
  StackOutput.outputBucket,
  StackOutput.jobsTable,
  StackOutput.stateMachineArn,
  StackOutput.eventBusName,
] as const;

export interface StackOptions {
  readonly stack: string;
  readonly profile?: string;
  readonly region?: string;
}

/**
 * The target a stack's outputs describe.
 * @throws CliError when the stack does not exist, is not a vidflow stack, or AWS refuses.
 */
export async function readStackTarget(
  cloudFormation: CloudFormationClient,
  stackName: string,
): Promise<CliTarget> {
  let region: string;
  try {
    region = await cloudFormation.config.region();
  } catch (error) {
    throw explainAwsError(error) ?? error;
  }
  let outputs: Map<string, string>;
  try {
    const result = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = result.Stacks?.[0];
    if (stack === undefined) throw new CliError(`no stack ${stackName} in ${region}`);
    outputs = new Map(
      (stack.Outputs ?? []).flatMap((output) =>
        output.OutputKey !== undefined && output.OutputValue !== undefined
          ? [[output.OutputKey, output.OutputValue] as const]
          : [],
      ),
    );
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message)) {
      throw new CliError(
        `no stack ${stackName} in ${region}: check --stack and --region (or AWS_REGION)`,
        1,
        {
          cause: error,
        },
      );
    }
    throw explainAwsError(error) ?? error;
  }
  const missing = REQUIRED_OUTPUTS.filter((name) => !outputs.has(name));
  if (missing.length > 0) {
    throw new CliError(
      `stack ${stackName} has no output ${missing.join(', ')}: is it a vidflow stack (deployed with \`npx cdk deploy\`)?`,
    );
  }
  const output = (name: string): string => outputs.get(name) ?? '';
  const providerSecretArn = outputs.get(StackOutput.providerSecretArn);
  const admission = parseAdmissionLimits(outputs.get(StackOutput.admissionLimits));
  return {
    kind: 'stack',
    description: `stack ${stackName} (${region})`,
    region,
    inputBucket: output(StackOutput.inputBucket),
    outputBucket: output(StackOutput.outputBucket),
    jobsTable: output(StackOutput.jobsTable),
    stateMachineArn: output(StackOutput.stateMachineArn),
    eventBusName: output(StackOutput.eventBusName),
    ...(providerSecretArn === undefined ? {} : { providerSecretArn }),
    ...(admission === undefined ? {} : { admission }),
  };
}

/** The `AdmissionLimits` output; undefined when absent or not what the stack writes. */
function parseAdmissionLimits(text: string | undefined): AdmissionSettings | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { maxInFlight, dailyCreditBudget, creditsPerJobEstimate } = value as Record<string, unknown>;
  if (typeof maxInFlight !== 'number' || typeof creditsPerJobEstimate !== 'number') return undefined;
  return {
    maxInFlight,
    creditsPerJobEstimate,
    ...(typeof dailyCreditBudget === 'number' ? { dailyCreditBudget } : {}),
  };
}

/**
 * Connect to a deployed stack.
 * @throws CliError when credentials or the region are missing, or the stack is not found.
 */
export async function connectStack(
  options: StackOptions,
  context: { readonly out?: CliOutput; readonly logger?: Logger } = {},
): Promise<CliContext> {
  const config = {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
  };
  const cloudFormation = new CloudFormationClient(config);
  try {
    const target = await readStackTarget(cloudFormation, options.stack);
    return createContext(
      target,
      createAwsClients({
        region: target.region,
        ...(options.profile === undefined ? {} : { profile: options.profile }),
      }),
      {
        ...context,
        submitFunctionEnvironment: async () => {
          const cfn = new CloudFormationClient({ ...config, region: target.region });
          const lambda = new LambdaClient({ ...config, region: target.region });
          try {
            return await readSubmitFunctionEnvironment(cfn, lambda, options.stack);
          } catch (error) {
            throw explainAwsError(error) ?? error;
          } finally {
            cfn.destroy();
            lambda.destroy();
          }
        },
      },
    );
  } finally {
    cloudFormation.destroy();
  }
}
