/**
 * A cardinality tracker as the WebAssembly module serializes it (`cardinalitySerialize`,
 * layout in docs/cardinality.md), decoded into plain objects, merged across workers and
 * proxies, and encoded again in the same layout for the control plane.
 *
 * Merging is exact where the data allows it: sketches merge register-wise, so the merge of
 * A and B estimates |A ∪ B|. Per-label and per-pair counts are kept as counts of the
 * series a tracker saw first in its window; the same series can reach several workers (any
 * worker may get any request) and several proxies, so these counts are not added up as
 * series but used as ratios against `seriesSeen` and scaled by the merged series sketch
 * (see `cardinality-summary.ts`).
 *
 * This module imports nothing from the proxy's server, so the control plane can use it.
 */
import { ByteReader, ByteWriter, CardinalityFormatError, HllSketch } from './hll.js';

/** First word of a serialized tracker ("PHC1"). */
export const CARDINALITY_MAGIC = 0x31434850;
/** Heavy-hitter counters per metric in the module; merged summaries keep as many. */
export const PAIRS_PER_METRIC = 32;
/** Label names tracked per metric in the module; more are not counted. */
export const LABELS_PER_METRIC = 16;
/** The key of the "other" bucket in {@link CardinalityTracker.metrics}. */
export const OTHER_METRIC_KEY = '\u0000other';

export interface LabelStats {
  readonly name: string;
  /** Bytes of this label's values over the series seen first in the window. */
  valueBytes: number;
  /** Series seen first in the window that carry this label. */
  series: number;
  /** Distinct values. */
  readonly values: HllSketch;
}

/** A Space-Saving counter: `count` overestimates the true count by at most `error`. */
export interface PairCounter {
  readonly label: string;
  readonly value: string;
  count: number;
  error: number;
}

export interface MetricStats {
  readonly name: string;
  /** The bucket of every metric past the tracker's metric cap. */
  readonly other: boolean;
  samples: number;
  /** Series seen first in the window (by the Bloom filter of the tracker that saw them). */
  seriesSeen: number;
  readonly series: HllSketch;
  readonly labels: Map<string, LabelStats>;
  /** Keyed by `label + "\0" + value`. */
  readonly pairs: Map<string, PairCounter>;
}

export interface CardinalityTracker {
  maxMetrics: number;
  samples: number;
  seriesSeen: number;
  readonly total: HllSketch;
  /** By metric name; the "other" bucket under {@link OTHER_METRIC_KEY}. */
  readonly metrics: Map<string, MetricStats>;
}

const METRIC_FLAG_OTHER = 1;

export function metricKey(metric: MetricStats): string {
  return metric.other ? OTHER_METRIC_KEY : metric.name;
}

function pairKey(label: string, value: string): string {
  return `${label}\u0000${value}`;
}

/** Reads a serialized tracker; throws {@link CardinalityFormatError} when it is malformed. */
export function decodeTracker(bytes: Uint8Array): CardinalityTracker {
  const input = new ByteReader(bytes);
  const magic = input.u32();
  if (magic !== CARDINALITY_MAGIC) {
    throw new CardinalityFormatError(`not a cardinality tracker (magic 0x${magic.toString(16)})`);
  }
  const tracker: CardinalityTracker = {
    maxMetrics: input.u32(),
    samples: input.f64(),
    seriesSeen: input.f64(),
    total: HllSketch.decode(input),
    metrics: new Map(),
  };
  const metricCount = input.u32();
  for (let i = 0; i < metricCount; i++) {
    const flags = input.u32();
    const name = input.string();
    const metric: MetricStats = {
      name,
      other: (flags & METRIC_FLAG_OTHER) !== 0,
      samples: input.f64(),
      seriesSeen: input.f64(),
      series: HllSketch.decode(input),
      labels: new Map(),
      pairs: new Map(),
    };
    const labelNames: string[] = [];
    const labelCount = input.u32();
    for (let j = 0; j < labelCount; j++) {
      const labelName = input.string();
      labelNames.push(labelName);
      metric.labels.set(labelName, {
        name: labelName,
        valueBytes: input.f64(),
        series: input.f64(),
        values: HllSketch.decode(input),
      });
    }
    const pairCount = input.u32();
    for (let j = 0; j < pairCount; j++) {
      const labelIndex = input.u32();
      const label = labelNames[labelIndex];
      if (label === undefined) {
        throw new CardinalityFormatError(`pair refers to label ${labelIndex} of ${labelCount}`);
      }
      const value = input.string();
      const counter: PairCounter = { label, value, count: input.f64(), error: input.f64() };
      addPair(metric.pairs, counter);
    }
    const key = metricKey(metric);
    const existing = tracker.metrics.get(key);
    if (existing === undefined) tracker.metrics.set(key, metric);
    else mergeMetric(existing, metric);
  }
  if (!input.done) throw new CardinalityFormatError('trailing bytes after the last metric');
  return tracker;
}

