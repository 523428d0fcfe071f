import { describe, expect, it } from 'vitest';
import {
  formatAgo,
  formatBytes,
  formatCount,
  formatDollars,
  formatDuration,
  formatNanoseconds,
  formatPercent,
  formatRate,
  formatShare,
  monthlyCost,
} from './format.js';

describe('number formats', () => {
  const cases: Array<[string, string, string]> = [
    ['formatCount', formatCount(0), '0'],
    ['formatCount', formatCount(7.25), '7.3'],
    ['formatCount', formatCount(999), '999'],
    ['formatCount', formatCount(1_234), '1.23k'],
    ['formatCount', formatCount(12_000), '12k'],
    ['formatCount', formatCount(4_500_000), '4.5M'],
    ['formatCount', formatCount(2e9), '2G'],
    ['formatCount', formatCount(Number.NaN), '–'],
    ['formatRate', formatRate(120), '120/s'],
    ['formatShare', formatShare(0.8734), '87.3%'],
    ['formatShare', formatShare(1), '100%'],
    ['formatPercent', formatPercent(95), '95%'],
    ['formatDollars', formatDollars(0.48), '$0.48'],
    ['formatDollars', formatDollars(1234.4), '$1,234'],
    ['formatBytes', formatBytes(512), '512 B'],
    ['formatBytes', formatBytes(1536), '1.5 KiB'],
    ['formatNanoseconds', formatNanoseconds(850), '850 ns'],
    ['formatNanoseconds', formatNanoseconds(1930), '1.93 µs'],
    ['formatDuration', formatDuration(42), '42s'],
    ['formatDuration', formatDuration(1800), '30m 0s'],
    ['formatDuration', formatDuration(3900), '1h 5m'],
    ['formatAgo', formatAgo(10_000, 13_000), '3 s ago'],
    ['formatAgo', formatAgo(0, 13_000), 'never'],
  ];
  for (const [name, got, expected] of cases) {
    it(`${name} gives ${expected}`, () => {
      expect(got).toBe(expected);
    });
  }

  it('prices series per thousand per month', () => {
    expect(monthlyCost(60_000, 8)).toBe(480);
  });
});
