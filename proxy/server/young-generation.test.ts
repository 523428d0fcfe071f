import { constants, PerformanceObserver } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { type Collector, YoungGenerationSweeper } from './young-generation.js';

/** A collector that records what ran, with the external memory a test sets. */
function recordingCollector(): Collector & { runs: string[]; external: number } {
  const collector = {
    runs: [] as string[],
    external: 0,
    scavenge: () => collector.runs.push('scavenge'),
    fullGc: () => collector.runs.push('full'),
    externalBytes: () => collector.external,
  };
  return collector;
}

/** Runs `body` and returns the kinds of the GCs V8 reported meanwhile. */
async function gcKindsDuring(body: () => void): Promise<number[]> {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      kinds.push((entry as unknown as { detail: { kind: number } }).detail.kind);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  body();
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return kinds;
}

describe('YoungGenerationSweeper', () => {
  it('scavenges once per threshold of buffer bytes, not before', () => {
    const collector = recordingCollector();
    const sweeper = new YoungGenerationSweeper(1000, 1 << 20, collector);
    sweeper.note(600);
    expect(collector.runs).toEqual([]);
    sweeper.note(400);
    expect(collector.runs).toEqual(['scavenge']);
    sweeper.note(999);
    expect(collector.runs).toEqual(['scavenge']);
    sweeper.note(5000);
    expect(collector.runs).toEqual(['scavenge', 'scavenge']);
    expect(sweeper.scavenges).toBe(2);
    expect(sweeper.fullGcs).toBe(0);
  });

  it('runs a full GC once external memory grew too far since the last one', () => {
    const collector = recordingCollector();
    const sweeper = new YoungGenerationSweeper(1000, 5000, collector);
    // A large WebAssembly memory is external memory too: only growth counts.
    collector.external = 100_000;
    sweeper.note(1000);
    collector.external = 105_000;
    sweeper.note(1000);
    expect(collector.runs).toEqual(['scavenge', 'scavenge']);
    collector.external = 105_001;
    sweeper.note(1000);
    expect(collector.runs).toEqual(['scavenge', 'scavenge', 'scavenge', 'full']);
    expect(sweeper.fullGcs).toBe(1);
    // The full GC's result is the new baseline.
    collector.external = 110_000;
    sweeper.note(1000);
    expect(sweeper.fullGcs).toBe(1);
  });

  it("runs V8's real minor GC", async () => {
    const sweeper = new YoungGenerationSweeper(1024, Number.MAX_SAFE_INTEGER);
    const kinds = await gcKindsDuring(() => {
      for (let i = 0; i < 4; i++) sweeper.note(512);
    });
    expect(sweeper.scavenges).toBe(2);
    expect(
      kinds.filter((kind) => kind === constants.NODE_PERFORMANCE_GC_MINOR).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it("runs V8's real full GC when buffers pile up", async () => {
    const sweeper = new YoungGenerationSweeper(1, 512 * 1024);
    sweeper.note(1);
    const kept = Array.from({ length: 16 }, () => new ArrayBuffer(64 * 1024));
    const kinds = await gcKindsDuring(() => sweeper.note(1));
    expect(kept.length).toBe(16);
    expect(sweeper.fullGcs).toBe(1);
    expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_MAJOR);
  });
});