/** Values cut at the module's limit can collide; their counters then add up. */
function addPair(pairs: Map<string, PairCounter>, counter: PairCounter): void {
  const key = pairKey(counter.label, counter.value);
  const existing = pairs.get(key);
  if (existing === undefined) pairs.set(key, { ...counter });
  else {
    existing.count += counter.count;
    existing.error += counter.error;
  }
}

/** Writes a tracker in the module's layout. */
export function encodeTracker(tracker: CardinalityTracker): Uint8Array {
  const out = new ByteWriter();
  out.u32(CARDINALITY_MAGIC);
  out.u32(tracker.maxMetrics);
  out.f64(tracker.samples);
  out.f64(tracker.seriesSeen);
  tracker.total.encode(out);
  out.u32(tracker.metrics.size);
  for (const metric of tracker.metrics.values()) {
    out.u32(metric.other ? METRIC_FLAG_OTHER : 0);
    out.string(metric.name);
    out.f64(metric.samples);
    out.f64(metric.seriesSeen);
    metric.series.encode(out);
    const labelIndex = new Map<string, number>();
    out.u32(metric.labels.size);
    for (const label of metric.labels.values()) {
      labelIndex.set(label.name, labelIndex.size);
      out.string(label.name);
      out.f64(label.valueBytes);
      out.f64(label.series);
      label.values.encode(out);
    }
    const pairs = [...metric.pairs.values()].filter((pair) => labelIndex.has(pair.label));
    out.u32(pairs.length);
    for (const pair of pairs) {
      out.u32(labelIndex.get(pair.label) ?? 0);
      out.string(pair.value);
      out.f64(pair.count);
      out.f64(pair.error);
    }
  }
  return out.finish();
}

function cloneMetric(metric: MetricStats): MetricStats {
  return {
    name: metric.name,
    other: metric.other,
    samples: metric.samples,
    seriesSeen: metric.seriesSeen,
    series: metric.series.clone(),
    labels: new Map(
      [...metric.labels].map(([name, label]) => [name, { ...label, values: label.values.clone() }]),
    ),
    pairs: new Map([...metric.pairs].map(([key, pair]) => [key, { ...pair }])),
  };
}

/** An empty tracker, the identity of {@link mergeTrackers}. */
export function emptyTracker(): CardinalityTracker {
  return { maxMetrics: 0, samples: 0, seriesSeen: 0, total: new HllSketch(14), metrics: new Map() };
}

/**
 * The tracker of the union of what `trackers` saw. Sketches merge exactly; counts add;
 * heavy hitters merge as Space-Saving summaries (a pair missing from a full summary may
 * have had up to that summary's smallest count, which is added to its count and error),
 * keeping the {@link PAIRS_PER_METRIC} largest. The inputs are left unchanged.
 */
export function mergeTrackers(trackers: readonly CardinalityTracker[]): CardinalityTracker {
  const merged = emptyTracker();
  for (const tracker of trackers) {
    merged.maxMetrics = Math.max(merged.maxMetrics, tracker.maxMetrics);
    merged.samples += tracker.samples;
    merged.seriesSeen += tracker.seriesSeen;
    merged.total.mergeFrom(tracker.total);
    for (const [key, metric] of tracker.metrics) {
      const existing = merged.metrics.get(key);
      if (existing === undefined) merged.metrics.set(key, cloneMetric(metric));
      else mergeMetric(existing, metric);
    }
  }
  return merged;
}

function mergeMetric(target: MetricStats, source: MetricStats): void {
  target.samples += source.samples;
  target.seriesSeen += source.seriesSeen;
  target.series.mergeFrom(source.series);
  for (const [name, label] of source.labels) {
    const existing = target.labels.get(name);
    if (existing === undefined) {
      target.labels.set(name, { ...label, values: label.values.clone() });
    } else {
      existing.valueBytes += label.valueBytes;
      existing.series += label.series;
      existing.values.mergeFrom(label.values);
    }
  }
  mergePairs(target.pairs, source.pairs);
}

function smallestIfFull(pairs: Map<string, PairCounter>): number {
  if (pairs.size < PAIRS_PER_METRIC) return 0;
  let smallest = Number.POSITIVE_INFINITY;
  for (const pair of pairs.values()) smallest = Math.min(smallest, pair.count);
  return smallest;
}

function mergePairs(target: Map<string, PairCounter>, source: Map<string, PairCounter>): void {
  const targetFloor = smallestIfFull(target);
  const sourceFloor = smallestIfFull(source);
  const combined = new Map<string, PairCounter>();
  for (const [key, pair] of target) {
    const other = source.get(key);
    combined.set(key, {
      label: pair.label,
      value: pair.value,
      count: pair.count + (other?.count ?? sourceFloor),
      error: pair.error + (other?.error ?? sourceFloor),
    });
  }
  for (const [key, pair] of source) {
    if (combined.has(key)) continue;
    combined.set(key, {
      label: pair.label,
      value: pair.value,
      count: pair.count + targetFloor,
      error: pair.error + targetFloor,
    });
  }
  const kept = [...combined.entries()]
    .sort((a, b) => b[1].count - a[1].count)
    .slice(0, PAIRS_PER_METRIC);
  target.clear();
  for (const [key, pair] of kept) target.set(key, pair);
}
