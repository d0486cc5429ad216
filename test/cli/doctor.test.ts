/**
 * `vidflow doctor`: one line per check, non-zero exit on any failure, `--json`; the provider key
 * check reads 404 as a good key, 401 as a bad one and anything else as "unknown".
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkProviderAcceptsKey } from '../../cli/commands/doctor.js';
import { type CliRuntime, runVidflow, startCliRuntime } from './cli-harness.js';

describe('vidflow doctor against the local runtime', () => {
  let cli: CliRuntime;
  beforeAll(async () => {
    cli = await startCliRuntime();
  });
  afterAll(async () => {
    await cli?.stop();
  });

  it('passes every check and exits 0, with --json', async () => {
    const result = await cli.vidflow(['doctor', '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; checks: { name: string; status: string }[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((check) => [check.name, check.status])).toEqual([
      ['target', 'ok'],
      ['input bucket', 'ok'],
      ['output bucket', 'ok'],
      ['jobs table', 'ok'],
      ['provider key', 'ok'],
      ['provider accepts the key', 'ok'],
    ]);
  });

  it('prints one line per check', async () => {
    const result = await cli.vidflow(['doctor']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(6);
    expect(result.stdout).toMatch(/^ok\s+provider accepts the key\s+/m);
  });
});

it('fails the target check, exiting 1, where no runtime runs', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'vidflow-doctor-'));
  try {
    const result = await runVidflow(['--data-dir', empty, 'doctor', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { ok: boolean; checks: { name: string; status: string }[] };
    expect(report).toMatchObject({ ok: false, checks: [{ name: 'target', status: 'fail' }] });
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

describe('the provider key check', () => {
  let server: Server;
  let base: string;
  const answers: number[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      response.writeHead(answers.shift() ?? 500, { 'Content-Type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it.each([
    [404, 'ok'],
    [401, 'fail'],
    [403, 'unknown'],
    [500, 'unknown'],
  ])('reads HTTP %i as %s', async (status, expected) => {
    answers.push(status);
    expect((await checkProviderAcceptsKey(base, 'key', fetch)).status).toBe(expected);
  });
});
