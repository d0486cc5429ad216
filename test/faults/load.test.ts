/**
 * Load (issue 4): 500 drops at once while about one provider call in five fails transiently
 * (POSTs refused with 429/503, status checks answered 500/429) and one download in ten (answered
 * 500 or cut off). Every job ends, each pays for exactly one generation, and nothing is
 * dead-lettered.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { JobStatus } from '../../functions/domain/job.js';
import {
  type FaultRuntime,
  mapLimit,
  outcomeOf,
  readDeadLetters,
  sortProviderCalls,
  startFaultRuntime,
  tally,
  waitForTerminal,
} from '../support/fault-harness.js';
import { emulatorRequests, putObject, testClip, videoUrlObjectOf } from '../support/runtime-harness.js';

const DROPS = 500;
/**
 * About 20% of POSTs and GETs, in transient kinds only: rules are tried in order, so the second
 * rule of a scope fires on 0.111 of the 90% the first let through (10% + 10%). Downloads 10%
 * (5% + 5%): a job gives up after 7 failed downloads in a row, which at 20% would happen to one
 * of 500 jobs in about one run of 150 (500 x 0.2^7); at 10% in one run of 20,000.
 */
const FAULTS = [
  'post:429@0.1',
  'post:503@0.111',
  'get:500@0.1',
  'get:429@0.111',
  'output:500@0.05',
  'output:reset@0.053',
].join(',');

describe('500 drops at once against a flaky provider', { timeout: 600_000 }, () => {
  let rt: FaultRuntime | undefined;

  afterAll(async () => {
    await rt?.stop();
  });

  it(`ends all ${DROPS} jobs COMPLETED with one paid POST each and an empty dead-letter file`, async () => {
    rt = await startFaultRuntime({
      faults: FAULTS,
      seed: 4,
      functionEnvironment: {
        // The emulator answers slowly under this load: a POST timed out would be ambiguous.
        VIDFLOW_PROVIDER_TIMEOUT_MS: '30000',
        // 500 jobs checked every second would starve the one process that runs them all.
        VIDFLOW_POLL_INITIAL_SECONDS: '10',
        VIDFLOW_POLL_MIN_SECONDS: '2',
        VIDFLOW_POLL_MAX_SECONDS: '10',
      },
    });
    const clip = await readFile(await testClip());
    const keys = Array.from({ length: DROPS }, (_, index) => `load/${String(index).padStart(3, '0')}.mp4`);
    const startedAt = Date.now();
    // One prompt and seed for all: the emulator renders the output once and copies it, so the
    // test measures the pipeline, not ffmpeg. Each POST names its drop by its presigned URL.
    const { s3 } = rt.clients;
    const bucket = rt.endpoints.inputBucket;
    const jobIds = await mapLimit(keys, DROPS, (key) =>
      putObject(s3, {
        bucket,
        key,
        body: clip,
        metadata: { prompt: 'make it snow', seed: '7', 'frame-size': '640:480' },
      }),
    );
    expect(new Set(jobIds).size).toBe(DROPS);

    const jobs = await waitForTerminal(rt.clients, jobIds, 540_000, 3000);
    const seconds = Math.round((Date.now() - startedAt) / 1000);

    const calls = sortProviderCalls(await emulatorRequests(rt.endpoints.provider));
    const providerCalls = calls.posts.length + calls.gets.length + calls.downloads.length;
    console.info(
      `load suite: ${DROPS} jobs in ${seconds} s; outcomes ${JSON.stringify(tally(jobs, outcomeOf))}; ` +
        `${calls.faulted.length} of ${providerCalls} provider calls faulted ${JSON.stringify(tally(calls.faulted, (entry) => entry.fault ?? ''))}; ` +
        `${calls.posts.length} POSTs, ${calls.paidPosts.length} paid`,
    );
    expect(tally(jobs, outcomeOf)).toEqual({ [JobStatus.completed]: DROPS });
    // One paid generation per job, and the one its record names.
    expect(calls.paidPosts).toHaveLength(DROPS);
    const paidPerDrop = tally(calls.paidPosts, (post) => videoUrlObjectOf(post) ?? 'none');
    expect(Object.keys(paidPerDrop).sort()).toEqual(keys.map((key) => `${bucket}/${key}`).sort());
    expect(new Set(Object.values(paidPerDrop))).toEqual(new Set([1]));
    expect(new Set(calls.paidPosts.map((post) => post.generationId))).toEqual(
      new Set(jobs.map((job) => job.generationId)),
    );
    // Every refused POST was a 429 or 503 the client retried; none was answered otherwise.
    expect(calls.posts.length - calls.paidPosts.length).toBe(
      calls.faulted.filter((entry) => entry.fault === 'post:429' || entry.fault === 'post:503').length,
    );
    expect(await readDeadLetters(rt.dataDir)).toEqual([]);
  });
});
