/**
 * The input CDN (context `inputCdnPublicKey`): CloudFront with origin access control in front of
 * the private input bucket, GET and HEAD only, signed URLs required, and the submit and sweep
 * functions able to sign (the key's secret, nothing more).
 */
import { generateKeyPairSync } from 'node:crypto';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { findNagViolations } from '../../infra/nag.js';
import { createVidflowStack } from '../../infra/synth.js';

const PUBLIC_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

describe('the input CDN', () => {
  const { stack } = createVidflowStack({ context: { inputCdnPublicKey: PUBLIC_KEY } });
  const template = Template.fromStack(stack);

  it('leaves no unacknowledged cdk-nag finding', () => {
    expect(findNagViolations(stack).map((v) => `${v.ruleName} (${v.severity})`)).toEqual([]);
  });

  it('serves GET and HEAD over HTTPS only, to signed URLs of its key group, through origin access control', () => {
    template.resourceCountIs('AWS::CloudFront::Distribution', 1);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          AllowedMethods: ['GET', 'HEAD'],
          ViewerProtocolPolicy: 'https-only',
          TrustedKeyGroups: [Match.anyValue()],
        }),
        Origins: [Match.objectLike({ OriginAccessControlId: Match.anyValue() })],
      }),
    });
    template.hasResourceProperties('AWS::CloudFront::PublicKey', {
      PublicKeyConfig: Match.objectLike({ EncodedKey: PUBLIC_KEY.trim() }),
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Principal: { Service: 'cloudfront.amazonaws.com' },
          }),
        ]),
      },
    });
  });

  it('gives submit and sweep the distribution, the key id and the signing key secret', () => {
    {
      const functions = template.findResources('AWS::Lambda::Function', {
        Properties: {
          Environment: {
            Variables: Match.objectLike({
              VIDFLOW_INPUT_CDN_URL: Match.anyValue(),
              VIDFLOW_INPUT_CDN_KEY_PAIR_ID: Match.anyValue(),
              VIDFLOW_INPUT_CDN_PRIVATE_KEY_SECRET_ARN: Match.anyValue(),
            }),
          },
        },
      });
      expect(
        Object.keys(functions)
          .map((id) => id.replace(/Function[0-9A-F]{8}$/, ''))
          .sort(),
      ).toEqual(['Submit', 'Sweep']);
    }
  });

  it('creates nothing of it without the context key', () => {
    const { stack: plain } = createVidflowStack();
    Template.fromStack(plain).resourceCountIs('AWS::CloudFront::Distribution', 0);
  });
});
