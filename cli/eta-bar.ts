/**
 * The ETA of jobs in flight, as `submit --wait` and `watch` show it. The record carries the
 * polling policy's estimate (`expectedCompletionAt`, the median, and `expectedCompletionP90At`,
 * refreshed at each check): on a terminal each job gets a progress bar (cli-progress) filled by
 * the time since submission against its expected completion, with the ETA beside it; in a pipe
 * or a log the ETA is part of the plain progress line.
 */
import { MultiBar } from 'cli-progress';
import { isTerminal, type Job } from '../functions/domain/job.js';
import type { TextSink } from './format.js';
import { type LiveEntry, LiveLines } from './progress.js';

/** Where a job stands against its ETA. */
export interface EtaFigure {
  /** Time since submission over the expected time, below 1 while the job runs. */
  readonly fraction: number;
  /** `ETA 1m20s (90%: 2m05s)`, times from now. */
  readonly text: string;
}

/** The largest share a running job's bar shows: full means done. */
const RUNNING_MAX_FRACTION = 0.99;

/** A job's ETA at `now`; undefined when it has none (not in flight, or not yet submitted). */
export function etaOf(
  job: Pick<Job, 'status' | 'submittedAt' | 'expectedCompletionAt' | 'expectedCompletionP90At'>,
  now: Date,
): EtaFigure | undefined {
  if (isTerminal(job.status) || job.submittedAt === undefined || job.expectedCompletionAt === undefined)
    return undefined;
  const submitted = Date.parse(job.submittedAt);
  const expected = Date.parse(job.expectedCompletionAt);
  if (!Number.isFinite(submitted) || !Number.isFinite(expected)) return undefined;
  const elapsed = now.getTime() - submitted;
  const fraction =
    expected > submitted
      ? Math.min(RUNNING_MAX_FRACTION, Math.max(0, elapsed / (expected - submitted)))
      : RUNNING_MAX_FRACTION;
  const p90 =
    job.expectedCompletionP90At === undefined ? Number.NaN : Date.parse(job.expectedCompletionP90At);
  const p90Text = Number.isFinite(p90) ? ` (90%: ${fromNow(p90 - now.getTime())})` : '';
  return { fraction, text: `ETA ${fromNow(expected - now.getTime())}${p90Text}` };
}

/** `1m20s`, or `any moment` once the time has come (the record is refreshed at the next check). */
function fromNow(ms: number): string {
  if (ms <= 0) return 'any moment';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/** A live display of job lines: {@link EtaBars} on a terminal, {@link LiveLines} elsewhere. */
export interface LiveDisplay {
  /** Show the current state of every entry; `jobs` gives each entry's record for its ETA. */
  render(entries: readonly LiveEntry[], jobs: ReadonlyMap<string, Job>, now: Date): void;
  /** A permanent line (a job that ended), printed above the live ones. */
  log(key: string, text: string): void;
  /** Leave the terminal as it was (the bars stay as last drawn). */
  stop(): void;
}

/** The display for a sink: progress bars on a terminal stream, plain lines otherwise. */
export function createLiveDisplay(sink: TextSink): LiveDisplay {
  if (sink.isTTY === true && isStream(sink)) return new EtaBars(sink);
  const lines = new LiveLines(sink);
  return {
    render: (entries, jobs, now) =>
      lines.render(
        entries.map((entry) => {
          const job = jobs.get(entry.key);
          const eta = job === undefined ? undefined : etaOf(job, now);
          return eta === undefined ? entry : { ...entry, text: `${entry.text}  ${eta.text}` };
        }),
      ),
    log: (key, text) => lines.log(key, text),
    stop: () => {},
  };
}

function isStream(sink: TextSink): sink is TextSink & NodeJS.WritableStream {
  return typeof (sink as { on?: unknown }).on === 'function';
}

/** Scale of a bar: the fraction in thousandths. */
const BAR_TOTAL = 1000;

/** One cli-progress bar per job in flight; jobs without an ETA get an empty bar. */
export class EtaBars implements LiveDisplay {
  private readonly multibar: MultiBar;
  private readonly bars = new Map<string, ReturnType<MultiBar['create']>>();

  constructor(stream: NodeJS.WritableStream) {
    this.multibar = new MultiBar({
      stream,
      format: '{bar} {when}  {line}',
      barsize: 16,
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      hideCursor: true,
      autopadding: true,
      clearOnComplete: false,
      stopOnComplete: false,
      emptyOnZero: true,
    });
  }

  render(entries: readonly LiveEntry[], jobs: ReadonlyMap<string, Job>, now: Date): void {
    const shown = new Set(entries.map((entry) => entry.key));
    for (const [key, bar] of this.bars) {
      if (shown.has(key)) continue;
      this.multibar.remove(bar);
      this.bars.delete(key);
    }
    for (const entry of entries) {
      const job = jobs.get(entry.key);
      const eta = job === undefined ? undefined : etaOf(job, now);
      const value = Math.round((eta?.fraction ?? 0) * BAR_TOTAL);
      const payload = { line: entry.text, when: eta?.text ?? '' };
      const bar = this.bars.get(entry.key);
      if (bar === undefined) this.bars.set(entry.key, this.multibar.create(BAR_TOTAL, value, payload));
      else bar.update(value, payload);
    }
    // Draw now rather than at the library's next tick: each render is a fresh read of the records.
    this.multibar.update();
  }

  log(key: string, text: string): void {
    const bar = this.bars.get(key);
    if (bar !== undefined) {
      this.multibar.remove(bar);
      this.bars.delete(key);
    }
    this.multibar.log(`${text}\n`);
    this.multibar.update();
  }

  stop(): void {
    this.multibar.stop();
  }
}
