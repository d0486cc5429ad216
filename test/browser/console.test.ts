/**
 * The console in a real browser (headless Chromium) against a real local runtime: an upload by
 * drag and drop followed live to COMPLETED, both videos playing and seeking together, the job's
 * path, cancel and retry from the page, the list's filters, and the messages for bad input.
 *
 * In-page code is written as JavaScript text: this program is typed for Node, not the DOM.
 */
import { readFile } from 'node:fs/promises';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleServer } from '../../console/server/server.js';
import { startLocalConsole } from '../../console/server/start-local.js';
import { JobStatus } from '../../functions/domain/job.js';
import {
  putObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitForJob,
} from '../support/runtime-harness.js';
import { launchChromium } from './chromium.js';

/** Generations whose prompt contains this stay GENERATING until cancelled. */
const HOLD = 'hold-this-one';
const UI_TIMEOUT_MS = 60_000;

let rt: TestRuntime;
let server: ConsoleServer;
let browser: Browser;
let clip: Buffer;

beforeAll(async () => {
  rt = await startTestRuntime({ emulatorFaults: `result:stuck:prompt=${HOLD}` });
  server = await startLocalConsole({ dataDir: rt.dataDir, port: 0 });
  browser = await launchChromium();
  clip = await readFile(await testClip({ seconds: 4, width: 320, height: 240 }));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await rt?.stop();
});

async function openPage(hash: string): Promise<Page> {
  // The console's CSP forbids eval; the test's own in-page expressions need it.
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  await page.goto(`${server.url}${hash}`);
  return page;
}

/** Waits until `expression` (page JavaScript) is true. */
async function until(page: Page, expression: string): Promise<void> {
  await page.waitForFunction(expression);
}

/** The text of every element matching `selector`, in document order. */
function textsOf(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (elements) => elements.map((element) => element.textContent ?? ''));
}

/** Drops `bytes` on the drop zone as a file, the way a user drags one from the desktop. */
async function dropFile(page: Page, name: string, bytes: Buffer): Promise<void> {
  const dataTransfer = await page.evaluateHandle(`(() => {
    const data = Uint8Array.from(atob(${JSON.stringify(bytes.toString('base64'))}), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([data], ${JSON.stringify(name)}, { type: 'video/mp4' }));
    return transfer;
  })()`);
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer });
}

/** Moves the shared seek bar (0 to 1000) as a user dragging it would. */
async function seekTo(page: Page, permille: number): Promise<void> {
  await page.evaluate(`(() => {
    const seek = document.querySelector('#seek');
    seek.value = '${permille}';
    seek.dispatchEvent(new Event('input', { bubbles: true }));
  })()`);
}

interface VideoState {
  readonly input: number;
  readonly output: number;
  readonly inputPaused: boolean;
  readonly outputPaused: boolean;
  readonly duration: number;
}

function videoState(page: Page): Promise<VideoState> {
  return page.evaluate(`(() => {
    const input = document.querySelector('#video-input');
    const output = document.querySelector('#video-output');
    return {
      input: input.currentTime,
      output: output.currentTime,
      inputPaused: input.paused,
      outputPaused: output.paused,
      duration: output.duration,
    };
  })()`);
}

