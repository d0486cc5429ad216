/**
 * A lower bound for cold starts (`npx tsx bench/cold-start-bound.ts`): how close to the optimum
 * any policy can be when all it knows before its first check is the typical time (the median).
 *
 * Twenty drops on an empty history all get their first check before anything has finished, and
 * a policy that knows only the typical time gives every workload with that median the same one.
 * Give such a policy the best possible rest (after its first check, the optimal plan for the
 * true distribution) and the cost of the first check alone remains. Over seven shapes with the
 * same median (single log-normals of three spreads, two-peaked and three-peaked mixtures), for
 * every possible first check, the worst ratio to each shape's own optimum; the best first check
 * is the one whose worst ratio is least. Scored like the cold-start bench: a check worth 10 s.
 *
 * The cohort may also spread its first checks: a share of the drops at one time, a share at
 * another (a mixed strategy). The least worst ratio over such spreads is the value of a game
 * between the policy (first checks) and the workload (shapes), found by multiplicative weights
 * on the shapes: the best weighting of shapes found gives a lower bound (no spread does better on
 * that weighting, so none does better on every shape), the averaged replies an achieving spread.
 */

import { planChecks } from '../functions/domain/poll-policy.js';
import type { Random } from '../local/emulator/random.js';
import { drawDurations, empiricalCdf, type Workload } from './polling.js';
import { lognormal } from './polling-families.js';

const CHECK_COST = 10;
const FLOOR = 5;
const HORIZON = 1799;
const DRAWS = 10_000;

const mixture =
  (parts: readonly (readonly [number, (random: Random) => number])[]) =>
  (random: Random): number => {
    let u = random();
    // The last part takes whatever rounding leaves of the shares.
    const part = parts.find(([share], i) => {
      u -= share;
      return u < 0 || i === parts.length - 1;
    });
    if (part === undefined) throw new Error('a mixture needs at least one part');
    return part[1](random);
  };

/** A mixture of narrow peaks: `[share, median, sigma]` each. */
const peaks = (name: string, parts: readonly (readonly [number, number, number])[]): Workload => ({
  name,
  description: '',
  draw: mixture(parts.map(([share, median, sigma]) => [share, lognormal(median, sigma)] as const)),
});

/** Shapes at median ~1; each is rescaled to the median under test. */
const SHAPES: readonly Workload[] = [
  { name: 'log-normal sigma 0.15', description: '', draw: lognormal(1, 0.15) },
  { name: 'log-normal sigma 0.25', description: '', draw: lognormal(1, 0.25) },
  { name: 'log-normal sigma 0.5', description: '', draw: lognormal(1, 0.5) },
  peaks('40% at 0.3, 60% at 1.2', [
    [0.4, 0.3, 0.1],
    [0.6, 1.2, 0.1],
  ]),
  peaks('40% at 0.5, 60% at 1.2', [
    [0.4, 0.5, 0.1],
    [0.6, 1.2, 0.1],
  ]),
  peaks('45% at 0.3, 55% at 1.1', [
    [0.45, 0.3, 0.1],
    [0.55, 1.1, 0.1],
  ]),
  peaks('thirds at 0.25, 1, 3.7', [
    [1 / 3, 0.25, 0.08],
    [1 / 3, 1, 0.08],
    [1 / 3, 3.7, 0.08],
  ]),
];

interface Shape {
  readonly name: string;
  readonly durations: readonly number[];
  readonly next: Int32Array;
  readonly optimum: number;
}

/** The mean objective (checks + lag / cost) of first checking at `first`, then following `next`. */
function costFrom(durations: readonly number[], next: Int32Array, first: number): number {
  let total = 0;
  for (const t of durations) {
    let at = first;
    let checks = 1;
    while (at < t) {
      const following = next[at] ?? -1;
      checks += 1;
      if (following < 0) {
        at = HORIZON + 1;
        break;
      }
      at = following;
    }
    total += checks + Math.max(0, at - t) / CHECK_COST;
  }
  return total / durations.length;
}

function shapeAt(workload: Workload, median: number, seed: number): Shape {
  const drawn = drawDurations(workload, DRAWS, seed).sort((a, b) => a - b);
  const scale = median / (drawn[DRAWS / 2] ?? 1);
  const durations = drawn.map((t) => t * scale);
  const plan = planChecks(empiricalCdf(durations, HORIZON), {
    minWaitSeconds: FLOOR,
    checkCostSeconds: CHECK_COST,
  });
  const next = plan.nextCheckAt;
  return { name: workload.name, durations, next, optimum: costFrom(durations, next, next[0] ?? FLOOR) };
}

/** Every first check tried, and its ratio to each shape's optimum (`ratios[check][shape]`). */
export interface RatioTable {
  readonly names: readonly string[];
  readonly firstChecks: readonly number[];
  readonly ratios: readonly (readonly number[])[];
}

/** The {@link RatioTable} for the shapes rescaled to `median`, drawn with `seed`. */
export function ratioTable(median: number, seed = 11): RatioTable {
  const shapes = SHAPES.map((w) => shapeAt(w, median, seed));
  const firstChecks: number[] = [];
  for (let first = FLOOR; first < Math.min(HORIZON, 4 * median); first += 5) firstChecks.push(first);
  const ratios = firstChecks.map((first) =>
    shapes.map((s) => costFrom(s.durations, s.next, first) / s.optimum),
  );
  return { names: shapes.map((s) => s.name), firstChecks, ratios };
}

