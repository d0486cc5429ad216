/**
 * `npm run demo`: the whole product in under a minute on a fresh clone. Starts the local
 * runtime, makes a sample clip, drops it with a prompt, shows progress, prints the output
 * and the job record, stops the runtime. Exits 0 only if the job completed.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startLocalConsole } from '../console/server/start-local.js';
import { DynamoJobStore } from '../functions/adapters/job-store.js';
import { toPublicRecord } from '../functions/domain/finalize-job.js';
import { deriveJobId, isTerminal, type Job, JobStatus } from '../functions/domain/job.js';
import { createLocalDynamoDbClient, createLocalS3Client } from './aws-clients.js';
import { makeTestClip, probeVideo } from './ffmpeg.js';
import { startRuntime } from './runtime.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const PROMPT = 'Turn the street into a snowy winter evening, warm lights in the windows';
const KEY = 'demo/street scene.mp4';
const TIMEOUT_MS = 120_000;
/** Where the demo keeps its output, relative to the working directory (`VIDFLOW_DEMO_DIR` moves it). */
const DEMO_DIR = '.vidflow-demo';

async function main(): Promise<number> {
  const started = Date.now();
  const say = (line: string) =>
    process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
  // Kept after the run (the edited video, its record, the runtime's data), replaced by the next run.
  const dataDir = resolve(process.env.VIDFLOW_DEMO_DIR ?? DEMO_DIR);
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  say(`starting the local runtime (data in ${dataDir})`);
  const runtime = await startRuntime({
    dataDir,
    ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 },
  });
  const s3 = createLocalS3Client({ endpoint: runtime.endpoints.s3 });
  const dynamo = createLocalDynamoDbClient({ endpoint: runtime.endpoints.dynamodb });
  const jobs = new DynamoJobStore(DynamoDBDocumentClient.from(dynamo), runtime.endpoints.jobsTable);
  let consoleServer: Awaited<ReturnType<typeof startLocalConsole>> | undefined;
  try {
    consoleServer = await startLocalConsole({ dataDir, port: 0 });
    say(
      `runtime ready: S3 ${runtime.endpoints.s3}, DynamoDB ${runtime.endpoints.dynamodb}, provider emulator ${runtime.endpoints.provider}`,
    );
    const clip = join(dataDir, 'sample.mp4');
    await makeTestClip({ path: clip, seconds: 5, width: 1280, height: 720 });
    say('made a 5 s 1280x720 sample clip');

    await s3.send(
      new PutObjectCommand({
        Bucket: runtime.endpoints.inputBucket,
        Key: KEY,
        Body: await readFile(clip),
        ContentType: 'video/mp4',
        Metadata: { prompt: encodeURIComponent(PROMPT), 'frame-size': '1280:720' },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: runtime.endpoints.inputBucket, Key: KEY }));
    const jobId = deriveJobId({
      bucket: runtime.endpoints.inputBucket,
      key: KEY,
      eTag: (head.ETag ?? '').replace(/"/g, ''),
      lastModified: (head.LastModified ?? new Date(0)).toISOString(),
      // A bucket switched to versioning names the job by the version (docs/architecture.md "Job identity").
      ...(head.VersionId ? { versionId: head.VersionId } : {}),
    });
    say(`dropped s3://${runtime.endpoints.inputBucket}/${KEY} with prompt "${PROMPT}"`);
    say(`job ${jobId}`);
    say(`follow it in the console: ${consoleServer.url}#/job/${jobId}`);

    const job = await follow(jobs, jobId, say);
    if (job.status !== JobStatus.completed || job.output === undefined) {
      say(`the job ended ${job.status}: ${job.error?.code ?? ''} ${job.error?.message ?? ''}`);
      return 1;
    }
    const local = join(dataDir, 'result.mp4');
    const body = await s3.send(new GetObjectCommand({ Bucket: job.output.bucket, Key: job.output.key }));
    await writeFile(local, await (body.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
    const probe = await probeVideo(local);
    say(
      `output: s3://${job.output.bucket}/${job.output.key} (${job.output.size} bytes, ${probe.width}x${probe.height}, ${probe.durationSeconds.toFixed(1)} s)`,
    );
    const record = join(dataDir, 'result.json');
    await writeFile(record, `${JSON.stringify(toPublicRecord(job), null, 2)}\n`);
    say('job record:');
    process.stdout.write(`${JSON.stringify(toPublicRecord(job), null, 2)}\n`);
    say(`the edited video: ${local}`);
    say(`its job record:   ${record}`);
    say(`the runtime's data stays in ${dataDir} (\`vidflow --data-dir ${dataDir} dev\` reopens it)`);
    if (process.stdout.isTTY) {
      // On a terminal, keep the console up so the job can be looked at; a pipe (CI) ends here.
      say(`the console stays at ${consoleServer.url}#/job/${jobId} until Ctrl-C`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    return 0;
  } finally {
    await consoleServer?.close();
    s3.destroy();
    dynamo.destroy();
    await runtime.stop();
    say('runtime stopped');
  }
}

async function follow(jobs: DynamoJobStore, jobId: string, say: (line: string) => void): Promise<Job> {
  const deadline = Date.now() + TIMEOUT_MS;
  let last = '';
  for (;;) {
    const job = await jobs.get(jobId);
    const line =
      job === undefined
        ? ''
        : `${job.status} (provider: ${job.providerStatus ?? '-'}, polls: ${job.pollCount})`;
    if (line !== '' && line !== last) {
      say(line);
      last = line;
    }
    if (job !== undefined && isTerminal(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`the job did not end within ${TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
