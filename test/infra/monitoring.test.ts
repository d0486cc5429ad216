import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { StackContextError } from '../../infra/context.js';
import { createVidflowStack, findOptionalFunction, findVidflowFunctions } from '../../infra/synth.js';
import { OptionalFunctionName } from '../../infra/vidflow-function.js';

type Json = Record<string, unknown>;

const WEBHOOK = { webhookUrl: 'https://hooks.example.com/vidflow' };

function templateWith(context: Json = {}): Template {
  return Template.fromStack(createVidflowStack({ context }).stack);
}

function onlyLogicalId(template: Template, type: string, props: Json = {}): string {
  const ids = Object.keys(template.findResources(type, props));
  expect(ids).toHaveLength(1);
  return ids[0] ?? '';
}

function asJson(value: unknown): Json {
  expect(typeof value).toBe('object');
  return value as Json;
}

function topicId(template: Template): string {
  return onlyLogicalId(template, 'AWS::SNS::Topic');
}

/** The one alarm on `metricName` whose dimension `name` resolves to `value`. */
function alarmOn(template: Template, metricName: string, dimension: { Name: string; Value: unknown }): Json {
  const alarms = Object.values(
    template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { MetricName: metricName, Dimensions: [dimension] },
    }),
  );
  expect(alarms).toHaveLength(1);
  return (alarms[0] as { Properties: Json }).Properties;
}

function expectNotifyingAlarm(template: Template, props: Json, namespace: string, statistic: string): void {
  const topic = { Ref: topicId(template) };
  expect(props).toMatchObject({
    Namespace: namespace,
    Statistic: statistic,
    Period: 300,
    EvaluationPeriods: 1,
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: [topic],
    OKActions: [topic],
  });
}

