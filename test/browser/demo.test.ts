/**
 * `npm run demo` prints the console's URL, and the job it runs is on that page while it runs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './chromium.js';

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe('npm run demo', () => {
  it('prints the console URL of its job, and the page shows that job', { timeout: 300_000 }, async () => {
    const child = spawn('npm', ['run', 'demo'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env },
    });
    let output = '';
    const seen = new Promise<{ url: string; jobId: string }>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const match = /follow it in the console: (http:\/\/127\.0\.0\.1:\d+\/)#\/job\/([a-z2-7]{20})/.exec(
          output,
        );
        if (match?.[1] !== undefined && match[2] !== undefined) resolve({ url: match[1], jobId: match[2] });
      });
    });
    const exited = once(child, 'exit');
    try {
      const { url, jobId } = await seen;
      const page = await browser.newPage();
      page.setDefaultTimeout(120_000);
      await page.goto(`${url}#/job/${jobId}`);
      await page.waitForSelector('#job-status:not(:empty)');
      expect(await page.textContent('h1 .mono')).toBe(jobId);
      await page.close();
      const [code] = await exited;
      expect(code).toBe(0);
      expect(output).toContain(`job ${jobId}`);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
