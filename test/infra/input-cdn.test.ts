/**
 * The input CDN (context `inputCdnPublicKeyFile`): CloudFront with origin access control in front of
 * the private input bucket, GET and HEAD only, signed URLs required, and the submit and sweep
 * functions able to sign (the key's secret, nothing more).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { findNagViolations } from '../../infra/nag.js';
import { createVidflowStack } from '../../infra/synth.js';

const PUBLIC_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const PUBLIC_KEY_FILE = join(mkdtempSync(join(tmpdir(), 'vidflow-cdn-key-')), 'public.pem');
writeFileSync(PUBLIC_KEY_FILE, PUBLIC_KEY);

describe('the input CDN', () => {
  const { stack } = createVidflowStack({ context: { inputCdnPublicKeyFile: PUBLIC_KEY_FILE } });
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

  it('refuses a file that is not a PEM public key', () => {
    const notAKey = join(mkdtempSync(join(tmpdir(), 'vidflow-cdn-key-')), 'private.pem');
    writeFileSync(notAKey, 'ssh-rsa AAAA...');
    expect(() => createVidflowStack({ context: { inputCdnPublicKeyFile: notAKey } })).toThrow(
      /context "inputCdnPublicKeyFile": .* is not a PEM public key/,
    );
  });

  it('creates nothing of it without the context key', () => {
    const { stack: plain } = createVidflowStack();
    Template.fromStack(plain).resourceCountIs('AWS::CloudFront::Distribution', 0);
  });
});
