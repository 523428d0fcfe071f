/**
 * Estimates from merged trackers: active series and churn per metric, distinct values and
 * value bytes per label, series per label=value pair. Trackers come in windows (aligned to
 * the wall clock, one hour by default); "active" means seen in the current or the previous
 * window, like the series of a Prometheus head block, and churn is the series new in the
 * current window: |current ∪ previous| − |previous|.
 *
 * Imports nothing from the proxy's server, so the control plane uses it too.
 */
import { HllSketch } from './hll.js';
import {
  type CardinalityTracker,
  decodeTracker,
  emptyTracker,
  encodeTracker,
  type MetricStats,
  mergeTrackers,
  OTHER_METRIC_KEY,
} from './tracker.js';

/** Before (`input`) or after (`output`) the relabel rules of the active pipeline. */
export type CardinalityView = 'input' | 'output';
export const CARDINALITY_VIEWS: readonly CardinalityView[] = ['input', 'output'];

/** Name under which the "other" bucket (metrics past the cap) is listed. */
export const OTHER_METRIC_NAME = '(other)';

/** One serialized tracker: one view, one window, from one worker or already merged. */
export interface CardinalityWindow {
  readonly view: CardinalityView;
  /** Start of the window, ms since the epoch, a multiple of `windowMs`. */
  readonly windowStartMs: number;
  readonly windowMs: number;
  readonly tracker: Uint8Array;
}

