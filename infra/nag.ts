/**
 * cdk-nag's AwsSolutions pack, run on every synthesis (`cdk synth` and `infra/synth.ts` alike):
 * an unacknowledged finding fails synthesis. Findings are acknowledged next to the construct they
 * concern, each with its rule, the exact finding where the rule reports several, and a reason.
 */
import { type PolicyViolation, Stack, Validations } from 'aws-cdk-lib';
import { ManagedPolicy } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** AwsSolutions rules the stack acknowledges somewhere; `test/infra/nag.test.ts` lists where. */
export type NagRuleId =
  | 'AwsSolutions-CFR1'
  | 'AwsSolutions-CFR2'
  | 'AwsSolutions-CFR3'
  | 'AwsSolutions-CFR4'
  | 'AwsSolutions-IAM4'
  | 'AwsSolutions-IAM5'
  | 'AwsSolutions-S1'
  | 'AwsSolutions-SF1'
  | 'AwsSolutions-SMG4'
  | 'AwsSolutions-SQS3';

/** Registers the AwsSolutions pack on `app`: synthesis then fails on any unacknowledged finding. */
export function addNagChecks(app: IConstruct): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/** Unacknowledged AwsSolutions findings (errors and warnings alike) remain in the stack. */
export class NagFindingsError extends Error {
  override readonly name = 'NagFindingsError';
  constructor(readonly violations: readonly PolicyViolation[]) {
    super(
      `cdk-nag AwsSolutions findings:\n${violations
        .flatMap((v) =>
          v.violatingResources.map(
            (r) => `  ${v.ruleName} (${v.severity}) at ${r.constructPath}: ${v.description}`,
          ),
        )
        .join('\n')}`,
    );
  }
}

/**
 * Runs the same AwsSolutions pack directly on `scope`, without CDK's policy-validation report
 * (which adds about three seconds to a cold synthesis): what the in-process synthesis uses.
 *
 * @returns every unacknowledged finding, errors and warnings; empty when clean.
 */
export function findNagViolations(scope: IConstruct): PolicyViolation[] {
  return new AwsSolutionsChecks().validateScope(scope).violations;
}

/**
 * @throws NagFindingsError when `scope` has an unacknowledged AwsSolutions finding.
 */
export function assertNoNagFindings(scope: IConstruct): void {
  const violations = findNagViolations(scope);
  if (violations.length > 0) throw new NagFindingsError(violations);
}

/**
 * Acknowledges a finding of `ruleId` on `scope` and everything under it.
 *
 * @param appliesTo the one finding acknowledged, for rules that report several per resource
 *   (IAM4 `Policy::...`, IAM5 `Resource::...`/`Action::...`); see {@link nagResource}.
 */
export function acknowledgeNagFinding(
  scope: IConstruct,
  ruleId: NagRuleId,
  reason: string,
  appliesTo?: string,
): void {
  Validations.of(scope).acknowledge({
    id: appliesTo === undefined ? ruleId : `${ruleId}[${appliesTo}]`,
    reason,
  });
}

/**
 * How cdk-nag spells the resource `arn` in a finding: tokens are resolved in `scope`'s stack and
 * flattened as cdk-nag flattens them (`Ref` -> `<Name>`, `Fn::GetAtt` -> `<Name.Attr>`,
 * `Fn::Join` joined). Built from the stack's own tokens, so the acknowledgement holds whether the
 * stack has a concrete region and account (`cdk synth` always gives one) or none.
 *
 * @throws Error when `arn` resolves to an intrinsic cdk-nag does not flatten this way.
 */
export function nagResource(scope: IConstruct, arn: string): string {
  return flattenReference(Stack.of(scope).resolve(arn));
}

function flattenReference(node: unknown): string {
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const join: unknown = (node as Record<string, unknown>)['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
      return join[1].map(flattenReference).join(join[0]);
    }
    const ref: unknown = (node as Record<string, unknown>).Ref;
    if (typeof ref === 'string') return `<${ref}>`;
    const getAtt: unknown = (node as Record<string, unknown>)['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt.length === 2) return `<${getAtt.map(flattenReference).join('.')}>`;
  }
  throw new Error(`vidflow: cannot spell ${JSON.stringify(node)} as a cdk-nag finding`);
}

/** `Policy::...` of a finding on the AWS managed policy `name` (IAM4), spelled in `scope`'s stack. */
export function nagManagedPolicy(scope: IConstruct, name: string): string {
  return `Policy::${nagResource(scope, ManagedPolicy.fromAwsManagedPolicyName(name).managedPolicyArn)}`;
}
