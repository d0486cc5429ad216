import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, PassThrough } from 'node:stream';
import { PutObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createLocalS3Client } from '../local/aws-clients.js';
import { startS3Server } from '../local/s3-server.js';

const dataDir = await mkdtemp(join(tmpdir(), 'vf-hang-'));
const s3 = await startS3Server({ dataDir, buckets: ['b'], onEvent: () => {}, bodyIdleTimeoutMs: 1000 });
const client = createLocalS3Client({ endpoint: s3.url });
const MB = 1024 * 1024;
const bufs = () => [Buffer.alloc(MB, 1), Buffer.alloc(MB, 2), Buffer.alloc(MB, 3)];
async function attempt(name: string, body: () => Readable, len = 3 * MB, abortAfter?: number) {
  const t0 = Date.now();
  const ac = new AbortController();
  if (abortAfter) setTimeout(() => ac.abort(), abortAfter);
  const res = await Promise.race([
    client.send(new PutObjectCommand({ Bucket: 'b', Key: name, Body: body(), ContentLength: len }), { abortSignal: ac.signal }).then((r) => `ok ${r.ETag}`, (e) => `err ${e.name}: ${e.message}`),
    new Promise((r) => setTimeout(() => r('HANG'), 6000)),
  ]);
  const head = await client.send(new HeadObjectCommand({ Bucket: 'b', Key: name })).then((h) => h.ContentLength, (e) => e.name);
  console.log(name, res, 'head:', head, Date.now() - t0, 'ms');
}
await attempt('plain', () => Readable.from(bufs()));
await attempt('data-listener', () => { const r = Readable.from(bufs()); let n = 0; r.on('data', (c) => { n += c.length; }); return r; });
await attempt('piped', () => Readable.from(bufs()).pipe(new PassThrough()));
await attempt('short-end', () => Readable.from(bufs().slice(0, 2)));
const abortMid = (key: string) => attempt(key, () => { const p = new PassThrough(); p.write(Buffer.alloc(MB)); return p; }, 3 * MB, 300);
await abortMid('abort-mid');
await abortMid('plain');
await new Promise((r) => setTimeout(r, 500));
console.log('after abort, plain head:', await client.send(new HeadObjectCommand({ Bucket: 'b', Key: 'plain' })).then((h) => h.ContentLength, (e) => e.name));
//await attempt('error-mid', () => { const p = new PassThrough(); p.write(Buffer.alloc(MB)); setTimeout(() => p.destroy(new Error('boom')), 200); return p; });
client.destroy();
await s3.close();
process.exit(0);
