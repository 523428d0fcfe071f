import { describe, expect, it } from 'vitest';
import { TrafficSample } from './traffic-sample.js';

describe('TrafficSample', () => {
  it('keeps a copy of at most one remote-write 1.0 body per interval', () => {
    let nowMs = 1_000;
    const sample = new TrafficSample({ intervalMs: 5_000, maxBytes: 8, nowMs: () => nowMs });
    const body = new Uint8Array([1, 2, 3]);
    sample.offer(body, undefined, undefined);
    body[0] = 9;
    expect(sample.latest()).toEqual({ body: new Uint8Array([1, 2, 3]), atMs: 1_000 });

    nowMs = 3_000;
    sample.offer(new Uint8Array([4]), 'rw1', 'snappy');
    expect(sample.latest()?.atMs).toBe(1_000);

    nowMs = 6_000;
    const refused: Array<
      [Uint8Array, Parameters<TrafficSample['offer']>[1], Parameters<TrafficSample['offer']>[2]]
    > = [
      [new Uint8Array([5]), 'rw2', 'snappy'],
      [new Uint8Array([5]), 'otlp-proto', 'identity'],
      [new Uint8Array([5]), 'rw1', 'gzip'],
      [new Uint8Array(9), 'rw1', 'snappy'],
      [new Uint8Array(0), 'rw1', 'snappy'],
    ];
    for (const [candidate, format, encoding] of refused) sample.offer(candidate, format, encoding);
    expect(sample.latest()?.atMs).toBe(1_000);

    sample.offer(new Uint8Array([6]), 'rw1', 'snappy');
    expect(sample.latest()).toEqual({ body: new Uint8Array([6]), atMs: 6_000 });
  });
});
