/**
 * Copy benchmark: finalize's streaming copy of a large output into the local S3 server, against
 * a plain streamed PutObject of the same bytes from the same HTTP source into the same server.
 * Each copy runs in a child process (bench/copy-child.ts), which reports its own peak RSS.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { createLocalS3Client } from '../local/aws-clients.js';
import { startS3Server } from '../local/s3-server.js';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUCKET = 'vidflow-bench';
const CHUNK = randomBytes(1024 * 1024);

export interface CopyRun {
  readonly mode: 'finalize' | 'plain';
  readonly bytes: number;
  readonly seconds: number;
  readonly peakRssMiB: number;
}

export interface CopyFigures {
  readonly bytes: number;
  readonly finalizeMiBPerSecond: number;
  readonly plainMiBPerSecond: number;
  /** finalize throughput / plain throughput (best of each). */
  readonly throughputRatio: number;
  /** finalize's peak RSS (the worse of its runs). */
  readonly peakRssMiB: number;
  readonly plainPeakRssMiB: number;
  readonly runs: readonly CopyRun[];
}

/** An HTTP server answering GET/HEAD of any path with `bytes` bytes of video/mp4. */
async function startSource(bytes: number): Promise<{ readonly url: string; readonly server: Server }> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(bytes) });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= piece.length;
        if (!res.write(piece)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/outputs/out.mp4`, server };
}

export async function runCopyBenchmark(options: {
  readonly bytes: number;
  readonly rounds: number;
}): Promise<CopyFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), 'vidflow-bench-copy-'));
  const source = await startSource(options.bytes);
  const s3 = await startS3Server({ dataDir, buckets: [BUCKET], onEvent: () => {} });
  const client = createLocalS3Client({ endpoint: s3.url });
  const runs: CopyRun[] = [];
  // Bundled and run by plain node, like a Lambda: no TypeScript loader in the measured memory.
  const childScript = join(dataDir, 'copy-child.mjs');
  await build({
    entryPoints: [join(REPO_ROOT, 'bench/copy-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    mainFields: ['module', 'main'],
    outfile: childScript,
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  try {
    for (let round = 0; round < options.rounds; round += 1) {
      for (const mode of ['plain', 'finalize'] as const) {
        const { stdout } = await run(
          process.execPath,
          [childScript, mode, source.url, s3.url, BUCKET, String(options.bytes)],
          {
            cwd: REPO_ROOT,
            maxBuffer: 1024 * 1024,
            env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          },
        );
        const line = stdout.trim().split('\n').pop() ?? '';
        runs.push(JSON.parse(line) as CopyRun);
        // Keep the disk from filling up: each run writes the whole object.
        const key = mode === 'plain' ? 'plain/out.mp4' : 'bench/clip/benchcopyjob2345abcd.mp4';
        await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
      }
    }
  } finally {
    client.destroy();
    await s3.close();
    await new Promise<void>((resolve) => source.server.close(() => resolve()));
    await rm(dataDir, { recursive: true, force: true });
  }
  const best = (mode: CopyRun['mode']) =>
    Math.max(...runs.filter((r) => r.mode === mode).map((r) => r.bytes / r.seconds / 1024 / 1024));
  const worstRss = (mode: CopyRun['mode']) =>
    Math.max(...runs.filter((r) => r.mode === mode).map((r) => r.peakRssMiB));
  const finalizeMiBPerSecond = best('finalize');
  const plainMiBPerSecond = best('plain');
  return {
    bytes: options.bytes,
    finalizeMiBPerSecond,
    plainMiBPerSecond,
    throughputRatio: finalizeMiBPerSecond / plainMiBPerSecond,
    peakRssMiB: worstRss('finalize'),
    plainPeakRssMiB: worstRss('plain'),
    runs,
  };
}
