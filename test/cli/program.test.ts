/**
 * The CLI's own pieces, without a runtime: help texts, `--stack` (CloudFormation outputs mapped
 * with aws-sdk-client-mock, credentials and region errors from the real credential chain),
 * progress display and percentiles.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { percentile } from '../../cli/commands/stats.js';
import { CliError, DEFAULT_DATA_DIR } from '../../cli/context.js';
import { createProgram } from '../../cli/program.js';
import { LiveLines } from '../../cli/progress.js';
import { readStackTarget, StackOutput } from '../../cli/stack.js';
import { synthesizeTemplate } from '../../infra/synth.js';
import { DEFAULT_DATA_DIR as RUNTIME_DATA_DIR } from '../../local/runtime.js';
import { runVidflow } from './cli-harness.js';

describe('vidflow --help', () => {
  it('shows examples on every command', () => {
    const program = createProgram();
    const names = program.commands.map((command) => command.name());
    expect(names).toEqual([
      'dev',
      'emulator',
      'submit',
      'status',
      'list',
      'watch',
      'events',
      'retry',
      'cancel',
      'download',
      'doctor',
      'models',
      'console',
      'stats',
      'webhooks',
    ]);
    const webhooks = program.commands.find((command) => command.name() === 'webhooks');
    expect(webhooks?.commands.map((command) => command.name())).toEqual([
      'add',
      'list',
      'update',
      'disable',
      'enable',
      'remove',
      'rotate-secret',
      'attempts',
      'replay',
      'listen',
    ]);
    for (const command of webhooks?.commands ?? []) {
      let help = '';
      command.configureOutput({ writeOut: (text) => (help += text) });
      command.outputHelp();
      expect(help, command.name()).toContain(`\nExamples:\n  $ vidflow webhooks ${command.name()}`);
    }
    for (const command of [program, ...program.commands]) {
      let help = '';
      command.configureOutput({ writeOut: (text) => (help += text) });
      command.outputHelp();
      const prefix = command === program ? 'vidflow ' : `vidflow ${command.name()}`;
      expect(help, command.name()).toContain(`\nExamples:\n  $ ${prefix}`);
    }
  });

  it('uses the local runtime’s default data directory', () => {
    expect(DEFAULT_DATA_DIR).toBe(RUNTIME_DATA_DIR);
  });
});

describe('--stack: a deployed stack found by its CloudFormation outputs', () => {
  const cloudFormation = mockClient(CloudFormationClient);
  const client = new CloudFormationClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  });
  const outputs = {
    InputBucketName: 'vidflow-inputbucket-1abc',
    OutputBucketName: 'vidflow-outputbucket-2def',
    JobsTableName: 'Vidflow-JobsTable-3GHI',
    StateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:JobStateMachine-4jkl',
    EventBusName: 'vidflow',
    DeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/Vidflow-SubmitDeadLetterQueue',
    ProviderSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vidflow/provider-api-key-AbCdEf',
  };
  const stackWith = (values: Record<string, string>) => ({
    Stacks: [
      {
        StackName: 'Vidflow',
        CreationTime: new Date(),
        StackStatus: 'CREATE_COMPLETE' as const,
        Outputs: Object.entries(values).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });

  beforeEach(() => cloudFormation.reset());
  afterAll(() => {
    cloudFormation.restore();
    client.destroy();
  });

  it('maps the stack outputs to the buckets, table, state machine, bus and provider secret', async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: 'Vidflow' }).resolves(stackWith(outputs));
    expect(await readStackTarget(client, 'Vidflow')).toEqual({
      kind: 'stack',
      description: 'stack Vidflow (eu-west-1)',
      region: 'eu-west-1',
      inputBucket: outputs.InputBucketName,
      outputBucket: outputs.OutputBucketName,
      jobsTable: outputs.JobsTableName,
      stateMachineArn: outputs.StateMachineArn,
      eventBusName: outputs.EventBusName,
      providerSecretArn: outputs.ProviderSecretArn,
    });
  });

  it('works without the provider secret output (only retry needs it)', async () => {
    const { ProviderSecretArn: _secret, ...older } = outputs;
    cloudFormation.on(DescribeStacksCommand).resolves(stackWith(older));
    expect(await readStackTarget(client, 'Vidflow')).not.toHaveProperty('providerSecretArn');
  });

  it('names the outputs a stack lacks', async () => {
    cloudFormation
      .on(DescribeStacksCommand)
      .resolves(stackWith({ InputBucketName: 'x', OutputBucketName: 'y', StateMachineArn: 'z' }));
    await expect(readStackTarget(client, 'Other')).rejects.toThrow(
      new CliError(
        'stack Other has no output JobsTableName, EventBusName: is it a vidflow stack (deployed with `npx cdk deploy`)?',
      ),
    );
  });

  it('says which stack and region were not found', async () => {
    cloudFormation
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id Nope does not exist'), { name: 'ValidationError' }));
    await expect(readStackTarget(client, 'Nope')).rejects.toThrow(
      'no stack Nope in eu-west-1: check --stack and --region (or AWS_REGION)',
    );
  });

  it('turns missing or refused credentials into advice', async () => {
    cloudFormation
      .on(DescribeStacksCommand)
      .rejectsOnce(
        Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        }),
      )
      .rejectsOnce(
        Object.assign(new Error('The security token included in the request is expired'), {
          name: 'ExpiredTokenException',
        }),
      );
    await expect(readStackTarget(client, 'Vidflow')).rejects.toThrow(
      /^no AWS credentials found: set AWS_PROFILE or pass --profile/,
    );
    await expect(readStackTarget(client, 'Vidflow')).rejects.toThrow(
      /^AWS refused the credentials \(ExpiredTokenException\): refresh them/,
    );
  });

  it('reads outputs that the synthesized stack really has', () => {
    const template = synthesizeTemplate();
    const declared = Object.keys(template.Outputs as Record<string, unknown>);
    for (const name of Object.values(StackOutput)) expect(declared).toContain(name);
  });

  describe('from the command line, with no AWS configuration at all', () => {
    let home: string;
    const run = async (args: readonly string[], env: Record<string, string>) => {
      home = await mkdtemp(join(tmpdir(), 'vidflow-noaws-'));
      await writeFile(join(home, 'empty'), '');
      const inherited = Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
      ) as Record<string, string>;
      return runVidflow(args, {
        env: {
          ...inherited,
          HOME: home,
          AWS_CONFIG_FILE: join(home, 'empty'),
          AWS_SHARED_CREDENTIALS_FILE: join(home, 'empty'),
          AWS_EC2_METADATA_DISABLED: 'true',
          ...env,
        },
        clearEnv: true,
      });
    };
    afterAll(async () => {
      if (home !== undefined) await rm(home, { recursive: true, force: true });
    });

    it('exits 1 saying credentials are missing', async () => {
      const result = await run(['--stack', 'Vidflow', '--region', 'eu-west-1', 'list'], {});
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^vidflow: no AWS credentials found: set AWS_PROFILE or pass --profile/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    });

    it('exits 1 saying the region is missing', async () => {
      const result = await run(['--stack', 'Vidflow', 'status', 'abc'], {
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
      });
      expect(result).toMatchObject({
        code: 1,
        stderr: 'vidflow: no AWS region: pass --region, set AWS_REGION, or give your profile a region\n',
      });
    });
  });
});

describe('progress', () => {
  const sink = (isTTY: boolean) => {
    const writes: string[] = [];
    return { writes, sink: { isTTY, columns: 40, write: (text: string) => writes.push(text) } };
  };

  it('prints a line per change on a pipe, never the elapsed time alone', () => {
    const { writes, sink: pipe } = sink(false);
    const lines = new LiveLines(pipe);
    lines.render([{ key: 'a', text: 'a  SUBMITTED  0 polls  0.1s', signature: 'a SUBMITTED 0' }]);
    lines.render([{ key: 'a', text: 'a  SUBMITTED  0 polls  0.6s', signature: 'a SUBMITTED 0' }]);
    lines.render([{ key: 'a', text: 'a  GENERATING  1 poll  1.1s', signature: 'a GENERATING 1' }]);
    expect(writes).toEqual(['a  SUBMITTED  0 polls  0.1s\n', 'a  GENERATING  1 poll  1.1s\n']);
  });

  it('rewrites its lines in place on a terminal, cut to its width', () => {
    const { writes, sink: terminal } = sink(true);
    const lines = new LiveLines(terminal);
    lines.render([{ key: 'a', text: 'a  SUBMITTED', signature: 'a' }]);
    lines.render([{ key: 'a', text: `a  GENERATING  ${'x'.repeat(50)}`, signature: 'b' }]);
    expect(writes).toEqual(['a  SUBMITTED\n', `\u001b[1F\u001b[Ja  GENERATING  ${'x'.repeat(23)}…\n`]);
  });
});

describe('percentile', () => {
  it('is the nearest-rank value, or null without values', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1);
    expect([percentile(values, 50), percentile(values, 95), percentile([], 50)]).toEqual([10, 19, null]);
  });
});
