/**
 * A Secrets Manager secret the stack either adopts (by its complete ARN) or creates with a
 * generated placeholder: the provider API key and the default webhook endpoint's signing secret.
 */
import type { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { acknowledgeNagFinding } from './nag.js';

export interface PipelineSecretProps {
  /** Complete ARN of an existing secret to adopt; absent: one is created. */
  readonly existingArn?: string;
  /** Name of the created secret (physical-names.ts). */
  readonly secretName: string;
  /** Description of the created secret, saying what to put in it. */
  readonly description: string;
  /** Why the created secret is not rotated by Secrets Manager (cdk-nag AwsSolutions-SMG4). */
  readonly noRotationReason: string;
  /** What happens to the created secret when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * An adopted or created secret, with a grant in the CDK's style.
 *
 * Not a construct of its own on purpose: a construct scope would change the secret's logical ID
 * in a deployed stack, which would replace the secret (and lose the value the user put in it).
 * The secret stays in the stack's scope under `id`.
 */
export class PipelineSecret {
  readonly secret: ISecret;

  constructor(scope: Stack, id: string, props: PipelineSecretProps) {
    if (props.existingArn !== undefined) {
      this.secret = Secret.fromSecretCompleteArn(scope, id, props.existingArn);
      return;
    }
    const created = new Secret(scope, id, {
      secretName: props.secretName,
      description: props.description,
      // Letters and digits only: 32 of them are also valid base64 (a 24-byte key), as the
      // Standard Webhooks library wants of a signing secret.
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy: props.removalPolicy,
    });
    acknowledgeNagFinding(created, 'AwsSolutions-SMG4', props.noRotationReason);
    this.secret = created;
  }

  get secretArn(): string {
    return this.secret.secretArn;
  }

  /**
   * Lets `grantee` read the secret's value: GetSecretValue alone (`Secret.grantRead` would add
   * DescribeSecret, which the code never calls).
   */
  grantReadValue(grantee: IGrantable): void {
    Grant.addToPrincipal({
      grantee,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [this.secret.secretArn],
    });
  }
}
