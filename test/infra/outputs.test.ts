/**
 * The stack's outputs are the contract with `vidflow --stack` (cli/stack.ts) and with the README's
 * deploy guide: every output the CLI reads exists, and names the resource it stands for.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { StackOutput } from '../../cli/stack.js';
import { type CfnTemplate, createVidflowStack } from '../../infra/synth.js';

type Json = Record<string, unknown>;

/** The logical id of the one resource of `type` whose id starts with `prefix`. */
function logicalIdOf(template: CfnTemplate, type: string, prefix: string): string {
  const ids = Object.entries(template.Resources as Record<string, Json>)
    .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix))
    .map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

describe('stack outputs', () => {
  let template: CfnTemplate;
  let outputs: Record<string, Json>;

  beforeAll(() => {
    template = Template.fromStack(createVidflowStack({ bundle: false }).stack).toJSON();
    outputs = template.Outputs as Record<string, Json>;
  });

  it('include every output `vidflow --stack` reads', () => {
    const missing = Object.values(StackOutput).filter((name) => outputs[name] === undefined);
    expect(missing).toStrictEqual([]);
  });

  it('name the buckets, the table, the state machine, the event bus and the provider key secret', () => {
    const ref = (type: string, prefix: string) => ({ Ref: logicalIdOf(template, type, prefix) });
    expect({
      InputBucketName: outputs.InputBucketName?.Value,
      OutputBucketName: outputs.OutputBucketName?.Value,
      JobsTableName: outputs.JobsTableName?.Value,
      StateMachineArn: outputs.StateMachineArn?.Value,
      EventBusName: outputs.EventBusName?.Value,
      ProviderSecretArn: outputs.ProviderSecretArn?.Value,
    }).toStrictEqual({
      InputBucketName: ref('AWS::S3::Bucket', 'InputBucket'),
      OutputBucketName: ref('AWS::S3::Bucket', 'OutputBucket'),
      JobsTableName: ref('AWS::DynamoDB::Table', 'JobsTable'),
      StateMachineArn: ref('AWS::StepFunctions::StateMachine', 'JobStateMachine'),
      EventBusName: ref('AWS::Events::EventBus', 'EventBus'),
      ProviderSecretArn: ref('AWS::SecretsManager::Secret', 'ProviderApiKey'),
    });
  });
});