describe('the vidflow console in Chromium', () => {
  let completedJobId = '';

  it('uploads a dropped clip, shows it reach COMPLETED live, plays and seeks both videos together and shows its path', {
    timeout: 120_000,
  }, async () => {
    const page = await openPage('#/upload');
    await dropFile(page, 'beach.mp4', clip);
    await page.fill('#upload-key', 'trips/beach.mp4');
    await page.fill('#upload-prompt', 'make it snow');
    await page.selectOption('#upload-frame-size', '960:960');
    await page.click('#upload-submit');
    await page.waitForURL(/#\/job\/[a-z2-7]{20}$/);
    completedJobId = page.url().split('/').at(-1) ?? '';
    // The page opened before the pipeline recorded the job: it shows the job once it is.
    await page.waitForSelector('#job-status:not(:empty)');
    expect(await page.textContent('h1 .mono')).toBe(completedJobId);

    // The list, left open: the job reaches COMPLETED there without a reload.
    await page.goto(`${server.url}#/jobs`);
    await page.waitForSelector(`tr[data-job="${completedJobId}"]`);
    await page.evaluate('window.stillHere = true');
    await page.waitForSelector(`tr[data-job="${completedJobId}"][data-status="COMPLETED"]`);
    expect(await page.evaluate('window.stillHere')).toBe(true);

    await page.click(`tr[data-job="${completedJobId}"] a`);
    await page.waitForSelector('#video-output');
    await until(page, "[...document.querySelectorAll('video')].every((video) => video.readyState >= 2)");
    await page.click('#play');
    await until(page, "document.querySelector('#video-output')?.currentTime > 0.5");
    const playing = await videoState(page);
    expect([playing.inputPaused, playing.outputPaused]).toEqual([false, false]);
    expect(playing.input).toBeGreaterThan(0);

    await page.click('#play');
    await until(page, "[...document.querySelectorAll('video')].every((video) => video.paused)");
    await seekTo(page, 750);
    await until(page, "[...document.querySelectorAll('video')].every((video) => !video.seeking)");
    const sought = await videoState(page);
    expect(sought.output).toBeCloseTo(sought.duration * 0.75, 1);
    expect(Math.abs(sought.input - sought.output)).toBeLessThan(0.1);
    expect(await page.textContent('#clock')).toBe(
      `${sought.output.toFixed(1)} / ${sought.duration.toFixed(1)} s`,
    );

    const steps = await textsOf(page, '#timeline .step-title');
    const expected = [
      'Upload received',
      'Claimed for submission',
      'POST sent to the provider',
      'POST answered',
      'Polling execution started',
      'Waiting before the next check',
      'Copied the result to the output bucket',
      'Polling execution succeeded',
      'Record file written',
      'Ended COMPLETED',
      'Event Job Completed published',
    ];
    expect(expected.filter((title) => !steps.includes(title))).toEqual([]);
    expect(
      steps
        .filter((title) => expected.includes(title))
        .filter((title, index, all) => all.indexOf(title) === index),
    ).toEqual(expected);
    expect(steps.filter((title) => /^Check \d+: /.test(title)).at(-1)).toMatch(
      /^Check \d+: the generation is ready$/,
    );
    expect(await textsOf(page, '#params tbody th, #params tbody td')).toEqual([
      ...['prompt', 'make it snow', 'upload metadata'],
      ...['frameSize', '960:960', 'upload metadata'],
      ...['duration', '5', "provider's default"],
    ]);
    await until(page, "document.querySelector('#output-resolution')?.textContent !== ''");
    expect(await page.textContent('#output-resolution')).toBe('960×960');
    await page.close();
  });

  it('shows a bad upload’s problem before uploading anything', async () => {
    const page = await openPage('#/upload');
    await dropFile(page, 'notes.txt', clip);
    await page.fill('#upload-key', 'trips/notes.txt');
    await page.fill('#upload-prompt', 'make it snow');
    await page.click('#upload-submit');
    await page.waitForSelector('#upload-problem:not(:empty)');
    expect(await page.textContent('#upload-problem')).toBe(
      '"trips/notes.txt" would not start a job: a video key ends in .mp4, .mov, .m4v, .webm or .mkv (and is not under jobs/)',
    );
    await page.fill('#upload-key', 'trips/long.mp4');
    await page.fill('#upload-prompt', 'x'.repeat(1001));
    await page.click('#upload-submit');
    await until(page, "document.querySelector('#upload-problem')?.textContent.includes('1001 characters')");
    expect(await page.textContent('#upload-problem')).toBe(
      'the prompt has 1001 characters (UTF-16 code units, as the provider counts); it accepts at most 1000',
    );
    const listed = await fetch(`${server.url}api/jobs?source=trips/long.mp4`).then((response) =>
      response.json(),
    );
    expect(listed).toEqual({ jobs: [], more: false });
    await page.close();
  });

  it("shows a job in flight's ETA (median and 90%) on its page and in the list, and none once it ended", async () => {
    const jobId = await putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key: 'eta/clip.mp4',
      body: clip,
      metadata: { prompt: `${HOLD} with an ETA` },
    });
    const held = await waitForJob(
      rt.clients.jobs,
      jobId,
      (job) => job.status === JobStatus.generating && job.expectedCompletionP90At !== undefined,
    );
    const page = await openPage(`#/job/${jobId}`);
    const shown = async (selector: string) =>
      page.$eval(selector, (element) => ({
        median: element.getAttribute('data-median'),
        p90: element.getAttribute('data-p90'),
        text: element.textContent ?? '',
      }));
    // A later check may have refreshed the ETA since `held` was read: compare with the record the page shows.
    await page.waitForSelector('#facts .eta');
    const onPage = await shown('#facts .eta');
    const record = await rt.clients.jobs.get(jobId);
    expect(onPage.median).toBe(record?.expectedCompletionAt ?? held.expectedCompletionAt);
    expect(onPage.p90).toBe(record?.expectedCompletionP90At ?? held.expectedCompletionP90At);
    const clock = (iso: string | null) => (iso ?? '').slice(0, 19).replace('T', ' ');
    expect(onPage.text).toContain(clock(onPage.median));
    expect(onPage.text).toContain(`; 90% by ${clock(onPage.p90)}`);
    expect(Date.parse(onPage.p90 ?? '')).toBeGreaterThanOrEqual(Date.parse(onPage.median ?? ''));

    await page.goto(`${server.url}#/jobs?source=eta/clip.mp4`);
    await page.waitForSelector(`#jobs-table tr[data-job="${jobId}"] .eta`);
    const listed = await shown(`#jobs-table tr[data-job="${jobId}"] .eta`);
    expect(listed.text).toBe(`ETA ${clock(listed.median).slice(11)} (90%: ${clock(listed.p90).slice(11)})`);

    await page.goto(`${server.url}#/job/${jobId}`);
    await page.waitForSelector('#cancel');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#cancel');
    await until(page, "document.querySelector('#job-status')?.textContent === 'CANCELLED'");
    expect(await page.$('#facts .eta')).toBeNull();
    await page.close();
  });

  it('cancels a job in flight and retries it from its page', async () => {
    const jobId = await putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key: 'held/clip.mp4',
      body: clip,
      metadata: { prompt: `${HOLD} please` },
    });
    await waitForJob(rt.clients.jobs, jobId, (job) => job.status === JobStatus.generating);
    const page = await openPage(`#/job/${jobId}`);
    await page.waitForSelector('#cancel');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('#cancel');
    await until(page, "document.querySelector('#job-status')?.textContent === 'CANCELLED'");
    expect(await page.textContent('#job-error')).toMatch(/^CANCELLED — Someone cancelled the job\. /);

    await page.click('#retry');
    await until(
      page,
      "['SUBMITTED', 'GENERATING'].includes(document.querySelector('#job-status')?.textContent)",
    );
    const stored = await rt.clients.jobs.get(jobId);
    expect(stored?.attempt).toBe(2);
    expect(stored?.attempts?.map((attempt) => attempt.status)).toEqual([JobStatus.cancelled]);
    await until(
      page,
      "[...document.querySelectorAll('#timeline .step-title')].some((title) => title.textContent === 'Attempt 1 ended CANCELLED')",
    );
    await page.close();
  });

  it('filters the list by status, window and source prefix, like vidflow list', async () => {
    const page = await openPage('#/jobs');
    await page.waitForSelector('#jobs-table tbody tr');
    const completedPage = page.waitForResponse((response) => response.url().includes('status=COMPLETED'));
    await page.selectOption('#filter-status', 'COMPLETED');
    await completedPage;
    await until(
      page,
      "[...document.querySelectorAll('#jobs-table tbody tr')].every((row) => row.dataset.status === 'COMPLETED')",
    );
    expect(await textsOf(page, '#jobs-table tbody tr td:first-child')).toEqual([completedJobId]);

    await page.selectOption('#filter-status', '');
    // The unfiltered view is on screen once a job of another status is listed again.
    await until(
      page,
      "[...document.querySelectorAll('#jobs-table tbody tr')].some((row) => row.dataset.status !== 'COMPLETED')",
    );
    await page.fill('#filter-source', 'held/');
    await page.click('.filters button[type=submit]');
    await until(
      page,
      "location.hash.includes('source=held%2F') && document.querySelectorAll('#jobs-table td.key').length > 0 && [...document.querySelectorAll('#jobs-table td.key')].every((cell) => cell.textContent.startsWith('held/'))",
    );
    expect(await textsOf(page, '#jobs-table tbody tr td.key')).toEqual(['held/clip.mp4']);

    await page.goto(`${server.url}#/jobs?since=1h&source=nowhere/`);
    await until(page, "document.querySelector('#jobs-summary')?.textContent === 'No jobs match.'");
    expect(
      await page.$$eval('#filter-since option:checked', (options) =>
        options.map((option) => option.textContent),
      ),
    ).toEqual(['last hour']);
    await page.close();
  });

  it('says so for an unknown job id and for an input deleted since', async () => {
    const page = await openPage('#/job/aaaaaaaaaaaaaaaaaaaa');
    await page.waitForSelector('main .error');
    expect(await page.textContent('main .error')).toBe(
      `no job aaaaaaaaaaaaaaaaaaaa in the local runtime in ${rt.dataDir}`,
    );

    await rt.clients.s3.send(
      new DeleteObjectCommand({ Bucket: rt.endpoints.inputBucket, Key: 'trips/beach.mp4' }),
    );
    await page.goto(`${server.url}#/job/${completedJobId}`);
    await until(page, "document.querySelector('#note-input')?.textContent.includes('no longer exists')");
    expect(await page.textContent('#note-input')).toBe(
      'The input video no longer exists (it was deleted from S3).',
    );
    await page.close();
  });
});