describe('pipeline monitoring', () => {
  const template = templateWith(WEBHOOK);
  const json = template.toJSON() as Json;
  const stateMachine = onlyLogicalId(template, 'AWS::StepFunctions::StateMachine');

  it('sends alarms to a TLS-only topic encrypted with a rotated key CloudWatch may use', () => {
    const key = onlyLogicalId(template, 'AWS::KMS::Key');
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Principal: { Service: 'cloudwatch.amazonaws.com' },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] } });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId(template) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
          }),
        ]),
      },
    });
    expect((json.Outputs as Json).AlarmTopicArn).toEqual({ Value: { Ref: topicId(template) } });
  });

  it.each([['ExecutionsFailed'], ['ExecutionsTimedOut']])(
    'alarms on the state machine %s >= 1 over 5 minutes',
    (metricName) => {
      const props = alarmOn(template, metricName, { Name: 'StateMachineArn', Value: { Ref: stateMachine } });
      expectNotifyingAlarm(template, props, 'AWS/States', 'Sum');
    },
  );

  it('alarms on each dead-letter queue holding a message', () => {
    for (const queue of ['SubmitDeadLetterQueue', 'WebhookDeliveryDeadLetterQueue']) {
      const queueId = Object.keys(template.findResources('AWS::SQS::Queue')).find((id) =>
        new RegExp(`^${queue}[0-9A-F]{8}$`).test(id),
      );
      expect(queueId).toBeDefined();
      const props = alarmOn(template, 'ApproximateNumberOfMessagesVisible', {
        Name: 'QueueName',
        Value: { 'Fn::GetAtt': [queueId, 'QueueName'] },
      });
      expectNotifyingAlarm(template, props, 'AWS/SQS', 'Maximum');
    }
  });

  it('alarms on every function erring within 5 minutes, the webhook functions included', () => {
    const functions = Object.values(findVidflowFunctions(json));
    for (const name of [OptionalFunctionName.webhook, OptionalFunctionName.webhookFanOut]) {
      const fn = findOptionalFunction(json, name);
      expect(fn?.logicalId).toMatch(/^WebhookDelivery/);
      if (fn !== undefined) functions.push(fn);
    }
    for (const fn of functions) {
      const props = alarmOn(template, 'Errors', { Name: 'FunctionName', Value: { Ref: fn.logicalId } });
      expectNotifyingAlarm(template, props, 'AWS/Lambda', 'Sum');
    }
    // Executions failed and timed out, two dead-letter queues, seven functions, stuck jobs, and the
    // webhook delivery's own two (an endpoint disabled, the fan-out dead-letter queue).
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2 + 2 + 7 + 1 + 2);
  });

  it('alarms on the sweeper resolving a stuck job, counted from its log lines', () => {
    const sweep = findVidflowFunctions(json).sweep;
    const logGroup = asJson(asJson(asJson(json.Resources)[sweep.logicalId]).Properties).LoggingConfig;
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: asJson(logGroup).LogGroup,
      FilterPattern: '{ $.message = "sweeper resolved stuck jobs" }',
      MetricTransformations: [
        {
          MetricNamespace: 'vidflow',
          MetricName: 'StuckJobsResolved',
          MetricValue: '$.resolved',
          Dimensions: [{ Key: 'service', Value: '$.service' }],
        },
      ],
    });
    const alarms = Object.values(
      template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'StuckJobsResolved' } }),
    );
    expect(alarms).toHaveLength(1);
    const props = (alarms[0] as { Properties: Json }).Properties;
    expectNotifyingAlarm(template, props, 'vidflow', 'Sum');
    // The sweeper logs with the stack's service name: the alarm counts this deployment's lines only.
    expect(props.Dimensions).toEqual([{ Name: 'service', Value: 'vidflow' }]);
    const sweepEnvironment = asJson(
      asJson(asJson(asJson(json.Resources)[sweep.logicalId]).Properties).Environment,
    );
    expect(asJson(sweepEnvironment.Variables).POWERTOOLS_SERVICE_NAME).toBe('vidflow');
  });

  it('has the webhook alarms without a webhookUrl too: endpoints are data', () => {
    const plain = templateWith();
    plain.resourceCountIs('AWS::CloudWatch::Alarm', 2 + 2 + 7 + 1 + 2);
    const queueAlarms = plain.findResources('AWS::CloudWatch::Alarm', {
      Properties: { MetricName: 'ApproximateNumberOfMessagesVisible' },
    });
    expect(Object.keys(queueAlarms)).toHaveLength(3);
  });

  it('subscribes the alarm email only when alarmEmail is set', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    const withEmail = templateWith({ alarmEmail: 'oncall@example.com' });
    withEmail.resourceCountIs('AWS::SNS::Subscription', 1);
    withEmail.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: topicId(withEmail) },
    });
  });

  it('rejects a malformed alarmEmail', () => {
    expect(() => createVidflowStack({ context: { alarmEmail: 'not-an-address' } })).toThrow(
      StackContextError,
    );
    expect(() => createVidflowStack({ context: { alarmEmail: 'a b@example.com' } })).toThrow(/alarmEmail/);
  });

  it('draws a "vidflow" dashboard of executions, function errors and duration, and queue depth', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const props = (dashboards[0] as { Properties: Json }).Properties;
    expect(props.DashboardName).toBe('vidflow');
    const joined = (props.DashboardBody as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]
      .map((part) => (typeof part === 'string' ? part : `{${JSON.stringify(part)}}`))
      .join('');
    const ref = (id: string): string => `{${JSON.stringify({ Ref: id })}}`;
    for (const metric of [
      'ExecutionsStarted',
      'ExecutionsSucceeded',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]) {
      expect(joined).toContain(`"AWS/States","${metric}","StateMachineArn","${ref(stateMachine)}"`);
    }
    const functions = [
      ...Object.values(findVidflowFunctions(json)),
      findOptionalFunction(json, OptionalFunctionName.webhook),
    ];
    for (const fn of functions) {
      expect(fn).toBeDefined();
      for (const metric of ['Errors', 'Duration']) {
        expect(joined).toContain(`"AWS/Lambda","${metric}","FunctionName","${ref(fn?.logicalId ?? '')}"`);
      }
    }
    expect(joined.match(/"AWS\/SQS","ApproximateNumberOfMessagesVisible","QueueName"/g)).toHaveLength(2);
  });
});
