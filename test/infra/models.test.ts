/**
 * The deployment's model choice in the synthesized stack: context `defaultModel` and
 * `allowedModels` reach both functions that may POST (submit and sweep), and ids the catalog does
 * not have fail the synth before anything is deployed.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EnvName } from '../../functions/config/env-names.js';
import { StackContextError } from '../../infra/context.js';
import { createVidflowStack, findVidflowFunctions } from '../../infra/synth.js';

function functionsOf(context: Record<string, unknown>) {
  const template = Template.fromStack(createVidflowStack({ context, bundle: false }).stack);
  return findVidflowFunctions(template.toJSON() as Record<string, unknown>);
}

describe('models in the stack', () => {
  it('sets no model variables by default: every catalog model, runway/gen4_aleph by default', () => {
    const fns = functionsOf({});
    for (const fn of [fns.submit, fns.sweep]) {
      expect(fn.environment[EnvName.defaultModel]).toBeUndefined();
      expect(fn.environment[EnvName.allowedModels]).toBeUndefined();
    }
  });

  it.each([
    ['a JSON array', ['runway/act_two', 'krea/krea-wan-14b/video-to-video']],
    ['a comma-separated string', 'runway/act_two, krea/krea-wan-14b/video-to-video'],
  ])('passes defaultModel and allowedModels given as %s to submit and sweep', (_kind, allowedModels) => {
    const fns = functionsOf({ defaultModel: 'runway/act_two', allowedModels });
    for (const fn of [fns.submit, fns.sweep]) {
      expect({
        defaultModel: fn.environment[EnvName.defaultModel],
        allowedModels: fn.environment[EnvName.allowedModels],
      }).toStrictEqual({
        defaultModel: 'runway/act_two',
        allowedModels: 'runway/act_two,krea/krea-wan-14b/video-to-video',
      });
    }
    expect(fns.check.environment[EnvName.allowedModels]).toBeUndefined();
  });

  it.each([
    [
      { defaultModel: 'runway/aleph2' },
      'context "defaultModel": default model "runway/aleph2" is not in the catalog',
    ],
    [{ allowedModels: 'runway/act_two' }, 'is not among the allowed models'],
    [{ allowedModels: ['runway/gen4_aleph', 'nope'] }, 'allowed model "nope" is not in the catalog'],
    [{ allowedModels: [] }, 'expected at least one model id'],
  ])('refuses %j', (context, message) => {
    expect(() => functionsOf(context)).toThrow(StackContextError);
    expect(() => functionsOf(context)).toThrow(message);
  });
});
