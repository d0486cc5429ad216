/**
 * `vidflow dev`: the local runtime in the foreground until Ctrl-C.
 */
import { DEFAULT_PORTS, type Runtime, startRuntime } from '../../local/runtime.js';

export interface DevOptions {
  readonly dataDir: string;
  readonly randomPorts?: boolean;
  readonly quiet?: boolean;
}

export async function runDev(options: DevOptions): Promise<Runtime> {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const providerKey = process.env.AIMLAPI_KEY;
  const runtime = await startRuntime({
    dataDir: options.dataDir,
    ...(options.randomPorts ? { ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 } } : {}),
    ...(providerKey
      ? {
          provider: {
            apiKey: providerKey,
            ...(process.env.AIMLAPI_BASE_URL ? { baseUrl: process.env.AIMLAPI_BASE_URL } : {}),
          },
        }
      : {}),
    ...(options.quiet ? {} : { echo: print }),
  });
  const e = runtime.endpoints;
  const cliEnv = `AWS_ACCESS_KEY_ID=${e.accessKeyId} AWS_SECRET_ACCESS_KEY=${e.secretAccessKey} AWS_DEFAULT_REGION=${e.region}`;
  print(
    [
      'vidflow local runtime is ready',
      `  S3 (s3rver)             ${e.s3}    buckets ${e.inputBucket}, ${e.outputBucket}`,
      `  DynamoDB (dynalite)     ${e.dynamodb}    table ${e.jobsTable}`,
      `  Step Functions          ${e.stepfunctions}    ${e.stateMachineArn}`,
      `  Provider ${runtime.emulator ? '(emulator)' : '(real API)  '}     ${e.provider}`,
      `  Data, logs, events      ${runtime.dataDir}  (endpoints.json, runtime.log, events.jsonl)`,
      `  Webhooks                ${runtime.dataDir}/webhooks  (npx vidflow webhooks list; attempts per endpoint)`,
      '',
      'Drop a video with the AWS CLI:',
      `  ${cliEnv} aws --endpoint-url ${e.s3} s3 cp clip.mp4 "s3://${e.inputBucket}/trips/clip.mp4" --metadata prompt="turn the scene into a watercolor painting"`,
      'or with vidflow:',
      '  npx vidflow submit clip.mp4 --prompt "turn the scene into a watercolor painting" --wait',
      'Follow, list and inspect jobs:',
      '  npx vidflow watch',
      '  npx vidflow list',
      '  npx vidflow events --follow',
      '',
      'Ctrl-C stops it; jobs in flight resume on the next start.',
    ].join('\n'),
  );
  if (!options.randomPorts && e.s3 !== `http://127.0.0.1:${DEFAULT_PORTS.s3}`)
    print(`(note: S3 is on ${e.s3})`);
  return runtime;
}
