import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLiveDisplay, EtaBars, etaOf } from '../../cli/eta-bar.js';
import { JobStatus } from '../../functions/domain/job.js';
import { aJob, T0 } from '../support/jobs.js';

const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();
const running = aJob({ expectedCompletionAt: iso(200), expectedCompletionP90At: iso(260) });

describe('etaOf', () => {
  it('fills by the time since submission against the expected completion, with the ETA and P90 from now', () => {
    expect(etaOf(running, at(50))).toStrictEqual({ fraction: 0.25, text: 'ETA 2m30s (90%: 3m30s)' });
    expect(etaOf(running, at(190))).toStrictEqual({ fraction: 0.95, text: 'ETA 10s (90%: 1m10s)' });
  });

  it('stays short of full while the job runs past its ETA', () => {
    expect(etaOf(running, at(230))).toStrictEqual({ fraction: 0.99, text: 'ETA any moment (90%: 30s)' });
  });

  it('has none for a job without an estimate, or one that ended', () => {
    expect(etaOf(aJob(), at(10))).toBeUndefined();
    expect(etaOf({ ...running, status: JobStatus.completed }, at(10))).toBeUndefined();
  });
});

describe('createLiveDisplay', () => {
  it('on a pipe, adds the ETA to the line printed at each change', () => {
    const writes: string[] = [];
    const display = createLiveDisplay({ isTTY: false, write: (text: string) => writes.push(text) });
    const jobs = new Map([[running.jobId, running]]);
    display.render([{ key: running.jobId, text: 'a  GENERATING  1 poll', signature: 'g1' }], jobs, at(50));
    display.render([{ key: running.jobId, text: 'a  GENERATING  1 poll', signature: 'g1' }], jobs, at(60));
    expect(writes).toStrictEqual(['a  GENERATING  1 poll  ETA 2m30s (90%: 3m30s)\n']);
  });

  it('on a terminal, draws a progress bar per job with its ETA, and ended jobs as lines above', () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 120 });
    let output = '';
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const display = createLiveDisplay(stream);
    expect(display).toBeInstanceOf(EtaBars);
    display.render(
      [{ key: running.jobId, text: 'a  GENERATING  1 poll', signature: 'g1' }],
      new Map([[running.jobId, running]]),
      at(100),
    );
    display.log(running.jobId, 'a  COMPLETED  3 polls');
    display.stop();
    expect(output).toContain(
      `${'\u2588'.repeat(8)}${'\u2591'.repeat(8)} ETA 1m40s (90%: 2m40s)  a  GENERATING  1 poll`,
    );
    expect(output).toContain('a  COMPLETED  3 polls\n');
  });
});
