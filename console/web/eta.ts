/**
 * A job's ETA as the pipeline records it on a job in flight (docs/polling.md): the median
 * (`expectedCompletionAt`) and the 90th percentile (`expectedCompletionP90At`) of its completion
 * time given the time already elapsed, refreshed at each check. Ended jobs carry neither.
 */
import { IN_FLIGHT, type PublicJob } from './api.js';
import { formatSeconds, h, shortTime } from './dom.js';

/** `in 1 min 20 s` from `now`, or `overdue` once the time has passed. */
function fromNow(iso: string, now: number): string {
  const seconds = (Date.parse(iso) - now) / 1000;
  return seconds <= 0 ? 'overdue' : `in ${formatSeconds(seconds)}`;
}

/**
 * The ETA of a job in flight as an element (`.eta`, with the instants in `data-median` and
 * `data-p90`), or undefined when the job has ended or has no ETA yet. `long` adds the dates and
 * the time left; the short form (the jobs list) gives clock times only.
 */
export function etaElement(job: PublicJob, long: boolean, now = Date.now()): HTMLElement | undefined {
  const median = job.expectedCompletionAt;
  if (median === undefined || !IN_FLIGHT.has(job.status)) return undefined;
  const p90 = job.expectedCompletionP90At;
  const at = (iso: string) => (long ? shortTime(iso) : shortTime(iso).slice(11));
  const text = long
    ? `${at(median)} (${fromNow(median, now)})${p90 ? `; 90% by ${at(p90)} (${fromNow(p90, now)})` : ''}`
    : `ETA ${at(median)}${p90 ? ` (90%: ${at(p90)})` : ''}`;
  return h('span', { class: 'eta', 'data-median': median, 'data-p90': p90 }, text);
}
