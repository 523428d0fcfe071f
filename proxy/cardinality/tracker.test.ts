/**
 * Cardinality trackers filled by the real pipeline engine (the built WebAssembly module)
 * from remote-write requests of known cardinality: per-metric series, per-label distinct
 * values and label=value pairs before and after relabeling, merging across engines, the
 * metric cap with its "other" bucket, and the serialized layout round trip.
 */
import { describe, expect, it } from 'vitest';
import { compilePipeline } from '../pipeline/compile.js';
import {
  CARDINALITY_VIEW_INPUT,
  CARDINALITY_VIEW_OUTPUT,
  PipelineEngine,
} from '../pipeline/engine.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { CardinalitySummary, type CardinalityWindow } from './cardinality-summary.js';
import { decodeTracker, encodeTracker, mergeTrackers } from './tracker.js';

/** Relative standard errors of the sketches (docs/cardinality.md). */
const SERIES_ERROR = 1.04 / 64; // precision 12
const TOTAL_ERROR = 1.04 / 128; // precision 14
const LABEL_ERROR = 1.04 / 16; // precision 8

const METHODS = ['GET', 'POST', 'PUT'];
const API_SERIES = 6_000;

/** Series `index` of `api_requests_total`: 50 instances, 3 methods, one path per series. */
function apiSeries(index: number) {
  return seriesWith(
    sortedLabels({
      __name__: 'api_requests_total',
      instance: `i-${index % 50}`,
      method: METHODS[index % 3] as string,
      path: `/p${index}`,
    }),
  );
}

function upSeries(index: number) {
  return seriesWith(sortedLabels({ __name__: 'up', instance: `i-${index}` }));
}

/** Requests of 500 series covering api series [from, to) and the 50 `up` series. */
function requests(from: number, to: number): Uint8Array[] {
  const bodies: Uint8Array[] = [];
  for (let start = from; start < to; start += 500) {
    const series = [];
    for (let i = start; i < Math.min(to, start + 500); i++) series.push(apiSeries(i));
    bodies.push(encodeRequest(writeRequest(series)));
  }
  bodies.push(encodeRequest(writeRequest(Array.from({ length: 50 }, (_, i) => upSeries(i)))));
  return bodies;
}

const DROP_PATH = parsePipelineConfig(
  'relabel_configs:\n  - action: labeldrop\n    regex: path\n',
  'test pipeline',
);

async function trackingEngine(maxMetrics = 2000, pipeline = DROP_PATH): Promise<PipelineEngine> {
  const engine = await PipelineEngine.load();
  engine.use(compilePipeline(pipeline));
  engine.configureCardinality(maxMetrics);
  return engine;
}

function feed(engine: PipelineEngine, bodies: Uint8Array[]): void {
  for (const body of bodies) engine.processRemoteWrite(body, { snappyIn: false });
}

function windowsOf(engine: PipelineEngine): CardinalityWindow[] {
  return [
    {
      view: 'input',
      windowStartMs: 0,
      windowMs: 3_600_000,
      tracker: engine.cardinalitySnapshot(CARDINALITY_VIEW_INPUT),
    },
    {
      view: 'output',
      windowStartMs: 0,
      windowMs: 3_600_000,
      tracker: engine.cardinalitySnapshot(CARDINALITY_VIEW_OUTPUT),
    },
  ];
}

function expectWithin(actual: number | undefined, expected: number, relativeError: number): void {
  expect(actual, `estimate of ${expected}`).toBeDefined();
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(
    Math.max(1, 3 * relativeError * expected),
  );
}

