/**
 * A deployed stack's submit function, as `vidflow retry` reads it: its environment is the
 * configuration a new attempt is submitted with (cli/submission.ts), so a retried job gets the
 * stack's own job timeout, input URL mode and admission limits, not the pipeline's defaults.
 */
import { type CloudFormationClient, paginateListStackResources } from '@aws-sdk/client-cloudformation';
import { GetFunctionCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Env } from '../functions/config/config.js';

/**
 * The tag the stack puts on each of its functions, and the submit function's value of it
 * (`FUNCTION_TAG` and `VidflowFunctionName.submit` in infra/vidflow-function.ts; not imported,
 * because infra pulls in the CDK, a second of start-up for every command).
 */
const FUNCTION_TAG = 'vidflow:function';
const SUBMIT_FUNCTION = 'submit';

/** Errors that mean the caller may not read the stack's functions (a narrower policy than `retry` documents). */
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException']);

/**
 * The environment of the stack's function tagged `vidflow:function=submit`.
 * @returns undefined when the stack has no such function, or the caller may not list the stack's
 *   resources or read its functions (`cloudformation:ListStackResources`, `lambda:GetFunction`).
 * @throws other AWS errors (throttling, network).
 */
export async function readSubmitFunctionEnvironment(
  cloudFormation: CloudFormationClient,
  lambda: LambdaClient,
  stackName: string,
): Promise<Env | undefined> {
  try {
    for await (const page of paginateListStackResources(
      { client: cloudFormation },
      { StackName: stackName },
    )) {
      for (const resource of page.StackResourceSummaries ?? []) {
        if (resource.ResourceType !== 'AWS::Lambda::Function' || !resource.PhysicalResourceId) continue;
        const fn = await lambda.send(new GetFunctionCommand({ FunctionName: resource.PhysicalResourceId }));
        if (fn.Tags?.[FUNCTION_TAG] === SUBMIT_FUNCTION)
          return fn.Configuration?.Environment?.Variables ?? {};
      }
    }
    return undefined;
  } catch (error) {
    if (error instanceof Error && ACCESS_DENIED.has(error.name)) return undefined;
    throw error;
  }
}
