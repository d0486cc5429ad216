import { Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { findNagViolations, NagFindingsError } from '../../infra/nag.js';
import { createVidflowStack } from '../../infra/synth.js';

const WEBHOOK = { webhookUrl: 'https://hooks.example.com/vidflow' };

/** Every acknowledgement under `scope`, as `rule id -> reason`, keyed by construct path. */
function acknowledgementsOf(scope: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** `AwsSolutions-IAM5[Resource::<InputBucket3BF8630A.Arn>/*]` -> `AwsSolutions-IAM5[Resource::<InputBucket.Arn>/*]`. */
function withoutHashes(id: string): string {
  return id.replace(/([A-Za-z]+)[0-9A-F]{8}\.Arn/g, '$1.Arn');
}

describe('cdk-nag AwsSolutions checks', () => {
  it.each([
    ['the default stack', {}],
    ['with webhook delivery', WEBHOOK],
    [
      'with adopted buckets and an imported provider secret',
      {
        inputBucketName: 'my-input',
        outputBucketName: 'my-output',
        providerSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vidflow/key-AbCdEf',
      },
    ],
    ['with removalPolicy destroy', { removalPolicy: 'destroy', ...WEBHOOK }],
  ])('leave no unacknowledged error or warning %s', (_name, context) => {
    const { stack } = createVidflowStack({ context });
    const findings = findNagViolations(stack).map((v) => `${v.ruleName} (${v.severity})`);
    expect(findings).toEqual([]);
  });

  it('fail the in-process synthesis on a new finding', () => {
    const { stack } = createVidflowStack();
    new Queue(stack, 'UncheckedQueue');
    const violations = findNagViolations(stack);
    expect(violations.map((v) => v.ruleName).sort()).toEqual(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']);
    expect(new NagFindingsError(violations).message).toContain('Vidflow/UncheckedQueue/Resource');
  });

  it('acknowledge exactly these findings, each with a reason, so a new one is a visible change', () => {
    const { stack } = createVidflowStack({ context: WEBHOOK });
    // CDK acknowledges some of its own template warnings (CloudFormation-Validate::...) too.
    const acknowledged = acknowledgementsOf(stack).filter(({ id }) => id.startsWith('AwsSolutions-'));
    for (const { reason } of acknowledged) expect(reason.length).toBeGreaterThan(20);
    const byPath = acknowledged.map(({ path, id }) => `${path}: ${withoutHashes(id)}`).sort();
    const basicRole = 'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';
    const xray = 'AwsSolutions-IAM5[Resource::*]';
    expect(byPath).toEqual(
      [
        'Vidflow/AccessLogsBucket: AwsSolutions-S1',
        'Vidflow/BucketNotificationsHandler050a0587b7544547bf325f094a3db834: ' +
          `AwsSolutions-IAM4[${basicRole}]`,
        `Vidflow/Check: ${xray}`,
        `Vidflow/Finalize: ${xray}`,
        'Vidflow/Finalize: AwsSolutions-IAM5[Resource::<OutputBucket.Arn>/*]',
        'Vidflow/JobStateMachine/Resource: AwsSolutions-IAM5[Resource::*]',
        'Vidflow/JobStateMachine/Resource: AwsSolutions-IAM5[Resource::<CheckFunction.Arn>:*]',
        'Vidflow/JobStateMachine/Resource: AwsSolutions-IAM5[Resource::<FinalizeFunction.Arn>:*]',
        'Vidflow/JobStateMachine/Resource: AwsSolutions-IAM5[Resource::<RecordFailureFunction.Arn>:*]',
        'Vidflow/JobStateMachine/Resource: AwsSolutions-IAM5[Resource::<SweepFunction.Arn>:*]',
        'Vidflow/JobStateMachine/Resource: AwsSolutions-SF1',
        'Vidflow/ProviderApiKey: AwsSolutions-SMG4',
        `Vidflow/RecordFailure: ${xray}`,
        `Vidflow/Submit: ${xray}`,
        'Vidflow/Submit: AwsSolutions-IAM5[Resource::<InputBucket.Arn>/*]',
        'Vidflow/SubmitDeadLetterQueue: AwsSolutions-SQS3',
        `Vidflow/Sweep: ${xray}`,
        'Vidflow/Sweep: AwsSolutions-IAM5[Resource::<InputBucket.Arn>/*]',
        'Vidflow/Sweep: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:Vidflow-jobs:*]',
        `Vidflow/WebhookDelivery/Webhook: ${xray}`,
        'Vidflow/WebhookDelivery/Webhook: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:Vidflow/webhooks/*]',
        `Vidflow/WebhookDelivery/FanOut: ${xray}`,
        'Vidflow/WebhookDelivery/FanOutDeadLetterQueue: AwsSolutions-SQS3',
        'Vidflow/WebhookDelivery/DeadLetterQueue: AwsSolutions-SQS3',
        'Vidflow/WebhookSecret: AwsSolutions-SMG4',
      ].sort(),
    );
  });
});
