import { describe, expect, it } from 'vitest';
import { lookBackMs } from './query-ranges.js';

describe('lookBackMs', () => {
  it.each([
    ['up', 0],
    ['rate(http_requests_total[1m])', 60_000],
    ['sum by (job) (rate(a[5m])) / sum(rate(b[30s]))', 300_000],
    ['max_over_time(rate(a[1m])[1h:1m])', 3_600_000],
    ['rate(a[1m] offset 10m)', 660_000],
    ['rate(a[$__rate_interval])', 300_000],
  ])('%s reads back %d ms', (query, expected) => {
    expect(lookBackMs(query)).toBe(expected);
  });
});
