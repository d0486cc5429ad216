/**
 * The logical IDs of every resource that holds data or names a deployment. CloudFormation
 * replaces a resource whose logical ID changes: a bucket, table, key, secret or queue would be
 * deleted (or orphaned) and created empty on the next deploy. A refactoring that moves one of them
 * into another construct scope changes its ID; this test makes that a visible change.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { createVidflowStack } from '../../infra/synth.js';

const STATEFUL_TYPES = new Set([
  'AWS::S3::Bucket',
  'AWS::KMS::Key',
  'AWS::SecretsManager::Secret',
  'AWS::DynamoDB::Table',
  'AWS::SQS::Queue',
  'AWS::Events::EventBus',
  'AWS::Logs::LogGroup',
  'AWS::SNS::Topic',
  'AWS::StepFunctions::StateMachine',
  'AWS::CloudFront::PublicKey',
]);

const PUBLIC_KEY_FILE = join(mkdtempSync(join(tmpdir(), 'vidflow-ids-key-')), 'public.pem');
writeFileSync(
  PUBLIC_KEY_FILE,
  generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }),
);

/** Every created part of the stack: KMS buckets, the webhook secret, the input CDN. */
const EVERYTHING = {
  bucketKms: 'true',
  webhookUrl: 'https://hooks.example.com/vidflow',
  inputCdnPublicKeyFile: PUBLIC_KEY_FILE,
};

function statefulIds(context: Record<string, unknown>): string[] {
  const resources = Template.fromStack(createVidflowStack({ context }).stack).toJSON().Resources as Record<
    string,
    { Type: string }
  >;
  return Object.entries(resources)
    .filter(([, resource]) => STATEFUL_TYPES.has(resource.Type))
    .map(([id, resource]) => `${resource.Type} ${id}`)
    .sort();
}

const PINNED = [
  'AWS::CloudFront::PublicKey InputCdnSigningPublicKey8EDD9724',
  'AWS::DynamoDB::Table JobsTableC4443A18',
  'AWS::DynamoDB::Table WebhookDeliveryTable0DD10722',
  'AWS::Events::EventBus EventBus7B8748AA',
  'AWS::KMS::Key BucketKey7092080A',
  'AWS::KMS::Key MonitoringAlarmTopicKeyFFA45DC9',
  'AWS::Logs::LogGroup CheckLogsAAAFC745',
  'AWS::Logs::LogGroup FinalizeLogsB4153B9A',
  'AWS::Logs::LogGroup JobStateMachineLogsCDF98EF3',
  'AWS::Logs::LogGroup RecordFailureLogs2AC9ED65',
  'AWS::Logs::LogGroup SubmitLogsCC177F41',
  'AWS::Logs::LogGroup SweepLogsA7192123',
  'AWS::Logs::LogGroup WebhookDeliveryFanOutLogs8E95EF6D',
  'AWS::Logs::LogGroup WebhookDeliveryWebhookLogsC019A476',
  'AWS::S3::Bucket AccessLogsBucket83982689',
  'AWS::S3::Bucket InputBucket3BF8630A',
  'AWS::S3::Bucket OutputBucket7114EB27',
  'AWS::SNS::Topic MonitoringAlarmTopicAF62D4F1',
  'AWS::SQS::Queue SubmitDeadLetterQueueDAC8E26A',
  'AWS::SQS::Queue WebhookDeliveryDeadLetterQueueFDE28149',
  'AWS::SQS::Queue WebhookDeliveryFanOutDeadLetterQueue125FE029',
  'AWS::SQS::Queue WebhookDeliveryQueue3A77A570',
  'AWS::SecretsManager::Secret InputCdnSigningPrivateKeyBDE04339',
  'AWS::SecretsManager::Secret ProviderApiKey671227A8',
  'AWS::SecretsManager::Secret WebhookSecretF21E29CC',
  'AWS::StepFunctions::StateMachine JobStateMachineBFCE6B24',
].sort();

describe('the logical IDs of the stateful resources', () => {
  it('stay what deployed stacks have, so a deploy never replaces a bucket, table, key, secret or queue', () => {
    expect(statefulIds(EVERYTHING)).toEqual(PINNED);
  });

  it('do not depend on the stack name (a second stack is the same template under other names)', () => {
    expect(statefulIds({ ...EVERYTHING, stackName: 'VidflowDev' })).toEqual(PINNED);
  });
});
