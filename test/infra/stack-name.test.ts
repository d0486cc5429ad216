/**
 * The `stackName` context key: it names the stack and prefixes every physical name, so a
 * development and a production deployment can share an account and region.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { StackContextError } from '../../infra/context.js';
import { physicalNames, stackNameProblem } from '../../infra/physical-names.js';
import { createVidflowStack } from '../../infra/synth.js';

type Json = Record<string, unknown>;

/** Every literal `Name`-like property of the template's resources, by resource type. */
function physicalNamesIn(template: Template): Record<string, string[]> {
  const names: Record<string, string[]> = {};
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: Json }>;
  for (const resource of Object.values(resources)) {
    for (const [key, value] of Object.entries(resource.Properties ?? {})) {
      if (!/Name$/.test(key) || typeof value !== 'string') continue;
      // Not physical names: inline policy names are scoped to their role, display names are labels.
      if (['MetricName', 'AttributeName', 'IndexName', 'PolicyName', 'DisplayName'].includes(key)) continue;
      const type = `${resource.Type}.${key}`;
      names[type] = [...(names[type] ?? []), value];
    }
  }
  return names;
}

/** The POWERTOOLS_SERVICE_NAME of every vidflow function (CDK's own custom-resource handlers have none). */
function serviceNames(template: Template): Set<unknown> {
  const functions = template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: Match.anyValue() } } },
  });
  expect(Object.keys(functions).length).toBeGreaterThanOrEqual(5);
  return new Set(
    Object.values(functions).map(
      (fn) =>
        (fn as { Properties: { Environment: { Variables: Json } } }).Properties.Environment.Variables
          .POWERTOOLS_SERVICE_NAME,
    ),
  );
}

describe('physicalNames', () => {
  it('keeps the names of earlier versions for the default stack Vidflow', () => {
    expect(physicalNames()).toEqual({
      stackName: 'Vidflow',
      prefix: 'vidflow',
      eventBus: 'vidflow',
      providerSecret: 'vidflow/provider-api-key',
      webhookSecret: 'vidflow/webhook-secret',
      dashboard: 'vidflow',
      stateMachine: 'Vidflow-jobs',
      service: 'vidflow',
    });
  });

  it.each([
    ['VidflowDev', 'vidflow-dev'],
    ['vidflow-prod', 'vidflow-prod'],
    ['VIDFLOWStaging2', 'vidflow-staging2'],
    ['A', 'a'],
  ])('derives the prefix of %s as %s', (stackName, prefix) => {
    const names = physicalNames(stackName);
    expect(names.prefix).toBe(prefix);
    expect(names.providerSecret).toBe(`${prefix}/provider-api-key`);
    expect(names.stateMachine).toBe(`${stackName}-jobs`);
  });

  it.each(['', '1vidflow', 'vid_flow', 'vid flow', 'a'.repeat(76)])('refuses the stack name "%s"', (name) => {
    expect(stackNameProblem(name)).toBeTypeOf('string');
    expect(() => physicalNames(name)).toThrow(/stack name|longer than/);
  });
});

describe('the stackName context key', () => {
  const plain = Template.fromStack(createVidflowStack({ context: {} }).stack);
  const devStack = createVidflowStack({
    context: { stackName: 'VidflowDev', webhookUrl: 'https://hooks.example.com/x' },
  }).stack;
  const dev = Template.fromStack(devStack);

  it('names the stack', () => {
    expect(createVidflowStack({ context: {} }).stack.stackName).toBe('Vidflow');
    expect(devStack.stackName).toBe('VidflowDev');
  });

  it('prefixes every physical name of the stack, and the functions log and count under it', () => {
    expect(physicalNamesIn(plain)).toEqual({
      'AWS::Events::EventBus.Name': ['vidflow'],
      'AWS::SecretsManager::Secret.Name': ['vidflow/provider-api-key'],
      'AWS::StepFunctions::StateMachine.StateMachineName': ['Vidflow-jobs'],
      'AWS::CloudWatch::Dashboard.DashboardName': ['vidflow'],
    });
    expect(physicalNamesIn(dev)).toEqual({
      'AWS::Events::EventBus.Name': ['vidflow-dev'],
      'AWS::SecretsManager::Secret.Name': ['vidflow-dev/provider-api-key', 'vidflow-dev/webhook-secret'],
      'AWS::StepFunctions::StateMachine.StateMachineName': ['VidflowDev-jobs'],
      'AWS::CloudWatch::Dashboard.DashboardName': ['vidflow-dev'],
    });
    expect(serviceNames(plain)).toEqual(new Set(['vidflow']));
    expect(serviceNames(dev)).toEqual(new Set(['vidflow-dev']));
    dev.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'StuckJobsResolved',
      Dimensions: [{ Name: 'service', Value: 'vidflow-dev' }],
    });
  });

  it('lets eventBusName still override the bus name', () => {
    const custom = Template.fromStack(
      createVidflowStack({ context: { stackName: 'VidflowDev', eventBusName: 'shared-bus' } }).stack,
    );
    expect(physicalNamesIn(custom)['AWS::Events::EventBus.Name']).toEqual(['shared-bus']);
  });

  it('stops the synthesis on a malformed stack name', () => {
    expect(() => createVidflowStack({ context: { stackName: 'vidflow_dev' } })).toThrow(StackContextError);
    expect(() => createVidflowStack({ context: { stackName: 'vidflow_dev' } })).toThrow(
      /context "stackName"/,
    );
  });
});
