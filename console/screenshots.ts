/**
 * `npm run screenshots`: the README's pictures of the console. Starts a local runtime, drops a few
 * clips (one the emulator fails, one it keeps generating), waits for them, and saves the jobs
 * list, a job page, the overview and a phone-width job page to `docs/screenshots/`.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { chromium } from 'playwright-core';
import { DynamoJobStore } from '../functions/adapters/job-store.js';
import { deriveJobId, isTerminal, JobStatus } from '../functions/domain/job.js';
import { createLocalDynamoDbClient, createLocalS3Client } from '../local/aws-clients.js';
import { makeTestClip } from '../local/ffmpeg.js';
import { startRuntime } from '../local/runtime.js';
import { startLocalConsole } from './server/start-local.js';

const OUT_DIR = join(process.cwd(), 'docs', 'screenshots');
const DROPS = [
  { key: 'trips/harbour.mp4', prompt: 'Turn the harbour into a snowy winter evening', frameSize: '1280:720' },
  { key: 'trips/market.mp4', prompt: 'Make it look like an old film, warm and grainy', frameSize: '960:960' },
  { key: 'ads/teaser.mp4', prompt: 'fail-this-one: neon city at night', frameSize: '1280:720' },
  { key: 'ads/intro.mp4', prompt: 'keep-going: a watercolor painting', frameSize: '1280:720' },
] as const;

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-screenshots-'));
  const runtime = await startRuntime({
    dataDir,
    ports: { s3: 0, dynamodb: 0, stepFunctions: 0, provider: 0 },
    emulator: { timeScale: 0.02, faults: 'result:error:prompt=fail-this-one,result:stuck:prompt=keep-going' },
  });
  const s3 = createLocalS3Client({ endpoint: runtime.endpoints.s3 });
  const dynamo = createLocalDynamoDbClient({ endpoint: runtime.endpoints.dynamodb });
  const jobs = new DynamoJobStore(DynamoDBDocumentClient.from(dynamo), runtime.endpoints.jobsTable);
  const server = await startLocalConsole({ dataDir, port: 0 });
  const browser = await chromium.launch({
    executablePath: process.env.VIDFLOW_CHROMIUM ?? '/usr/bin/chromium',
    chromiumSandbox: false,
  });
  try {
    const clip = join(dataDir, 'clip.mp4');
    await makeTestClip({ path: clip, seconds: 5, width: 1280, height: 720 });
    const body = await readFile(clip);
    const ids: string[] = [];
    for (const drop of DROPS) {
      const bucket = runtime.endpoints.inputBucket;
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: drop.key,
          Body: body,
          ContentType: 'video/mp4',
          Metadata: { prompt: encodeURIComponent(drop.prompt), 'frame-size': drop.frameSize },
        }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: drop.key }));
      ids.push(
        deriveJobId({
          bucket,
          key: drop.key,
          eTag: (head.ETag ?? '').replace(/"/g, ''),
          lastModified: (head.LastModified ?? new Date(0)).toISOString(),
        }),
      );
    }
    const [first, , failed, running] = ids;
    for (const id of [first, failed]) {
      for (;;) {
        const job = id === undefined ? undefined : await jobs.get(id);
        if (job !== undefined && isTerminal(job.status)) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    for (;;) {
      const job = running === undefined ? undefined : await jobs.get(running);
      if (job?.status === JobStatus.generating) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await mkdir(OUT_DIR, { recursive: true });
    const shoot = async (hash: string, file: string, width: number, height: number, ready: string) => {
      const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 1 });
      await page.goto(`${server.url}${hash}`);
      await page.waitForSelector(ready);
      await page.waitForFunction(
        "[...document.querySelectorAll('video')].every((video) => video.readyState >= 2)",
      );
      await page.screenshot({ path: join(OUT_DIR, file), fullPage: false });
      await page.close();
      process.stdout.write(`wrote docs/screenshots/${file}\n`);
    };
    await shoot('#/jobs', 'jobs.png', 1280, 720, '#jobs-table tbody tr');
    await shoot(`#/job/${first}`, 'job.png', 1280, 1100, '#timeline li');
    await shoot(`#/job/${failed}`, 'job-failed.png', 1280, 1150, '#timeline li');
    await shoot('#/overview', 'overview.png', 1280, 900, '.chart');
    await shoot(`#/job/${first}`, 'job-phone.png', 390, 844, '#timeline li');
  } finally {
    await browser.close();
    await server.close();
    s3.destroy();
    dynamo.destroy();
    await runtime.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`screenshots failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
