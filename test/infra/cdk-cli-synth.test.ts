/**
 * The deploy path as users run it: the real `cdk synth` (the CDK CLI running `cdk.json`'s app),
 * not only the in-process synthesis the other infra tests use. The CLI always synthesizes with a
 * concrete region (`CDK_DEFAULT_REGION`, `us-east-1` when nothing is configured), which is where a
 * nag acknowledgement spelled with `<AWS::Region>` used to stop matching.
 */

import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '../..');
const outDirs: string[] = [];
const INPUT_CDN_PUBLIC_KEY_FILE = join(mkdtempSync(join(tmpdir(), 'vidflow-cdn-key-')), 'public.pem');
writeFileSync(
  INPUT_CDN_PUBLIC_KEY_FILE,
  generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }),
);

interface SynthResult {
  readonly code: number | null;
  readonly output: string;
  readonly template: { Resources: Record<string, { Type: string }> } | undefined;
}

/** Runs `npx cdk synth --quiet` in the repository with `env` overrides; `undefined` unsets a variable. */
async function runCdkSynth(env: Record<string, string | undefined>, context: string[]): Promise<SynthResult> {
  const outDir = await mkdtemp(join(tmpdir(), 'vidflow-cdk-out-'));
  outDirs.push(outDir);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true' };
  // A developer's own AWS settings must not leak into "a fresh clone with nothing configured".
  for (const name of [
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_PROFILE',
    'CDK_DEFAULT_REGION',
    'CDK_DEFAULT_ACCOUNT',
  ]) {
    delete childEnv[name];
  }
  childEnv.AWS_CONFIG_FILE = join(outDir, 'no-aws-config');
  childEnv.AWS_SHARED_CREDENTIALS_FILE = join(outDir, 'no-aws-credentials');
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[name];
    else childEnv[name] = value;
  }
  const args = [
    'cdk',
    'synth',
    '--quiet',
    '--no-notices',
    '--output',
    outDir,
    ...context.flatMap((c) => ['-c', c]),
  ];
  const child = spawn('npx', args, { cwd: REPO, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  let template: SynthResult['template'];
  try {
    template = JSON.parse(await readFile(join(outDir, 'Vidflow.template.json'), 'utf8'));
  } catch {
    template = undefined;
  }
  return { code, output, template };
}

afterAll(async () => {
  await Promise.all(outDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('npx cdk synth (the CDK CLI, as a new user runs it)', () => {
  it.each([
    [
      'with a concrete account and region',
      { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'us-east-1' },
      [],
    ],
    ['in another region', { CDK_DEFAULT_ACCOUNT: '210987654321', CDK_DEFAULT_REGION: 'eu-west-3' }, []],
    ['with no account or region configured', {}, []],
    [
      'with the documented context keys',
      { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'ap-southeast-2' },
      [
        'inputBucketName=my-vidflow-input',
        'outputBucketName=my-vidflow-output',
        'jobTimeoutMinutes=45',
        'maxInputMiB=32',
        'providerSecretArn=arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:vidflow/key-AbCdEf',
        'webhookUrl=https://hooks.example.com/vidflow',
        'alarmEmail=ops@example.com',
        'bucketKms=true',
        'archiveInputsAfterDays=30',
        'maxInFlight=5',
        'dailyCreditBudget=1000',
        'creditsPerJobEstimate=50',
        'removalPolicy=destroy',
        `inputCdnPublicKeyFile=${INPUT_CDN_PUBLIC_KEY_FILE}`,
      ],
    ],
  ])(
    'exits 0 with no unacknowledged cdk-nag finding %s',
    async (_name, env, context) => {
      const result = await runCdkSynth(env, context);
      expect(result.output).not.toMatch(/AwsSolutions-|Synthesis finished with errors/);
      expect(result.code).toBe(0);
      const types = Object.values(result.template?.Resources ?? {}).map((r) => r.Type);
      expect(types).toContain('AWS::StepFunctions::StateMachine');
    },
    240_000,
  );
});