/** The best common first check, and each shape's ratio to its optimum with it. */
export function coldStartBound(table: RatioTable): {
  readonly firstCheck: number;
  readonly worst: number;
  readonly ratios: readonly (readonly [string, number])[];
} {
  let best = { index: 0, worst: Number.POSITIVE_INFINITY };
  table.ratios.forEach((row, index) => {
    const worst = Math.max(...row);
    if (worst < best.worst) best = { index, worst };
  });
  const row = table.ratios[best.index] ?? [];
  return {
    firstCheck: table.firstChecks[best.index] ?? FLOOR,
    worst: best.worst,
    ratios: table.names.map((name, j) => [name, row[j] ?? Number.NaN] as const),
  };
}

const GAME_ROUNDS = 4000;
const GAME_STEP = 0.05;

/** What {@link playFirstCheckGame} finds: see there. */
export interface GameSolution {
  readonly lower: number;
  readonly upper: number;
  /** The weighting of the columns that proves `lower`. */
  readonly columnWeights: readonly number[];
  /** The mix of rows that reaches `upper`. */
  readonly rowShares: readonly number[];
}

/**
 * The value of the zero-sum game `cost[row][column]` where the rows (first checks) pick a mix to
 * make the expected cost least and the columns (shapes) a mix to make it most, by multiplicative
 * weights on the columns against best replies. `lower` is a bound: with the columns weighted by
 * `columnWeights`, no row, so no mix of rows, costs less on average, so every mix of rows costs
 * at least `lower` on some column. `upper` is what the averaged replies, `rowShares`, cost on
 * their worst column; the value lies between them.
 */
export function playFirstCheckGame(
  cost: readonly (readonly number[])[],
  rounds = GAME_ROUNDS,
  step = GAME_STEP,
): GameSolution {
  const columns = cost[0]?.length ?? 0;
  let weights: number[] = new Array(columns).fill(1);
  const replies: number[] = cost.map(() => 0);
  let lower = { value: Number.NEGATIVE_INFINITY, weights: weights as readonly number[] };
  for (let round = 0; round < rounds; round += 1) {
    const total = weights.reduce((a, b) => a + b, 0);
    const q = weights.map((w) => w / total);
    const expected = cost.map((row) => row.reduce((sum, c, j) => sum + c * (q[j] ?? 0), 0));
    const reply = expected.indexOf(Math.min(...expected));
    const value = expected[reply] ?? Number.NaN;
    if (value > lower.value) lower = { value, weights: q };
    replies[reply] = (replies[reply] ?? 0) + 1;
    const row = cost[reply] ?? [];
    weights = weights.map((w, j) => w * Math.exp(step * (row[j] ?? 0)));
  }
  const rowShares = replies.map((count) => count / rounds);
  const upper = Math.max(
    ...Array.from({ length: columns }, (_, j) =>
      rowShares.reduce((sum, share, i) => sum + share * (cost[i]?.[j] ?? 0), 0),
    ),
  );
  return { lower: lower.value, upper, columnWeights: lower.weights, rowShares };
}

/**
 * The least worst ratio when the cohort spreads its first checks ({@link playFirstCheckGame} on
 * the first checks and the shapes): `lower` is a bound, the shapes weighted by `weights` proving
 * it; `upper` is what `spread` (first check -> share) reaches on its worst shape.
 */
export function spreadColdStartBound({ names, firstChecks, ratios }: RatioTable): {
  readonly lower: number;
  readonly upper: number;
  readonly spread: ReadonlyMap<number, number>;
  readonly weights: readonly (readonly [string, number])[];
} {
  const game = playFirstCheckGame(ratios);
  const spread = new Map<number, number>();
  game.rowShares.forEach((share, i) => {
    if (share > 0) spread.set(firstChecks[i] ?? FLOOR, share);
  });
  return {
    lower: game.lower,
    upper: game.upper,
    spread,
    weights: names.map((name, j) => [name, game.columnWeights[j] ?? 0] as const),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const median of [50, 100, 200, 300, 1000]) {
    const table = ratioTable(median);
    const bound = coldStartBound(table);
    const detail = bound.ratios.map(([name, r]) => `${name} ${r.toFixed(3)}`).join(', ');
    console.log(
      `typical ${median} s: best common first check ${bound.firstCheck} s, worst ratio ${bound.worst.toFixed(3)} (${detail})`,
    );
    const spread = spreadColdStartBound(table);
    const shares = [...spread.spread]
      .filter(([, share]) => share >= 0.02)
      .map(([first, share]) => `${first} s ${Math.round(100 * share)}%`)
      .join(', ');
    const weights = spread.weights
      .filter(([, w]) => w >= 0.02)
      .map(([name, w]) => `${name} ${Math.round(100 * w)}%`)
      .join(', ');
    console.log(
      `  spread over the cohort: worst ratio at least ${spread.lower.toFixed(3)} (shapes weighted ${weights}); reached ${spread.upper.toFixed(3)} by ${shares}`,
    );
  }
}
