/**
 * A drop with metadata goes all the way through the local runtime: S3 event, submit, one paid
 * generation at the emulator, the state machine's polling, the copy to the output bucket, the
 * record file and the terminal event. Everything is read back through real SDK clients.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPublicRecord } from '../../functions/domain/finalize-job.js';
import { type Job, JobStatus, MODEL } from '../../functions/domain/job.js';
import { probeVideo } from '../../local/ffmpeg.js';
import {
  emulatorRequests,
  eventsOfJob,
  generationPosts,
  getObject,
  postsForObject,
  putObject,
  startTestRuntime,
  type TestRuntime,
  testClip,
  waitFor,
  waitForJob,
} from '../support/runtime-harness.js';

const KEY = 'trips/day one/harbour.mp4';
const PROMPT = 'Turn the harbour into a snowy night — «neige» ❄';

describe('a video dropped with metadata', () => {
  let rt: TestRuntime;
  let jobId: string;
  let job: Job;

  beforeAll(async () => {
    rt = await startTestRuntime();
    jobId = await putObject(rt.clients.s3, {
      bucket: rt.endpoints.inputBucket,
      key: KEY,
      body: await readFile(await testClip()),
      metadata: { prompt: encodeURIComponent(PROMPT), 'frame-size': '848:480' },
    });
    job = await waitForJob(rt.clients.jobs, jobId);
    // The record file and the event follow the COMPLETED update; the event is written last.
    await waitFor('the terminal event', async () =>
      (await eventsOfJob(rt.endpoints.eventsFile, jobId)).length > 0 ? true : undefined,
    );
  });

  afterAll(async () => {
    await rt?.stop();
  });

  it('completes the job with the decoded prompt and the requested frame size', () => {
    expect(job.status).toBe(JobStatus.completed);
    expect(job.error).toBeUndefined();
    expect(job.request).toEqual({ model: MODEL, prompt: PROMPT, frameSize: '848:480', duration: 5 });
    expect(job.source).toMatchObject({ bucket: rt.endpoints.inputBucket, key: KEY });
    expect(job.trigger).toMatchObject({ kind: 'upload', bucket: rt.endpoints.inputBucket, key: KEY });
    expect(job.generationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(job.providerStatus).toBe('completed');
    expect(job.executionArn).toBe(
      `${rt.endpoints.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`,
    );
    expect(job.creditsUsed).toBe(40);
    expect(job.pollCount).toBeGreaterThanOrEqual(1);
  });

  it('writes the output to <key without extension>/<jobId>.mp4 with job-id, generation-id and source-key metadata', async () => {
    const outputKey = `trips/day one/harbour/${jobId}.mp4`;
    expect(job.output).toMatchObject({
      bucket: rt.endpoints.outputBucket,
      key: outputKey,
      contentType: 'video/mp4',
    });
    const output = await getObject(rt.clients.s3, rt.endpoints.outputBucket, outputKey);
    expect(output.bytes.length).toBe(job.output?.size);
    expect(output.contentType).toBe('video/mp4');
    expect(output.metadata).toEqual({
      'job-id': jobId,
      'generation-id': job.generationId,
      'source-key': encodeURIComponent(KEY),
    });
  });

  it('renders 848x480 for 5 seconds, as ffprobe reads the output', async () => {
    const outputKey = `trips/day one/harbour/${jobId}.mp4`;
    const output = await getObject(rt.clients.s3, rt.endpoints.outputBucket, outputKey);
    const local = join(rt.dataDir, 'downloaded-output.mp4');
    await writeFile(local, output.bytes);
    const probe = await probeVideo(local);
    expect(probe.codec).toBe('h264');
    expect([probe.width, probe.height]).toEqual([848, 480]);
    expect(probe.durationSeconds).toBeGreaterThanOrEqual(4.8);
    expect(probe.durationSeconds).toBeLessThanOrEqual(5.2);
  });

  it("records the output's width, height and duration as read from its moov box, matching ffprobe", async () => {
    const outputKey = `trips/day one/harbour/${jobId}.mp4`;
    const output = await getObject(rt.clients.s3, rt.endpoints.outputBucket, outputKey);
    const local = join(rt.dataDir, 'measured-output.mp4');
    await writeFile(local, output.bytes);
    const probe = await probeVideo(local);
    expect(job.output).toMatchObject({ width: probe.width, height: probe.height });
    expect(job.output?.durationSeconds).toBeCloseTo(probe.durationSeconds, 1);
  });

  it('writes <jobId>.json beside the output, equal to the public fields of the DynamoDB record', async () => {
    const record = await getObject(
      rt.clients.s3,
      rt.endpoints.outputBucket,
      `trips/day one/harbour/${jobId}.json`,
    );
    const stored = await rt.clients.jobs.get(jobId);
    if (stored === undefined) throw new Error(`no record for ${jobId}`);
    expect(JSON.parse(new TextDecoder().decode(record.bytes))).toEqual(
      JSON.parse(JSON.stringify(toPublicRecord(stored))),
    );
  });

  it('appends exactly one "Job Completed" event, schema version 1, for the job', async () => {
    const events = await eventsOfJob(rt.endpoints.eventsFile, jobId);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event?.source).toBe('vidflow');
    expect(event?.detailType).toBe('Job Completed');
    expect(event?.detail.schemaVersion).toBe(1);
    expect(event?.detail).toEqual({
      schemaVersion: 1,
      ...JSON.parse(JSON.stringify(toPublicRecord(job))),
    });
  });

  it('sends the input as a URL the emulator fetches with HEAD, then GET, both answered 200 (the input CDN stand-in)', async () => {
    const fetches = (await (await fetch(`${rt.endpoints.provider}/_emulator/input-fetches`)).json()) as {
      generationId: string;
      fetches: { method: string; status: number }[];
    }[];
    expect(fetches.find((entry) => entry.generationId === job.generationId)?.fetches).toEqual([
      { method: 'HEAD', status: 200 },
      { method: 'GET', status: 200 },
    ]);
  });

  it('pays for exactly one generation: one POST at the emulator, for this video', async () => {
    const entries = await emulatorRequests(rt.endpoints.provider);
    const posts = generationPosts(entries);
    expect(posts).toHaveLength(1);
    expect(postsForObject(entries, rt.endpoints.inputBucket, KEY)).toHaveLength(1);
    expect(posts[0]).toMatchObject({
      status: 200,
      generationId: job.generationId,
      body: { model: MODEL, prompt: PROMPT, frame_size: '848:480', duration: 5 },
    });
  });
});
