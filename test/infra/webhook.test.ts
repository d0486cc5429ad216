/**
 * Webhook delivery in the stack: created only with context `webhookUrl`, and then a rule on the
 * vidflow bus, a queue with its dead-letter queue, a fifth function fed one message at a time,
 * a signing secret, and grants no wider than the function's code needs.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DETAIL_TYPES } from '../../functions/adapters/events.js';
import { DEFAULT_WEBHOOK_RETRY_DELAYS_MS } from '../../functions/adapters/webhooks.js';
import { EnvName } from '../../functions/config/env-names.js';
import { StackContextError } from '../../infra/context.js';
import {
  type CfnTemplate,
  createVidflowStack,
  findOptionalFunction,
  findVidflowFunctions,
  type TemplateFunction,
} from '../../infra/synth.js';
import { OptionalFunctionName } from '../../infra/vidflow-function.js';
import { WEBHOOK_MAX_RECEIVE_COUNT } from '../../infra/webhook-delivery.js';

type Json = Record<string, unknown>;

const WEBHOOK_URL = 'https://hooks.example.com/vidflow';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/webhook-AbCdEf';

function templateWith(context: Json = {}): Template {
  return Template.fromStack(createVidflowStack({ bundle: false, context }).stack);
}

function asRecord(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`expected an object, got ${JSON.stringify(value)}`);
  }
  return value as Json;
}

function asArray(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error(`expected an array, got ${JSON.stringify(value)}`);
  return value;
}

function resourcesOfType(template: CfnTemplate, type: string): Array<[string, Json]> {
  return Object.entries(asRecord(template.Resources))
    .map(([id, value]): [string, Json] => [id, asRecord(value)])
    .filter(([, value]) => value.Type === type);
}

function logicalIdOf(template: CfnTemplate, type: string, prefix: string): string {
  const match = resourcesOfType(template, type).find(([id]) => id.startsWith(prefix));
  if (match === undefined) throw new Error(`no ${type} named ${prefix}*`);
  return match[0];
}

/** Every statement of the policies attached to a function's role. */
function statementsOf(template: CfnTemplate, fn: TemplateFunction): Json[] {
  const [, resource] =
    resourcesOfType(template, 'AWS::Lambda::Function').find(([id]) => id === fn.logicalId) ?? [];
  const role = asRecord(asRecord(asRecord(resource).Properties).Role);
  const roleId = asArray(role['Fn::GetAtt'])[0];
  return resourcesOfType(template, 'AWS::IAM::Policy')
    .map(([, policy]) => asRecord(policy.Properties))
    .filter((props) => asArray(props.Roles).some((r) => asRecord(r).Ref === roleId))
    .flatMap((props) => asArray(asRecord(props.PolicyDocument).Statement).map(asRecord));
}

function webhookFunction(template: CfnTemplate): TemplateFunction {
  const fn = findOptionalFunction(template, OptionalFunctionName.webhook);
  if (fn === undefined) throw new Error('no webhook function in the template');
  return fn;
}

