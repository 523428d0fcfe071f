import { describe, expect, it } from 'vitest';
import { YoungGenerationSweeper } from './young-generation.js';

describe('YoungGenerationSweeper', () => {
  it('scavenges once per threshold of buffer bytes, not before', () => {
    let runs = 0;
    const sweeper = new YoungGenerationSweeper(1000, () => {
      runs++;
    });
    sweeper.note(600);
    expect(runs).toBe(0);
    sweeper.note(400);
    expect(runs).toBe(1);
    sweeper.note(999);
    expect(runs).toBe(1);
    sweeper.note(5000);
    expect(runs).toBe(2);
    expect(sweeper.scavenges).toBe(2);
  });

  it("runs V8's real scavenge, a minor GC", async () => {
    const { PerformanceObserver, constants } = await import('node:perf_hooks');
    const kinds: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        kinds.push((entry.detail as { kind: number }).kind);
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    const sweeper = new YoungGenerationSweeper(1024);
    for (let i = 0; i < 4; i++) sweeper.note(new ArrayBuffer(512).byteLength);
    await new Promise((resolve) => setTimeout(resolve, 50));
    observer.disconnect();
    expect(sweeper.scavenges).toBe(2);
    expect(
      kinds.filter((kind) => kind === constants.NODE_PERFORMANCE_GC_MINOR).length,
    ).toBeGreaterThanOrEqual(2);
  });
});
