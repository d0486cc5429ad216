/**
 * Shift detection for the completion estimate (completion-estimate.ts, docs/polling.md): a
 * log-rank test between the newest observations and the older ones, so the estimate drops the
 * older regime once the provider's speed has shifted. Pure.
 */
import type { CompletionObservation } from './completion-estimate.js';

/** The newest-vs-older split points the shift test tries, and its threshold (chi-square, 1 df). */
const SHIFT_SPLITS = [10, 15, 20, 30, 40, 60] as const;
const SHIFT_CHI_SQUARE = 12;

/**
 * How many of the newest observations belong to the current regime: all of them, unless the
 * log-rank test between the newest `k` and the rest (for the `k` that differs most) rejects
 * one distribution for both.
 */
export function newestRegimeLength(newestFirst: readonly CompletionObservation[]): number {
  if (newestFirst.length - SHIFT_SPLITS[0] < 10) return newestFirst.length;
  // One sort by time; each split then only relabels the groups (rank < split: the newest).
  const rows = sortedRows(newestFirst.map((o, rank) => ({ ...timeOf(o), rank })));
  let best = newestFirst.length;
  let bestStatistic = SHIFT_CHI_SQUARE;
  for (const split of SHIFT_SPLITS) {
    if (newestFirst.length - split < 10) break;
    const statistic = logRank(rows, split, newestFirst.length);
    if (statistic > bestStatistic) {
      bestStatistic = statistic;
      best = split;
    }
  }
  return best;
}

interface Row {
  readonly time: number;
  readonly event: boolean;
  /** Below the split: the first group. */
  readonly rank: number;
}

/** Rows by time, events before censorings at the same time. */
function sortedRows(rows: Row[]): Row[] {
  return rows.sort((x, y) => x.time - y.time || Number(y.event) - Number(x.event));
}

/** The log-rank chi-square of two right-censored samples (interval completions at their midpoint). */
export function logRankStatistic(
  a: readonly CompletionObservation[],
  b: readonly CompletionObservation[],
): number {
  const rows = sortedRows([
    ...a.map((o, i) => ({ ...timeOf(o), rank: i })),
    ...b.map((o, i) => ({ ...timeOf(o), rank: a.length + i })),
  ]);
  return logRank(rows, a.length, rows.length);
}

/** The log-rank chi-square of the rows ranked below `split` against the others. */
function logRank(rows: readonly Row[], split: number, total: number): number {
  let atRiskA = split;
  let atRisk = total;
  let observedMinusExpected = 0;
  let variance = 0;
  let i = 0;
  while (i < rows.length) {
    const time = rows[i]?.time ?? 0;
    let events = 0;
    let eventsA = 0;
    let leaving = 0;
    let leavingA = 0;
    for (let row = rows[i]; row !== undefined && row.time === time; row = rows[i]) {
      const inA = row.rank < split;
      if (row.event) {
        events += 1;
        if (inA) eventsA += 1;
      }
      leaving += 1;
      if (inA) leavingA += 1;
      i += 1;
    }
    if (events > 0 && atRisk > 1) {
      const share = atRiskA / atRisk;
      observedMinusExpected += eventsA - events * share;
      variance += (events * share * (1 - share) * (atRisk - events)) / (atRisk - 1);
    }
    atRisk -= leaving;
    atRiskA -= leavingA;
  }
  return variance > 0 ? observedMinusExpected ** 2 / variance : 0;
}

function timeOf(o: CompletionObservation): { readonly time: number; readonly event: boolean } {
  return o.bySeconds === undefined
    ? { time: o.afterSeconds, event: false }
    : { time: (o.afterSeconds + o.bySeconds) / 2, event: true };
}
