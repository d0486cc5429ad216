/**
 * cdk-nag's AwsSolutions pack, run on every synthesis (`cdk synth` and `infra/synth.ts` alike):
 * an unacknowledged finding fails synthesis. Findings are acknowledged next to the construct they
 * concern, each with its rule, the exact finding where the rule reports several, and a reason.
 */
import { CfnElement, type PolicyViolation, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** AwsSolutions rules the stack acknowledges somewhere; `test/infra/nag.test.ts` lists where. */
export type NagRuleId =
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
 *   (IAM4 `Policy::...`, IAM5 `Resource::...`/`Action::...`); see {@link nagArn}.
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
 * How cdk-nag spells `Fn::GetAtt [resource, Arn]` in a finding, e.g. `<InputBucket3BF8630A.Arn>`.
 * `resource` is an L2 construct (its default child is used) or an L1.
 *
 * @throws Error when `resource` has no CloudFormation element.
 */
export function nagArn(resource: IConstruct): string {
  const element = CfnElement.isCfnElement(resource) ? resource : resource.node.defaultChild;
  if (element === undefined || !CfnElement.isCfnElement(element)) {
    throw new Error(`vidflow: ${resource.node.path} has no CloudFormation resource to name`);
  }
  return `<${Stack.of(element).getLogicalId(element)}.Arn>`;
}

/** `Policy::...` of a finding on the AWS managed policy `name` (IAM4). */
export function nagManagedPolicy(name: string): string {
  return `Policy::arn:<AWS::Partition>:iam::aws:policy/${name}`;
}
