import { describe, expect, it } from 'vitest';
import { playFirstCheckGame } from '../../bench/cold-start-bound.js';

/** Each row's expected cost with the columns weighted `weights`. */
const rowCosts = (cost: number[][], weights: readonly number[]) =>
  cost.map((row) => row.reduce((sum, c, j) => sum + c * (weights[j] ?? 0), 0));

describe('the first-check game behind the cold-start bound', () => {
  it('finds the value of a game no single row wins: half of each row, 1.5', () => {
    const cost = [
      [1, 2],
      [2, 1],
    ];
    const game = playFirstCheckGame(cost);
    expect(game.lower).toBeLessThanOrEqual(1.5);
    expect(game.upper).toBeGreaterThanOrEqual(1.5);
    expect(game.upper - game.lower).toBeLessThan(0.01);
    expect(game.rowShares[0]).toBeCloseTo(0.5, 1);
    expect(game.columnWeights[0]).toBeCloseTo(0.5, 1);
  });

  it('proves its lower figure: no row costs less on average over the weighted columns', () => {
    const cost = [
      [1, 3, 2],
      [3, 1, 2.5],
      [2.2, 2.2, 2.2],
      [1.5, 2.8, 1],
    ];
    const game = playFirstCheckGame(cost);
    const costs = rowCosts(cost, game.columnWeights);
    expect(Math.min(...costs)).toBeCloseTo(game.lower, 12);
    expect(game.columnWeights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // The shares reach `upper` on their worst column, and no column is worse.
    const columns = [0, 1, 2].map((j) =>
      game.rowShares.reduce((sum, s, i) => sum + s * (cost[i]?.[j] ?? 0), 0),
    );
    expect(Math.max(...columns)).toBeCloseTo(game.upper, 12);
  });

  it('mixing beats the best single row where the rows trade columns', () => {
    // The best single row is the third (2.2 on every column); half of each of the first two costs 2.
    const cost = [
      [1, 3],
      [3, 1],
      [2.2, 2.2],
    ];
    const game = playFirstCheckGame(cost);
    expect(game.lower).toBeGreaterThan(1.98);
    expect(game.lower).toBeLessThanOrEqual(2);
    expect(game.upper).toBeLessThan(2.02);
    expect(game.rowShares[2]).toBe(0);
  });

  it('puts everything on a row that is best on every column', () => {
    const game = playFirstCheckGame([
      [1, 1],
      [2, 3],
    ]);
    expect(game.lower).toBe(1);
    expect(game.upper).toBe(1);
    expect(game.rowShares).toEqual([1, 0]);
  });
});
