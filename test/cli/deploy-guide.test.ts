/**
 * The README's "Deploying to AWS", walked top to bottom: every command of its code blocks is
 * either run here (the real `npx cdk synth`; each `deploy`/`diff`/`destroy` line synthesized with
 * its own `-c` options, cdk-nag included; each `vidflow --stack` line through the CLI against
 * mocked AWS clients) or, when it needs an AWS account, checked against what the stack really
 * names. A command the walk does not know fails the test, so the guide cannot drift from it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/program.js';
import { StackOutput } from '../../cli/stack.js';
import { JobStatus } from '../../functions/domain/job.js';
import { physicalNames } from '../../infra/physical-names.js';
import { createVidflowStack } from '../../infra/synth.js';
import { aJob } from '../support/jobs.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

/** The commands of the README section `## <title>`, in order, from its sh and console blocks. */
function guideCommands(readme: string, title: string): string[] {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const commands: string[] = [];
  for (const [, lang = '', body = ''] of section.matchAll(/```(sh|console)\n([\s\S]*?)```/g)) {
    for (const raw of body.split('\n')) {
      const line = lang === 'console' ? (raw.startsWith('$ ') ? raw.slice(2) : '') : raw;
      // A comment is `#` after two spaces (or a whole line); `#` inside a word is not one.
      const command = line.replace(/(^|\s{2,})#.*$/, '').trim();
      if (command !== '') commands.push(...command.split(' && ').map((part) => part.trim()));
    }
  }
  return commands;
}

/** The `-c key=value` options of a cdk or `npm run deploy --` command line. */
function contextOf(command: string): Record<string, string> {
  return Object.fromEntries(
    [...command.matchAll(/-c (\w+)=(\S+)/g)].map(([, key = '', value = '']) => [key, value]),
  );
}

/** Splits a command line into words, honouring double quotes. */
function words(command: string): string[] {
  return [...command.matchAll(/"([^"]*)"|(\S+)/g)].map(([, quoted, plain]) => quoted ?? plain ?? '');
}

const JOB_ID = 'abcdefghij234567abcd';
const STACK_OUTPUTS: Record<string, string> = {
  [StackOutput.inputBucket]: 'vidflow-inputbucket-1abc',
  [StackOutput.outputBucket]: 'vidflow-outputbucket-2def',
  [StackOutput.jobsTable]: 'Vidflow-JobsTable-3ghi',
  [StackOutput.stateMachineArn]: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Vidflow-jobs',
  [StackOutput.eventBusName]: 'vidflow',
  [StackOutput.providerSecretArn]:
    'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vidflow/provider-api-key-AbCdEf',
};

describe('the deploy guide, top to bottom', () => {
  let readme: string;
  let commands: string[];
  let scratch: string;
  let previousCwd: string;
  const stackNames = new Set<string>();
  const cloudFormation = mockClient(CloudFormationClient);
  // The job store talks through the document client (its own `send`), so that is what is mocked.
  const dynamo = mockClient(DynamoDBDocumentClient);
  const s3 = mockClient(S3Client);
  // `doctor` describes the table with the plain client and reads the provider key's secret.
  const tables = mockClient(DynamoDBClient);
  const secrets = mockClient(SecretsManagerClient);
  // The outputs of every stack the guide deployed: a `<Name output>` placeholder must be one.
  const deployedOutputs = new Set<string>();
  // Stands in for the provider: doctor's free key check (404 for an unknown generation = good key).
  let provider: Server;
  let previousProviderUrl: string | undefined;
  const completed = aJob({
    jobId: JOB_ID,
    status: JobStatus.completed,
    providerStatus: 'completed',
    completedAt: new Date().toISOString(),
    statusChangedAt: new Date().toISOString(),
    output: {
      bucket: STACK_OUTPUTS.OutputBucketName ?? '',
      key: `trips/clip/${JOB_ID}.mp4`,
      size: 4,
      eTag: 'e',
      contentType: 'video/mp4',
    },
  });

  beforeAll(async () => {
    readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    commands = guideCommands(readme, 'Deploying to AWS');
    scratch = await mkdtemp(join(tmpdir(), 'vidflow-guide-'));
    await writeFile(join(scratch, 'clip.mp4'), 'a video');
    previousCwd = process.cwd();
    process.chdir(scratch);
    cloudFormation.on(DescribeStacksCommand).callsFake(async (input: { StackName?: string }) => ({
      Stacks: [
        {
          StackName: input.StackName,
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: Object.entries(STACK_OUTPUTS).map(([OutputKey, OutputValue]) => ({
            OutputKey,
            OutputValue,
          })),
        },
      ],
    }));
    const item = {
      ...completed,
      statusDay: `COMPLETED#${completed.statusChangedAt.slice(0, 10)}`,
      sourceId: 'x',
    };
    dynamo.on(GetCommand).resolves({ Item: item });
    dynamo.on(QueryCommand).resolves({ Items: [item] });
    s3.on(PutObjectCommand).resolves({});
    s3.on(HeadObjectCommand).resolves({
      ETag: '"e"',
      LastModified: new Date(),
      VersionId: 'v1',
      ContentLength: 7,
    });
    s3.on(GetObjectCommand).callsFake(async () => ({
      // download streams the body as the SDK gives it on Node: a Readable.
      Body: Readable.from([Buffer.from('mp4!')]) as never,
      ContentLength: 4,
    }));
    s3.on(HeadBucketCommand).resolves({});
    tables.on(DescribeTableCommand).resolves({ Table: { TableStatus: 'ACTIVE' } });
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'a-provider-key' });
    provider = createServer((request, response) => {
      request.resume();
      response.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"not found"}');
    });
    await new Promise<void>((ready) => provider.listen(0, '127.0.0.1', ready));
    previousProviderUrl = process.env.AIMLAPI_BASE_URL;
    process.env.AIMLAPI_BASE_URL = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'secret';
  });

  afterAll(async () => {
    process.chdir(previousCwd);
    await rm(scratch, { recursive: true, force: true });
    cloudFormation.restore();
    dynamo.restore();
    s3.restore();
    tables.restore();
    secrets.restore();
    if (previousProviderUrl === undefined) delete process.env.AIMLAPI_BASE_URL;
    else process.env.AIMLAPI_BASE_URL = previousProviderUrl;
    await new Promise<void>((closed) => provider.close(() => closed()));
  });

  it('lists the commands a user runs, in order', () => {
    expect(commands[0]).toBe('npm ci');
    expect(commands).toContain('npx cdk synth');
    expect(commands).toContain('npm run deploy');
    expect(commands.at(-1)).toMatch(/^npx cdk destroy/);
  });

  it('runs every command it can without AWS, and checks the others against the stack', async () => {
    const walked: string[] = [];
    for (const command of commands) {
      if (/^(npm ci|npm link|git pull)$/.test(command)) {
        // Installing is what .ci/run does on a fresh clone (npm ci, which also builds the CLI).
        walked.push(`install: ${command}`);
      } else if (command === 'npx cdk synth') {
        const out = join(scratch, 'cdk.out');
        await run('npx', ['cdk', 'synth', '--quiet', '-o', out], { cwd: REPO_ROOT, timeout: 600_000 });
        const template = JSON.parse(await readFile(join(out, 'Vidflow.template.json'), 'utf8')) as {
          Outputs: Record<string, unknown>;
        };
        for (const output of Object.keys(STACK_OUTPUTS)) expect(template.Outputs).toHaveProperty([output]);
        walked.push(`synthesized: ${command}`);
      } else if (/^(npm run deploy|npx cdk (deploy|diff|destroy))\b/.test(command)) {
        // Without AWS: the same app and context, synthesized and checked by cdk-nag.
        const context = contextOf(command);
        const { stack } = createVidflowStack({ context });
        expect(stack.stackName).toBe(context.stackName ?? 'Vidflow');
        stackNames.add(stack.stackName);
        for (const name of Object.keys(Template.fromStack(stack).findOutputs('*'))) deployedOutputs.add(name);
        walked.push(`synthesized: ${command}`);
      } else if (command.startsWith('vidflow --stack ')) {
        const args = words(command.replace(/<jobId>/g, JOB_ID));
        const stackName = args[2] ?? '';
        expect(stackNames, `${command} names a stack the guide deployed`).toContain(stackName);
        const code = await runCli(['node', 'vidflow', ...args.slice(1)]);
        expect(code, command).toBe(0);
        walked.push(`ran against mocked AWS: ${command}`);
      } else if (command.startsWith('openssl ')) {
        // Key pairs are made for real, in the working directory the later commands read them from.
        const [program = '', ...args] = words(command);
        await run(program, args, { cwd: scratch });
        walked.push(`ran: ${command}`);
      } else if (command.startsWith('aws ')) {
        const placeholder = /--secret-id <(\w+) output>/.exec(command)?.[1];
        const secret = /--secret-id ([^<\s]\S*)/.exec(command)?.[1];
        if (placeholder !== undefined) expect([...deployedOutputs]).toContain(placeholder);
        if (secret !== undefined) {
          expect([...stackNames].map((name) => physicalNames(name).providerSecret)).toContain(secret);
        }
        const stack = /--stack-name (\S+)/.exec(command)?.[1];
        if (stack !== undefined) expect(stackNames).toContain(stack);
        walked.push(`needs AWS, names checked: ${command}`);
      } else {
        throw new Error(`the deploy guide has a command this walk does not know: ${command}`);
      }
    }
    expect(walked).toHaveLength(commands.length);
    // The smoke test downloaded the result into the working directory.
    expect(await readFile(join(scratch, `${JOB_ID}.mp4`), 'utf8')).toBe('mp4!');
    // submit uploaded the clip with its prompt as metadata.
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: STACK_OUTPUTS.InputBucketName,
      Key: 'clip.mp4',
      Metadata: { prompt: 'make%20it%20snow' },
    });
  }, 900_000);
});