/** Merges windows with the same view and start (from several workers or proxies). */
export function mergeWindows(windows: readonly CardinalityWindow[]): CardinalityWindow[] {
  const groups = new Map<string, CardinalityWindow[]>();
  for (const window of windows) {
    const key = `${window.view}/${window.windowStartMs}/${window.windowMs}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [window]);
    else group.push(window);
  }
  return [...groups.values()].map((group) => {
    const first = group[0] as CardinalityWindow;
    if (group.length === 1) return first;
    const merged = mergeTrackers(group.map((window) => decodeTracker(window.tracker)));
    return { ...first, tracker: encodeTracker(merged) };
  });
}

export interface MetricEstimate {
  readonly name: string;
  /** True for the bucket of metrics past the cap. */
  readonly other: boolean;
  /** Distinct series in the current and previous window. */
  readonly activeSeries: number;
  /** Series new in the current window: |current ∪ previous| − |previous|. */
  readonly newSeries: number;
  /** Samples (floats and native histograms) in the current and previous window. */
  readonly samples: number;
}

export interface LabelEstimate {
  readonly name: string;
  readonly distinctValues: number;
  /** Bytes of the distinct values (Prometheus' `memoryInBytesByLabelName`). */
  readonly valueBytes: number;
  /** Active series that carry the label. */
  readonly series: number;
}

export interface PairEstimate {
  readonly label: string;
  readonly value: string;
  /** Active series with this label=value. */
  readonly series: number;
  /** The estimate may exceed the true count by up to this much (Space-Saving bound). */
  readonly maxOverestimate: number;
}

/** The headStats of Prometheus' TSDB status. */
export interface HeadStats {
  readonly numSeries: number;
  readonly numLabelPairs: number;
  readonly chunkCount: number;
  readonly minTime: number;
  readonly maxTime: number;
}

/** Estimates of one view from the windows at hand. */
export class CardinalitySummary {
  readonly view: CardinalityView;
  readonly #active: CardinalityTracker;
  readonly #previous: CardinalityTracker;
  readonly #fromMs: number;
  readonly #toMs: number;

  constructor(windows: readonly CardinalityWindow[], view: CardinalityView, nowMs: number) {
    this.view = view;
    const own = windows.filter((window) => window.view === view);
    const latest = own.reduce((start, window) => Math.max(start, window.windowStartMs), -1);
    const current = own.filter((window) => window.windowStartMs === latest);
    const windowMs = current[0]?.windowMs ?? 0;
    const previous = own.filter(
      (window) => windowMs > 0 && window.windowStartMs === latest - windowMs,
    );
    const decode = (list: CardinalityWindow[]) =>
      list.length === 0 ? emptyTracker() : mergeTrackers(list.map((w) => decodeTracker(w.tracker)));
    const currentTracker = decode(current);
    this.#previous = decode(previous);
    this.#active = mergeTrackers([currentTracker, this.#previous]);
    this.#fromMs = previous.length > 0 ? latest - windowMs : Math.max(latest, 0);
    this.#toMs = nowMs;
  }

  /** The tracker of the current and previous window together. */
  get active(): CardinalityTracker {
    return this.#active;
  }

  headStats(): HeadStats {
    const numSeries = this.#active.total.estimate();
    const numLabelPairs = this.labels().reduce((sum, label) => sum + label.distinctValues, 0);
    return {
      numSeries,
      numLabelPairs,
      // Every active series has at least its open head chunk.
      chunkCount: numSeries,
      minTime: this.#fromMs,
      maxTime: this.#toMs,
    };
  }

  /** Every metric (and the "other" bucket), most active series first. */
  metrics(): MetricEstimate[] {
    const estimates: MetricEstimate[] = [];
    for (const [key, metric] of this.#active.metrics) {
      const activeSeries = metric.series.estimate();
      const before = this.#previous.metrics.get(key)?.series.estimate() ?? 0;
      estimates.push({
        name: metric.other ? OTHER_METRIC_NAME : metric.name,
        other: metric.other,
        activeSeries,
        newSeries: Math.max(0, activeSeries - before),
        samples: metric.samples,
      });
    }
    return estimates.sort((a, b) => b.activeSeries - a.activeSeries || compare(a.name, b.name));
  }

  #metricsNamed(metricName: string | undefined): MetricStats[] {
    if (metricName === undefined) return [...this.#active.metrics.values()];
    const key = metricName === OTHER_METRIC_NAME ? OTHER_METRIC_KEY : metricName;
    const metric = this.#active.metrics.get(key);
    return metric === undefined ? [] : [metric];
  }

  /**
   * Label names with their distinct values, of one metric or (without `metricName`) of
   * all, most distinct values first. Across metrics the value sketches merge, so a value
   * used by two metrics counts once.
   */
  labels(metricName?: string): LabelEstimate[] {
    const merged = new Map<
      string,
      { values: HllSketch; bytes: number; seen: number; series: number }
    >();
    let namedMetrics = 0;
    let namedMetricBytes = 0;
    for (const metric of this.#metricsNamed(metricName)) {
      if (!metric.other) {
        namedMetrics++;
        namedMetricBytes += Buffer.byteLength(metric.name);
      }
      const metricSeries = metric.series.estimate();
      for (const label of metric.labels.values()) {
        let entry = merged.get(label.name);
        if (entry === undefined) {
          entry = { values: new HllSketch(label.values.precision), bytes: 0, seen: 0, series: 0 };
          merged.set(label.name, entry);
        }
        entry.values.mergeFrom(label.values);
        entry.bytes += label.valueBytes;
        entry.seen += label.series;
        if (metric.seriesSeen > 0)
          entry.series += (metricSeries * label.series) / metric.seriesSeen;
      }
    }
    const estimates: LabelEstimate[] = [];
    for (const [name, entry] of merged) {
      let distinctValues = Math.min(entry.values.estimate(), Math.max(1, Math.round(entry.series)));
      // Bytes of the distinct values: their number times the average length of a value
      // per series (the module does not keep every distinct value).
      let valueBytes = distinctValues * (entry.seen > 0 ? entry.bytes / entry.seen : 0);
      if (name === '__name__' && metricName === undefined) {
        // Named metrics are known exactly; only the "other" bucket needs its sketch.
        const other = this.#active.metrics.get(OTHER_METRIC_KEY)?.labels.get('__name__');
        const otherNames = other?.values.estimate() ?? 0;
        distinctValues = namedMetrics + otherNames;
        valueBytes = namedMetricBytes;
        if (other !== undefined && other.series > 0) {
          valueBytes += (otherNames * other.valueBytes) / other.series;
        }
      }
      estimates.push({
        name,
        distinctValues,
        valueBytes: Math.round(valueBytes),
        series: Math.round(entry.series),
      });
    }
    return estimates.sort((a, b) => b.distinctValues - a.distinctValues || compare(a.name, b.name));
  }

  /**
   * label=value pairs by active series, of one metric or of all, largest first. The
   * `__name__` pairs of all metrics come from the metrics' own sketches.
   */
  pairs(metricName?: string): PairEstimate[] {
    const merged = new Map<
      string,
      { label: string; value: string; series: number; error: number }
    >();
    const add = (label: string, value: string, series: number, error: number) => {
      const key = `${label}\u0000${value}`;
      const entry = merged.get(key);
      if (entry === undefined) merged.set(key, { label, value, series, error });
      else {
        entry.series += series;
        entry.error += error;
      }
    };
    for (const metric of this.#metricsNamed(metricName)) {
      const metricSeries = metric.series.estimate();
      if (!metric.other) add('__name__', metric.name, metricSeries, 0);
      if (metric.seriesSeen === 0) continue;
      const scale = metricSeries / metric.seriesSeen;
      for (const pair of metric.pairs.values()) {
        add(pair.label, pair.value, Math.min(metricSeries, pair.count * scale), pair.error * scale);
      }
    }
    return [...merged.values()]
      .map((entry) => ({
        label: entry.label,
        value: entry.value,
        series: Math.round(entry.series),
        maxOverestimate: Math.round(entry.error),
      }))
      .sort(
        (a, b) => b.series - a.series || compare(a.label, b.label) || compare(a.value, b.value),
      );
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
