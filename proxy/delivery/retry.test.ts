import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  MAX_RETRY_AFTER_MS,
  parseRetryAfterMs,
  verdictForStatus,
} from './retry.js';

describe('verdictForStatus', () => {
  const cases: Array<[number, string]> = [
    [200, 'delivered'],
    [204, 'delivered'],
    [400, 'reject'],
    [401, 'reject'],
    [404, 'reject'],
    [413, 'reject'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
  ];
  for (const [status, verdict] of cases) {
    it(`${status} → ${verdict}`, () => expect(verdictForStatus(status)).toBe(verdict));
  }
});

describe('backoffDelayMs', () => {
  const bounds = { minBackoffMs: 100, maxBackoffMs: 5000 };
  it('doubles per attempt within [step/2, step]', () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const step = Math.min(5000, 100 * 2 ** attempt);
      expect(backoffDelayMs(attempt, bounds, () => 0)).toBe(step / 2);
      expect(backoffDelayMs(attempt, bounds, () => 1)).toBe(step);
    }
  });
  it('never exceeds the maximum, even after many attempts', () => {
    expect(backoffDelayMs(1000, bounds, () => 1)).toBe(5000);
  });
  it('spreads retries with jitter', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelayMs(3, bounds)));
    expect(delays.size).toBeGreaterThan(10);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const cases: Array<[string | undefined, number | undefined]> = [
    [undefined, undefined],
    ['2', 2000],
    [' 0 ', 0],
    ['Thu, 01 Jan 2026 00:00:05 GMT', 5000],
    ['Wed, 31 Dec 2025 23:59:00 GMT', 0],
    ['soon', undefined],
    ['999999', MAX_RETRY_AFTER_MS],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} → ${expected}`, () =>
      expect(parseRetryAfterMs(header, now)).toBe(expected));
  }
});
