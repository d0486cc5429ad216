/**
 * CloudFront in front of the input bucket, so the provider's upstream can fetch inputs too big
 * for a data URI: it sends HEAD then GET, and an S3 URL presigned for GET answers HEAD with 403.
 * A CloudFront signed URL (canned policy, signed by the submit and sweep functions with a private
 * key kept in Secrets Manager) answers both, over HTTPS on a domain name, with the object's
 * Content-Type and Content-Length and no redirect. The bucket stays private: CloudFront reads it
 * through origin access control, for GET and HEAD only; viewers need a signed URL (trusted key group).
 */
import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  KeyGroup,
  PriceClass,
  PublicKey,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Grant } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EnvName } from '../functions/config/env-names.js';
import { acknowledgeNagFinding } from './nag.js';

export interface InputCdnProps {
  readonly inputBucket: IBucket;
  /** The PEM public key (RSA 2048) whose private key signs input URLs. */
  readonly publicKeyPem: string;
  /** @default RemovalPolicy.RETAIN for the signing-key secret */
  readonly removalPolicy?: RemovalPolicy;
}

export class InputCdn extends Construct {
  readonly distribution: Distribution;
  readonly publicKey: PublicKey;
  /** Holds the PEM private key; its value is set by the operator after the first deploy. */
  readonly signingKeySecret: Secret;

  constructor(scope: Construct, id: string, props: InputCdnProps) {
    super(scope, id);
    this.publicKey = new PublicKey(this, 'SigningPublicKey', {
      encodedKey: props.publicKeyPem,
      comment: 'vidflow: verifies signed input URLs',
    });
    const keyGroup = new KeyGroup(this, 'SigningKeyGroup', { items: [this.publicKey] });
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'vidflow: signed input URLs for the provider (HEAD and GET)',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(props.inputBucket),
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        trustedKeyGroups: [keyGroup],
        // Each input is fetched about twice, once: caching only adds a stale copy to think about.
        cachePolicy: CachePolicy.CACHING_DISABLED,
      },
      priceClass: PriceClass.PRICE_CLASS_100,
    });
    this.signingKeySecret = new Secret(this, 'SigningPrivateKey', {
      description:
        'vidflow: the PEM private key that signs input URLs (the pair of the inputCdnPublicKeyFile context value). Set it after the first deploy.',
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    acknowledgeNagFinding(
      this.signingKeySecret,
      'AwsSolutions-SMG4',
      'A CloudFront signing key rotates with its public key in the key group: rotated by hand (see the deploy guide).',
    );
    acknowledgeNagFinding(
      this.distribution,
      'AwsSolutions-CFR1',
      'The provider fetches from wherever it runs: no geo restriction can be known in advance.',
    );
    acknowledgeNagFinding(
      this.distribution,
      'AwsSolutions-CFR2',
      'Every request needs a signed URL (trusted key group); a WAF would add cost without a rule to apply.',
    );
    acknowledgeNagFinding(
      this.distribution,
      'AwsSolutions-CFR3',
      'Inputs are fetched by one party with short-lived signed URLs; S3 access logs of the bucket remain.',
    );
    acknowledgeNagFinding(
      this.distribution,
      'AwsSolutions-CFR4',
      'The default *.cloudfront.net certificate allows no minimum TLS setting; the provider connects over TLS 1.2+.',
    );
    new CfnOutput(scope, 'InputCdnDomainName', { value: this.distribution.distributionDomainName });
    new CfnOutput(scope, 'InputCdnSigningKeySecretArn', { value: this.signingKeySecret.secretArn });
  }

  /** The environment a function needs to sign input URLs (with {@link grantSign}). */
  get environment(): Readonly<Partial<Record<EnvName, string>>> {
    return {
      [EnvName.inputCdnUrl]: `https://${this.distribution.distributionDomainName}`,
      [EnvName.inputCdnKeyPairId]: this.publicKey.publicKeyId,
      [EnvName.inputCdnPrivateKeySecretArn]: this.signingKeySecret.secretArn,
    };
  }

  /** GetSecretValue on the signing key alone (grantRead would add DescribeSecret). */
  grantSign(grantee: IGrantable): void {
    Grant.addToPrincipal({
      grantee,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [this.signingKeySecret.secretArn],
    });
  }
}