describe('cardinality trackers in the pipeline engine', () => {
  it('measures series, label values and pairs before and after the pipeline', async () => {
    const engine = await trackingEngine();
    const bodies = requests(0, API_SERIES);
    feed(engine, bodies);
    // A second round of the same series adds samples, not series.
    feed(engine, bodies);
    const windows = windowsOf(engine);

    const input = new CardinalitySummary(windows, 'input', 1);
    const inputMetrics = new Map(input.metrics().map((metric) => [metric.name, metric]));
    expectWithin(inputMetrics.get('api_requests_total')?.activeSeries, API_SERIES, SERIES_ERROR);
    expect(inputMetrics.get('api_requests_total')?.samples).toBe(2 * API_SERIES);
    expect(inputMetrics.get('up')?.activeSeries).toBe(50);
    expectWithin(input.headStats().numSeries, API_SERIES + 50, TOTAL_ERROR);
    const inputLabels = new Map(
      input.labels('api_requests_total').map((label) => [label.name, label]),
    );
    expectWithin(inputLabels.get('path')?.distinctValues, API_SERIES, LABEL_ERROR);
    expectWithin(inputLabels.get('instance')?.distinctValues, 50, LABEL_ERROR);
    expectWithin(inputLabels.get('method')?.distinctValues, 3, LABEL_ERROR);
    const inputPairs = new Map(
      input.pairs('api_requests_total').map((pair) => [`${pair.label}=${pair.value}`, pair]),
    );
    for (const method of METHODS) {
      expectWithin(inputPairs.get(`method=${method}`)?.series, API_SERIES / 3, SERIES_ERROR);
    }

    const output = new CardinalitySummary(windows, 'output', 1);
    const outputMetrics = new Map(output.metrics().map((metric) => [metric.name, metric]));
    // Without `path`, instance × method leaves lcm(50, 3) = 150 distinct series.
    expectWithin(outputMetrics.get('api_requests_total')?.activeSeries, 150, SERIES_ERROR);
    expect(
      output
        .labels('api_requests_total')
        .map((label) => label.name)
        .sort(),
    ).toEqual(['__name__', 'instance', 'method']);
    expectWithin(output.headStats().numSeries, 200, TOTAL_ERROR);
  });

  it('merges trackers of two engines into the tracker of the union', async () => {
    const first = await trackingEngine();
    const second = await trackingEngine();
    const both = await trackingEngine();
    // Overlapping halves, as two workers (or proxies) would see them.
    feed(first, requests(0, 4_000));
    feed(second, requests(2_000, API_SERIES));
    feed(both, requests(0, API_SERIES));
    for (const view of [CARDINALITY_VIEW_INPUT, CARDINALITY_VIEW_OUTPUT]) {
      const merged = mergeTrackers([
        decodeTracker(first.cardinalitySnapshot(view)),
        decodeTracker(second.cardinalitySnapshot(view)),
      ]);
      const union = decodeTracker(both.cardinalitySnapshot(view));
      // Sketches merge exactly: the same registers as one engine that saw everything.
      expect(merged.total.registers).toEqual(union.total.registers);
      for (const [name, metric] of union.metrics) {
        expect(merged.metrics.get(name)?.series.registers).toEqual(metric.series.registers);
        for (const [labelName, label] of metric.labels) {
          expect(merged.metrics.get(name)?.labels.get(labelName)?.values.registers).toEqual(
            label.values.registers,
          );
        }
      }
    }
    const windows = [...windowsOf(first), ...windowsOf(second)];
    const summary = new CardinalitySummary(windows, 'input', 1);
    const api = summary.metrics().find((metric) => metric.name === 'api_requests_total');
    expectWithin(api?.activeSeries, API_SERIES, SERIES_ERROR);
    const getPair = summary
      .pairs('api_requests_total')
      .find((pair) => pair.label === 'method' && pair.value === 'GET');
    // Pair counts are ratios scaled by the merged sketch; the overlap is not counted twice.
    expectWithin(getPair?.series, API_SERIES / 3, SERIES_ERROR);
  });

  it('keeps at most maxMetrics metric names and counts the rest in the "other" bucket', async () => {
    const engine = await trackingEngine(3, { relabelConfigs: [] });
    const series = [];
    for (let metric = 0; metric < 10; metric++) {
      for (let i = 0; i < 100; i++) {
        series.push(seriesWith(sortedLabels({ __name__: `metric_${metric}`, pod: `pod-${i}` })));
      }
    }
    feed(engine, [encodeRequest(writeRequest(series))]);
    const summary = new CardinalitySummary(windowsOf(engine), 'input', 1);
    const metrics = summary.metrics();
    expect(
      metrics
        .filter((metric) => !metric.other)
        .map((metric) => metric.name)
        .sort(),
    ).toEqual(['metric_0', 'metric_1', 'metric_2']);
    const other = metrics.find((metric) => metric.other);
    expect(other?.name).toBe('(other)');
    expectWithin(other?.activeSeries, 700, SERIES_ERROR);
    expect(other?.samples).toBe(700);
    // Distinct metric names: 3 counted exactly plus the other bucket's sketch of 7.
    const names = summary.labels().find((label) => label.name === '__name__');
    expect(names?.distinctValues).toBe(10);
  });

  it('encodes a decoded tracker back to the bytes the module wrote', async () => {
    const engine = await trackingEngine();
    feed(engine, requests(0, 1_500));
    for (const view of [CARDINALITY_VIEW_INPUT, CARDINALITY_VIEW_OUTPUT]) {
      const bytes = engine.cardinalitySnapshot(view);
      expect(encodeTracker(decodeTracker(bytes))).toEqual(bytes);
    }
  });

  it('starts empty again after a reset', async () => {
    const engine = await trackingEngine();
    feed(engine, requests(0, 1_000));
    engine.resetCardinality(CARDINALITY_VIEW_INPUT);
    const tracker = decodeTracker(engine.cardinalitySnapshot(CARDINALITY_VIEW_INPUT));
    expect(tracker.samples).toBe(0);
    expect(tracker.metrics.size).toBe(0);
    expect(tracker.total.estimate()).toBe(0);
    // The output view is untouched.
    expect(decodeTracker(engine.cardinalitySnapshot(CARDINALITY_VIEW_OUTPUT)).samples).toBe(1_050);
  });

  it('refuses a tracker that is not one', () => {
    expect(() => decodeTracker(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(
      /not a cardinality tracker/,
    );
  });
});