describe('webhook delivery with context webhookUrl', () => {
  let template: Template;
  let json: CfnTemplate;
  let fn: TemplateFunction;
  let queue: string;
  let deadLetterQueue: string;
  let secret: string;

  beforeAll(() => {
    template = templateWith({ webhookUrl: WEBHOOK_URL });
    json = template.toJSON();
    fn = webhookFunction(json);
    queue = logicalIdOf(json, 'AWS::SQS::Queue', 'WebhookDeliveryQueue');
    deadLetterQueue = logicalIdOf(json, 'AWS::SQS::Queue', 'WebhookDeliveryDeadLetterQueue');
    secret = logicalIdOf(json, 'AWS::SecretsManager::Secret', 'WebhookSecret');
  });

  it('routes the five terminal detail-types from source vidflow on the vidflow bus to the queue', () => {
    // Besides the sweeper's schedule, the one rule matching events.
    expect(Object.keys(eventRules(template))).toHaveLength(1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalIdOf(json, 'AWS::Events::EventBus', 'EventBus') },
      EventPattern: {
        source: ['vidflow'],
        'detail-type': ['Job Completed', 'Job Failed', 'Job Rejected', 'Job Timed Out', 'Job Cancelled'],
      },
      Targets: [
        {
          Id: Match.anyValue(),
          Arn: { 'Fn::GetAtt': [queue, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [deadLetterQueue, 'Arn'] } },
        },
      ],
    });
    expect(Object.values(DETAIL_TYPES)).toHaveLength(5);
  });

  it('lets only that rule send to the queue', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: Match.arrayWith(['sqs:SendMessage']),
            Condition: {
              ArnEquals: {
                'aws:SourceArn': {
                  'Fn::GetAtt': [logicalIdOf(json, 'AWS::Events::Rule', 'WebhookDelivery'), 'Arn'],
                },
              },
            },
          }),
        ]),
      },
    });
  });

  it('dead-letters a message after one receive per attempt of the retry schedule', () => {
    expect(WEBHOOK_MAX_RECEIVE_COUNT).toBe(DEFAULT_WEBHOOK_RETRY_DELAYS_MS.length + 1);
    const props = asRecord(asRecord(asRecord(json.Resources)[queue]).Properties);
    expect(props.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterQueue, 'Arn'] },
      maxReceiveCount: WEBHOOK_MAX_RECEIVE_COUNT,
    });
    // Retention counts from the first send: it must outlast every wait of the schedule.
    const scheduleSeconds = DEFAULT_WEBHOOK_RETRY_DELAYS_MS.reduce((sum, ms) => sum + ms, 0) / 1000;
    expect(scheduleSeconds).toBeGreaterThanOrEqual(3600);
    expect(props.MessageRetentionPeriod).toBeGreaterThan(scheduleSeconds);
    expect(props.VisibilityTimeout).toBeGreaterThanOrEqual(fn.timeoutSeconds);
  });

  it('keeps dead letters 14 days; both queues encrypted and TLS-only', () => {
    const dlqProps = asRecord(asRecord(asRecord(json.Resources)[deadLetterQueue]).Properties);
    expect(dlqProps.MessageRetentionPeriod).toBe(14 * 86400);
    for (const id of [queue, deadLetterQueue]) {
      expect(asRecord(asRecord(asRecord(json.Resources)[id]).Properties).SqsManagedSseEnabled).toBe(true);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('feeds the webhook function one message at a time, with partial batch failures', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
      FunctionName: { Ref: fn.logicalId },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('runs the webhook handler like the other functions, configured only through EnvName', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Tags: Match.arrayWith([{ Key: 'vidflow:function', Value: 'webhook' }]),
    });
    expect(fn.timeoutSeconds).toBe(30);
    expect(fn.environment).toEqual({
      [EnvName.webhookUrl]: WEBHOOK_URL,
      [EnvName.webhookSecretArn]: { Ref: secret },
      [EnvName.webhookQueueUrl]: { Ref: queue },
      [EnvName.serviceName]: 'vidflow',
      [EnvName.logLevel]: 'INFO',
    });
  });

  it('lets the function consume its queue and read its secret, and nothing else', () => {
    const statements = statementsOf(json, fn);
    const allowed = statements.map((s) => ({
      actions: [s.Action].flat().map(String).sort(),
      resource: s.Resource,
      effect: s.Effect,
    }));
    const logs = logicalIdOf(json, 'AWS::Logs::LogGroup', 'WebhookDeliveryWebhookLogs');
    expect(allowed).toEqual([
      {
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resource: { 'Fn::GetAtt': [logs, 'Arn'] },
        effect: 'Allow',
      },
      // X-Ray offers no resource-level permissions.
      { actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resource: '*', effect: 'Allow' },
      {
        actions: [
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
        ],
        resource: { 'Fn::GetAtt': [queue, 'Arn'] },
        effect: 'Allow',
      },
      {
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        resource: { Ref: secret },
        effect: 'Allow',
      },
    ]);
    expect(allowed.flatMap((s) => s.actions).filter((action) => action.includes('*'))).toEqual([]);
  });

  it('creates the signing secret vidflow/webhook-secret with a generated placeholder, and outputs it', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'vidflow/webhook-secret',
      GenerateSecretString: { PasswordLength: 32, ExcludePunctuation: true },
    });
    template.hasOutput('WebhookSecretArn', { Value: { Ref: secret } });
    template.hasOutput('WebhookDeadLetterQueueUrl', { Value: { Ref: deadLetterQueue } });
  });

  it('leaves the five pipeline functions as they are', () => {
    expect(Object.keys(findVidflowFunctions(json)).sort()).toEqual(
      ['check', 'finalize', 'record-failure', 'submit', 'sweep'].sort(),
    );
    template.resourceCountIs('AWS::Lambda::Function', 6 + 1); // + the bucket notifications handler
  });
});

describe('webhook delivery with an existing secret', () => {
  it('grants reading that secret and creates none', () => {
    const template = templateWith({ webhookUrl: WEBHOOK_URL, webhookSecretArn: SECRET_ARN });
    const json = template.toJSON();
    const fn = webhookFunction(json);

    expect(resourcesOfType(json, 'AWS::SecretsManager::Secret').map(([id]) => id)).toEqual([
      logicalIdOf(json, 'AWS::SecretsManager::Secret', 'ProviderApiKey'),
    ]);
    expect(fn.environment[EnvName.webhookSecretArn]).toBe(SECRET_ARN);
    const secretStatement = statementsOf(json, fn).find((s) =>
      [s.Action].flat().includes('secretsmanager:GetSecretValue'),
    );
    expect(secretStatement?.Resource).toBe(SECRET_ARN);
    template.hasOutput('WebhookSecretArn', { Value: SECRET_ARN });
  });
});

/** The EventBridge rules matching events (the sweeper's schedule is a rule too, without a pattern). */
function eventRules(template: Template): Record<string, unknown> {
  return template.findResources('AWS::Events::Rule', { Properties: { EventPattern: Match.anyValue() } });
}

describe('without webhookUrl', () => {
  it('creates no rule, webhook queue, event source, webhook function or webhook secret', () => {
    const template = templateWith();
    const json = template.toJSON();

    expect(Object.keys(eventRules(template))).toHaveLength(0);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    expect(resourcesOfType(json, 'AWS::SQS::Queue').map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual([
      'SubmitDeadLetterQueue',
    ]);
    expect(findOptionalFunction(json, OptionalFunctionName.webhook)).toBeUndefined();
    expect(resourcesOfType(json, 'AWS::SecretsManager::Secret')).toHaveLength(1);
    expect(Object.keys(asRecord(json.Outputs)).filter((name) => name.startsWith('Webhook'))).toEqual([]);
  });
});

describe('webhook context', () => {
  it.each([
    [{ webhookUrl: 'http://hooks.example.com/vidflow' }, /webhookUrl.*https/],
    [{ webhookUrl: 'hooks.example.com' }, /webhookUrl/],
    [{ webhookUrl: WEBHOOK_URL, webhookSecretArn: 'acme/webhook' }, /webhookSecretArn/],
    [{ webhookSecretArn: SECRET_ARN }, /webhookSecretArn.*webhookUrl/],
  ])('rejects %j with a StackContextError', (context, message) => {
    expect(() => createVidflowStack({ context })).toThrow(StackContextError);
    expect(() => createVidflowStack({ context })).toThrow(message);
  });
});
