/**
 * Windows and churn with the real engine and a controlled clock: series of the previous
 * window stay active, series new in the current window are its churn, and a window that
 * ended long ago is not taken as the previous one.
 */
import { describe, expect, it } from 'vitest';
import { compilePipeline } from '../pipeline/compile.js';
import { PipelineEngine } from '../pipeline/engine.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { CardinalitySummary } from './cardinality-summary.js';
import { WorkerCardinalityWindows } from './worker-windows.js';

const HOUR_MS = 3_600_000;

function jobs(from: number, to: number): Uint8Array {
  const series = [];
  for (let i = from; i < to; i++) {
    series.push(seriesWith(sortedLabels({ __name__: 'job_duration_seconds', job_id: `job-${i}` })));
  }
  return encodeRequest(writeRequest(series));
}

describe('WorkerCardinalityWindows', () => {
  it('counts series of the current and previous window as active and new ones as churn', async () => {
    const engine = await PipelineEngine.load();
    engine.use(compilePipeline({ relabelConfigs: [] }));
    engine.configureCardinality(100);
    let nowMs = 10 * HOUR_MS + 5_000;
    const windows = new WorkerCardinalityWindows(
      () => engine,
      HOUR_MS,
      () => nowMs,
    );

    engine.processRemoteWrite(jobs(0, 1_000), { snappyIn: false });
    nowMs += HOUR_MS;
    windows.rotate();
    // 400 of the old jobs report again, 300 new ones start.
    engine.processRemoteWrite(jobs(600, 1_300), { snappyIn: false });

    const collected = windows.windows();
    expect(collected.map((window) => [window.view, window.windowStartMs])).toEqual([
      ['input', 11 * HOUR_MS],
      ['output', 11 * HOUR_MS],
      ['input', 10 * HOUR_MS],
      ['output', 10 * HOUR_MS],
    ]);
    const [metric] = new CardinalitySummary(collected, 'input', nowMs).metrics();
    const within = (actual: number | undefined, expected: number) =>
      expect(Math.abs((actual ?? 0) - expected)).toBeLessThanOrEqual(
        3 * (1.04 / 64) * expected + 1,
      );
    within(metric?.activeSeries, 1_300);
    within(metric?.newSeries, 300);
    expect(metric?.samples).toBe(1_700);

    // Two windows later with no collection in between: the window before is gone.
    nowMs += 2 * HOUR_MS;
    const later = windows.windows();
    expect(later.map((window) => window.windowStartMs)).toEqual([13 * HOUR_MS, 13 * HOUR_MS]);
    expect(new CardinalitySummary(later, 'input', nowMs).metrics()).toEqual([]);
  });

  it('refuses a window shorter than a second', () => {
    expect(
      () =>
        new WorkerCardinalityWindows(
          () => ({ cardinalitySnapshot: () => new Uint8Array(), resetCardinality: () => {} }),
          10,
        ),
    ).toThrow(/must be an integer >= 1000/);
  });
});
