/**
 * The in-flight cap, the daily credit budget and the sweeper in the synthesized stack: the
 * context knobs reach both functions that may POST, the schedule runs the sweeper every minute,
 * and `vidflow --stack` can read the limits back.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EnvName } from '../../functions/config/env-names.js';
import { StackContextError } from '../../infra/context.js';
import { createVidflowStack, findVidflowFunctions } from '../../infra/synth.js';

type Json = Record<string, unknown>;

function synth(context: Json = {}) {
  const template = Template.fromStack(createVidflowStack({ context, bundle: false }).stack);
  return { template, json: template.toJSON() as Json };
}

describe('admission in the stack', () => {
  it('gives submit and sweep the default cap of 10, the credit estimate, and no budget', () => {
    const { json } = synth();
    const fns = findVidflowFunctions(json);
    for (const fn of [fns.submit, fns.sweep]) {
      expect(fn.environment[EnvName.maxInFlight]).toBe('10');
      expect(fn.environment[EnvName.creditsPerJobEstimate]).toBe('40');
      expect(fn.environment[EnvName.dailyCreditBudget]).toBeUndefined();
    }
    for (const fn of [fns.check, fns.finalize, fns['record-failure']]) {
      expect(fn.environment[EnvName.maxInFlight]).toBeUndefined();
    }
  });

  it('passes the context maxInFlight, dailyCreditBudget and creditsPerJobEstimate to both, and outputs them', () => {
    const { template, json } = synth({
      maxInFlight: '25',
      dailyCreditBudget: 1200,
      creditsPerJobEstimate: '35',
    });
    const fns = findVidflowFunctions(json);
    for (const fn of [fns.submit, fns.sweep]) {
      expect({
        cap: fn.environment[EnvName.maxInFlight],
        budget: fn.environment[EnvName.dailyCreditBudget],
        estimate: fn.environment[EnvName.creditsPerJobEstimate],
      }).toStrictEqual({ cap: '25', budget: '1200', estimate: '35' });
    }
    template.hasOutput('AdmissionLimits', {
      Value: JSON.stringify({ maxInFlight: 25, dailyCreditBudget: 1200, creditsPerJobEstimate: 35 }),
    });
  });

  it('runs the sweep function every minute, without EventBridge retries (the next minute is the retry)', () => {
    const { template, json } = synth();
    const sweep = findVidflowFunctions(json).sweep;
    const rules = Object.values(
      template.findResources('AWS::Events::Rule', { Properties: { ScheduleExpression: 'rate(1 minute)' } }),
    ) as { Properties: Json }[];
    expect(rules).toHaveLength(1);
    expect(rules[0]?.Properties).toMatchObject({
      State: 'ENABLED',
      Targets: [
        { Arn: { 'Fn::GetAtt': [sweep.logicalId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } },
      ],
    });
  });

  it.each([
    [{ maxInFlight: '-1' }, /maxInFlight/],
    [{ maxInFlight: 'ten' }, /maxInFlight/],
    [{ maxInFlight: 2.5 }, /maxInFlight/],
    [{ dailyCreditBudget: 'lots' }, /dailyCreditBudget/],
    [{ creditsPerJobEstimate: 0 }, /creditsPerJobEstimate/],
  ])('rejects malformed context %j with a StackContextError', (context, message) => {
    expect(() => createVidflowStack({ context, bundle: false })).toThrow(StackContextError);
    expect(() => createVidflowStack({ context, bundle: false })).toThrow(message);
  });
});
