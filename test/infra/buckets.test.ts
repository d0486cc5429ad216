/**
 * The optional bucket settings: a customer-managed KMS key (context `bucketKms`) and archiving of
 * input videos (context `archiveInputsAfterDays`). The default encryption, TLS-only policies,
 * versioning and retention are asserted in stack.test.ts.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { StackContextError } from '../../infra/context.js';
import { createVidflowStack, findVidflowFunctions } from '../../infra/synth.js';

type Json = Record<string, unknown>;

function synth(context: Json = {}) {
  // createVidflowStack runs cdk-nag: a new unacknowledged finding fails it.
  const template = Template.fromStack(createVidflowStack({ context, bundle: false }).stack);
  return { template, json: template.toJSON() as Json };
}

function logicalIdOf(json: Json, type: string, prefix: string): string {
  const ids = Object.entries(json.Resources as Record<string, Json>)
    .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix))
    .map(([id]) => id);
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

/** The KMS actions a function's policy allows on the bucket key. */
function keyActions(template: Template, json: Json, functionLogicalId: string, keyId: string): string[] {
  const role = (
    (json.Resources as Record<string, { Properties: { Role: { 'Fn::GetAtt': [string, string] } } }>)[
      functionLogicalId
    ] ?? { Properties: { Role: { 'Fn::GetAtt': ['', ''] } } }
  ).Properties.Role['Fn::GetAtt'][0];
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
  ) as {
    Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
  }[];
  return policies
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
    .filter(
      (statement) => JSON.stringify(statement.Resource) === JSON.stringify({ 'Fn::GetAtt': [keyId, 'Arn'] }),
    )
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .sort();
}

describe('bucket encryption with context bucketKms', () => {
  const { template, json } = synth({ bucketKms: 'true' });
  const keyId = logicalIdOf(json, 'AWS::KMS::Key', 'BucketKey');
  const fns = findVidflowFunctions(json);

  it('encrypts both created buckets with one rotated customer-managed key and S3 Bucket Keys', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      Description: Match.stringLikeRegexp('buckets'),
    });
    for (const bucket of ['InputBucket', 'OutputBucket']) {
      const props = (json.Resources as Record<string, { Properties: Json }>)[
        logicalIdOf(json, 'AWS::S3::Bucket', bucket)
      ]?.Properties;
      expect(props?.BucketEncryption).toStrictEqual({
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
            },
          },
        ],
      });
    }
  });

  it('lets submit and sweep decrypt inputs and finalize encrypt outputs, and no one else use the key', () => {
    expect(keyActions(template, json, fns.submit.logicalId, keyId)).toStrictEqual(['kms:Decrypt']);
    expect(keyActions(template, json, fns.sweep.logicalId, keyId)).toStrictEqual(['kms:Decrypt']);
    expect(keyActions(template, json, fns.finalize.logicalId, keyId)).toStrictEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
    ]);
    expect(keyActions(template, json, fns.check.logicalId, keyId)).toStrictEqual([]);
    expect(keyActions(template, json, fns['record-failure'].logicalId, keyId)).toStrictEqual([]);
  });

  it('keeps SSE-S3 and creates no key by default', () => {
    const plain = synth();
    plain.template.resourcePropertiesCountIs(
      'AWS::KMS::Key',
      { Description: Match.stringLikeRegexp('buckets') },
      0,
    );
  });
});

describe('archiving inputs with context archiveInputsAfterDays', () => {
  it('moves input videos to Glacier Instant Retrieval after that many days, outputs never', () => {
    const { json } = synth({ archiveInputsAfterDays: '90' });
    const rulesOf = (bucket: string) =>
      (
        (json.Resources as Record<string, { Properties: { LifecycleConfiguration: { Rules: Json[] } } }>)[
          logicalIdOf(json, 'AWS::S3::Bucket', bucket)
        ]?.Properties.LifecycleConfiguration.Rules ?? []
      ).map((rule) => rule.Id);
    expect(rulesOf('InputBucket')).toStrictEqual(['expire-noncurrent-versions', 'archive-inputs']);
    expect(rulesOf('OutputBucket')).toStrictEqual(['expire-noncurrent-versions']);
    const input = (
      json.Resources as Record<string, { Properties: { LifecycleConfiguration: { Rules: Json[] } } }>
    )[logicalIdOf(json, 'AWS::S3::Bucket', 'InputBucket')];
    expect(input?.Properties.LifecycleConfiguration.Rules[1]).toStrictEqual({
      Id: 'archive-inputs',
      Status: 'Enabled',
      Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
    });
  });

  it.each([
    [{ bucketKms: 'yes' }, /bucketKms/],
    [{ archiveInputsAfterDays: 0 }, /archiveInputsAfterDays/],
    [{ archiveInputsAfterDays: 'soon' }, /archiveInputsAfterDays/],
  ])('rejects malformed context %j with a StackContextError', (context, message) => {
    expect(() => createVidflowStack({ context, bundle: false })).toThrow(StackContextError);
    expect(() => createVidflowStack({ context, bundle: false })).toThrow(message);
  });
});
