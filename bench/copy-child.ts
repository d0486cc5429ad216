/**
 * One copy of the benchmark's output object, in a process of its own so its peak RSS is its own.
 *
 *   tsx bench/copy-child.ts <finalize|plain> <sourceUrl> <s3Endpoint> <bucket> <bytes>
 *
 * `finalize`: the real finalize use case (HTTP output fetcher + the object store's upload, a single
 * streamed PutObject since the source announces its length), with an in-memory job store.
 * `plain`: one streamed PutObject of the same HTTP response.
 * Prints one JSON line: `{ mode, bytes, seconds, peakRssMiB }`.
 */

import type { IncomingMessage } from 'node:http';
import { request } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAdmissionStore } from '../functions/adapters/admission-store.js';
import { S3ObjectStore } from '../functions/adapters/object-store.js';
import { HttpOutputFetcher } from '../functions/adapters/output-fetcher.js';
import { finalizeJob } from '../functions/domain/finalize-job.js';
import { type Job, JobStatus, MODEL } from '../functions/domain/job.js';
import { silentLogger, systemClock } from '../functions/domain/ports.js';
import type { ProviderClient } from '../functions/domain/provider.js';
import { createLocalS3Client } from '../local/aws-clients.js';
import { MemoryJobStore } from './memory-job-store.js';

const [mode, sourceUrl, s3Endpoint, bucket, bytesText] = process.argv.slice(2);
if ((mode !== 'finalize' && mode !== 'plain') || !sourceUrl || !s3Endpoint || !bucket || !bytesText) {
  throw new Error('usage: copy-child.ts <finalize|plain> <sourceUrl> <s3Endpoint> <bucket> <bytes>');
}
const bytes = Number(bytesText);
const s3 = createLocalS3Client({ endpoint: s3Endpoint });

const started = performance.now();
if (mode === 'plain') {
  const response = await new Promise<IncomingMessage>((resolve, reject) =>
    request(sourceUrl, resolve).on('error', reject).end(),
  );
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: 'plain/out.mp4',
      Body: response,
      ContentLength: bytes,
      ContentType: 'video/mp4',
    }),
  );
} else {
  const jobs = new MemoryJobStore();
  const now = new Date().toISOString();
  const job: Job = {
    jobId: 'benchcopyjob2345abcd',
    status: JobStatus.generating,
    source: { bucket: 'in', key: 'bench/clip.mp4', eTag: 'e', size: 1, contentType: 'video/mp4' },
    trigger: { kind: 'upload', bucket: 'in', key: 'bench/clip.mp4', eTag: 'e' },
    request: { model: MODEL, prompt: 'bench', frameSize: '1280:720', duration: 5 },
    generationId: 'gen-bench',
    pollCount: 3,
    attempt: 1,
    createdAt: now,
    updatedAt: now,
    statusChangedAt: now,
  };
  await jobs.create(job);
  const provider: ProviderClient = {
    createGeneration: () => Promise.reject(new Error('not used')),
    getGeneration: () => Promise.reject(new Error('not used')),
  };
  await finalizeJob(
    {
      jobs,
      // The job was never admitted under a limit, so finishing it touches no admission counter.
      admission: new DynamoAdmissionStore(DynamoDBDocumentClient.from(new DynamoDBClient({})), 'unused'),
      objects: new S3ObjectStore(s3),
      provider,
      fetcher: new HttpOutputFetcher({ maxBytes: bytes, allowedOrigins: [new URL(sourceUrl).origin] }),
      events: { publishTerminal: async () => {} },
      clock: systemClock,
      logger: silentLogger,
      settings: { outputBucket: bucket },
    },
    job.jobId,
    sourceUrl,
  );
}
const seconds = (performance.now() - started) / 1000;
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ mode, bytes, seconds, peakRssMiB })}\n`);
s3.destroy();
