import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff.js';

describe('backoffDelayMs', () => {
  it('doubles from the minimum up to the maximum, scaled into [0.5, 1)', () => {
    const high = () => 0.999_999;
    expect(
      [0, 1, 2, 3, 4, 5, 10, 60].map((attempt) => backoffDelayMs(attempt, 100, 3000, high)),
    ).toEqual([100, 200, 400, 800, 1600, 3000, 3000, 3000]);
    const low = () => 0;
    expect([0, 1, 5].map((attempt) => backoffDelayMs(attempt, 100, 3000, low))).toEqual([
      50, 100, 1500,
    ]);
  });
});
