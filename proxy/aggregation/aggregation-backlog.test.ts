/**
 * Backpressure from the aggregation thread: a request whose copy leaves the thread's
 * backlog above its bound is answered only once the thread has caught up.
 */
import { compressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { parseAggregationRules } from '../pipeline/aggregation-config.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import type { ProcessResponse } from '../server/worker-protocol.js';
import { startAggregation } from './proxy-aggregation.js';

const RULES = parseAggregationRules(
  [{ match: 'jobs_done_total', interval: '1h', without: ['pod'], outputs: ['total'] }],
  'phoenix.yaml',
);

function response(pods: number): ProcessResponse {
  const series = Array.from({ length: pods }, (_, pod) =>
    seriesWith(sortedLabels({ __name__: 'jobs_done_total', pod: `p${pod}` }), pod),
  );
  const payload = new Uint8Array(compressSync(Buffer.from(encodeRequest(writeRequest(series)))));
  return {
    ok: true,
    unchanged: true,
    payload,
    stats: {} as never,
    ruleHits: new Uint32Array(0),
  };
}

/** The proxy's aggregation with a real thread and the given backlog bound. */
function startWithBound(maxBacklogBytes: number) {
  return startAggregation({
    rules: RULES,
    dataDir: undefined,
    maxDecompressedBytes: 1 << 20,
    forward: async () => undefined,
    maxBacklogBytes,
  });
}

describe('the aggregation backlog', () => {
  it('holds the answer while the thread is behind, and lets it go once it caught up', async () => {
    const aggregation = await startWithBound(0);
    try {
      const first = response(50);
      const held = aggregation.observe(first);
      expect(held).toBeInstanceOf(Promise);
      await expect(held).resolves.toBe(first);
    } finally {
      await aggregation.close();
    }
  });

  it('answers at once while the backlog is within its bound', async () => {
    const aggregation = await startWithBound(1 << 20);
    try {
      const one = response(50);
      expect(aggregation.observe(one)).toBe(one);
    } finally {
      await aggregation.close();
    }
  });
});
