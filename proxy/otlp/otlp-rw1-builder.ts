/**
 * The OpenTelemetry → Prometheus conversion, independent of how the OTLP request was
 * encoded: the protobuf and JSON readers call it once per resource, metric and data point
 * with plain numbers and strings, and it writes remote write 1.0 protobuf directly
 * (no intermediate objects per sample), following the OpenTelemetry ↔ Prometheus
 * compatibility spec:
 *
 * - resource `service.namespace`/`service.name` → `job`, `service.instance.id` →
 *   `instance`; the other resource attributes go to one `target_info` series per resource
 * - gauges and non-monotonic sums → gauges; monotonic sums → counters (`_total`)
 * - histograms → `_bucket{le}` / `_sum` / `_count`; exponential histograms → native
 *   histograms (scale above 8 merged down to 8)
 * - summaries → `{quantile}` / `_sum` / `_count`
 * - delta sums and histograms → series holding each point's delta, written apart (see
 *   {@link OtlpRw1Builder.finish}) for the proxy's one delta accumulator
 * - a point flagged "no recorded value" → Prometheus' stale marker
 * - the start time of a cumulative counter, histogram or summary point → the series' start
 *   timestamp (private field 6 of the 1.0 series)
 */

import { WIRE_FIXED64, WIRE_VARINT } from '../wire/proto-reader.js';
import { ProtoWriter } from '../wire/proto-writer.js';
import { SERIES_POINT_HEAD_FIELD, SERIES_START_FIELD } from './delta-accumulator.js';
import { type MetricKind, prometheusLabelName, prometheusMetricName } from './otlp-names.js';

/** OTLP metric data kinds. */
export type OtlpDataKind = 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';

/** `AggregationTemporality` values. */
export const TEMPORALITY_DELTA = 1;
export const TEMPORALITY_CUMULATIVE = 2;
/** `DataPointFlags.NO_RECORDED_VALUE`. */
const FLAG_NO_RECORDED_VALUE = 1;

/** An exemplar of the next point: `trace_id`/`span_id` (hex) and filtered attributes. */
export interface OtlpExemplar {
  readonly timeMs: number;
  readonly value: number;
  /** Label pairs, names already valid; sorted when written. */
  readonly labels: ReadonlyArray<readonly [string, string]>;
}

/** Options of the conversion. */
export interface OtlpConversionOptions {
  /** Keep metric names as sent (only made valid): no unit, `_total` or `_ratio` suffixes. */
  readonly keepNames: boolean;
}

const METADATA_TYPE: Readonly<Record<MetricKind, number>> = {
  counter: 1,
  gauge: 2,
  histogram: 3,
  summary: 5,
};

const MIN_SCHEMA = -4;
const MAX_SCHEMA = 8;
const STALE_NAN_LOW = 0x0000_0002;
const STALE_NAN_HIGH = 0x7ff0_0000;
const MAX_REJECT_REASONS = 3;

/** Builds one remote write 1.0 request out of the OTLP points it is given. */
export class OtlpRw1Builder {
  readonly #options: OtlpConversionOptions;
  readonly #writer = new ProtoWriter();
  /** Series of delta points, for the delta accumulator (proxy/otlp/delta-accumulator.ts). */
  readonly #deltaWriter = new ProtoWriter();
  /** Where the point being written goes: `#writer` or `#deltaWriter`. */
  #target = this.#writer;
  /** Start time of the next point, ms; 0 when the sender gave none. */
  #pointStartMs = 0;
  /** The next series written to `#deltaWriter` is its point's first. */
  #pointHead = false;
  // The current resource.
  #job = '';
  #instance = '';
  #resourceNames: string[] = [];
  #resourceValues: string[] = [];
  #serviceName = '';
  #serviceNamespace = '';
  #resourceLatestMs = 0;
  // The current metric.
  #metricName = '';
  #kind: MetricKind = 'gauge';
  #dataKind: OtlpDataKind = 'gauge';
  #delta = false;
  // The current point's attributes, and the label set being written (reused arrays).
  #attributeNames: string[] = [];
  #attributeValues: string[] = [];
  #attributeCount = 0;
  #labelNames: string[] = [];
  #labelValues: string[] = [];
  #labelCount = 0;
  readonly #order: number[] = [];
  // What the answer reports.
  #samples = 0;
  #histograms = 0;
  #exemplarCount = 0;
  /** Exemplars given for the next point; exemplars are rare, so these are plain objects. */
  #pendingExemplars: OtlpExemplar[] = [];
  /** The exemplars of the point being written. */
  #pointExemplars: OtlpExemplar[] = [];
  #rejected = 0;
  #reasons: string[] = [];
  /** Metadata entries written after the series: type, name, help, unit. */
  #metadata: Array<string | number> = [];

  constructor(options: OtlpConversionOptions) {
    this.#options = options;
  }

  /** Starts a request. */
  begin(): void {
    this.#writer.reset();
    this.#deltaWriter.reset();
    this.#target = this.#writer;
    this.#pointStartMs = 0;
    this.#samples = 0;
    this.#histograms = 0;
    this.#exemplarCount = 0;
    this.#pendingExemplars = [];
    this.#rejected = 0;
    this.#reasons = [];
    this.#metadata = [];
  }

  beginResource(): void {
    this.#resourceNames = [];
    this.#resourceValues = [];
    this.#serviceName = '';
    this.#serviceNamespace = '';
    this.#instance = '';
    this.#resourceLatestMs = 0;
  }

  resourceAttribute(key: string, value: string): void {
    if (key === 'service.name') this.#serviceName = value;
    else if (key === 'service.namespace') this.#serviceNamespace = value;
    else if (key === 'service.instance.id') this.#instance = value;
    else {
      this.#resourceNames.push(prometheusLabelName(key));
      this.#resourceValues.push(value);
    }
  }

  /** Call after the resource's attributes, before its metrics. */
  endResourceAttributes(): void {
    this.#job =
      this.#serviceNamespace === '' || this.#serviceName === ''
        ? this.#serviceName
        : `${this.#serviceNamespace}/${this.#serviceName}`;
  }

  /** Writes the resource's `target_info`, stamped with its latest point. */
  endResource(): void {
    if (this.#resourceNames.length === 0 || this.#resourceLatestMs === 0) return;
    if (this.#job === '' && this.#instance === '') return;
    this.#attributeCount = 0;
    for (let i = 0; i < this.#resourceNames.length; i++) {
      this.#addAttribute(this.#resourceNames[i]!, this.#resourceValues[i]!);
    }
    this.#collectLabels('target_info', undefined, '');
    this.#writeSample(1, this.#resourceLatestMs, false);
    this.#attributeCount = 0;
  }

  beginMetric(
    name: string,
    description: string,
    unit: string,
    dataKind: OtlpDataKind,
    temporality: number,
    monotonic: boolean,
  ): void {
    this.#dataKind = dataKind;
    this.#kind =
      dataKind === 'sum'
        ? monotonic
          ? 'counter'
          : 'gauge'
        : dataKind === 'exponential_histogram'
          ? 'histogram'
          : dataKind;
    this.#delta = temporality === TEMPORALITY_DELTA;
    this.#metricName = prometheusMetricName(name, unit, this.#kind, this.#options.keepNames);
    this.#metadata.push(METADATA_TYPE[this.#kind], this.#metricName, description, unit);
    this.#attributeCount = 0;
  }

  /** An attribute of the next point (call before the point). */
  pointAttribute(key: string, value: string): void {
    this.#addAttribute(prometheusLabelName(key), value);
  }

  /** The start time of the next point (call before the point). */
  pointStartTime(startMs: number): void {
    this.#pointStartMs = startMs;
  }

  /** An exemplar of the next point (call before the point). */
  exemplar(exemplar: OtlpExemplar): void {
    this.#pendingExemplars.push(exemplar);
  }

  /** Moves the pending exemplars to the point about to be written. */
  #takeExemplars(): void {
    this.#pointExemplars = this.#pendingExemplars;
    this.#pendingExemplars = [];
  }

  /** A gauge or sum point. */
  numberPoint(timeMs: number, value: number, flags: number): void {
    this.#takeExemplars();
    const stale = (flags & FLAG_NO_RECORDED_VALUE) !== 0;
    // A delta's total is kept by the delta accumulator; a stale marker needs no total.
    if (this.#delta && !stale) this.#toDeltaWriter();
    this.#collectLabels(this.#metricName, undefined, '');
    this.#writeSample(value, timeMs, stale, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
    this.#endPoint(timeMs);
  }

  /** An explicit-bucket histogram point: `bucketCounts` has one more entry than `bounds`. */
  histogramPoint(
    timeMs: number,
    count: number,
    sum: number | undefined,
    bounds: ArrayLike<number>,
    bucketCounts: ArrayLike<number>,
    flags: number,
  ): void {
    this.#takeExemplars();
    if (bucketCounts.length !== 0 && bucketCounts.length !== bounds.length + 1) {
      this.reject(
        1,
        `${this.#metricName}: ${bucketCounts.length} bucket counts for ${bounds.length} bounds`,
      );
      this.#skipPoint();
      return;
    }
    const stale = (flags & FLAG_NO_RECORDED_VALUE) !== 0;
    // Delta: every series below holds this point's delta of it (the `le` buckets are
    // cumulative over `le` within the point), so the accumulator adds each one separately.
    if (this.#delta && !stale) this.#toDeltaWriter();
    const totalCount = count;
    const totalSum = sum;
    const counts = bucketCounts;
    // Each exemplar goes with the bucket its value falls in, as Prometheus' receiver does.
    let cumulative = 0;
    let lower = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < bounds.length && counts.length > 0; i++) {
      cumulative += counts[i]!;
      this.#collectLabels(`${this.#metricName}_bucket`, 'le', formatBound(bounds[i]!));
      this.#writeSample(cumulative, timeMs, stale, lower, bounds[i]!);
      lower = bounds[i]!;
    }
    this.#collectLabels(`${this.#metricName}_bucket`, 'le', '+Inf');
    this.#writeSample(totalCount, timeMs, stale, lower, Number.POSITIVE_INFINITY);
    if (totalSum !== undefined) {
      this.#collectLabels(`${this.#metricName}_sum`, undefined, '');
      this.#writeSample(totalSum, timeMs, stale);
    }
    this.#collectLabels(`${this.#metricName}_count`, undefined, '');
    this.#writeSample(totalCount, timeMs, stale);
    this.#endPoint(timeMs);
  }

  /** An exponential histogram point, written as a native histogram. */
  exponentialPoint(
    timeMs: number,
    count: number,
    sum: number | undefined,
    scale: number,
    zeroCount: number,
    zeroThreshold: number,
    positiveOffset: number,
    positiveCounts: ArrayLike<number>,
    negativeOffset: number,
    negativeCounts: ArrayLike<number>,
  ): void {
    this.#takeExemplars();
    if (this.#delta) {
      this.reject(1, `${this.#metricName}: delta exponential histograms are not converted`);
      this.#skipPoint();
      return;
    }
    if (scale < MIN_SCHEMA) {
      this.reject(1, `${this.#metricName}: exponential histogram scale ${scale} is below -4`);
      this.#skipPoint();
      return;
    }
    const scaleDown = Math.max(0, scale - MAX_SCHEMA);
    this.#collectLabels(this.#metricName, undefined, '');
    const writer = this.#writer;
    const seriesMark = this.#beginSeries();
    const histogram = writer.beginMessage(4);
    writer.varintField(1, count);
    if (sum !== undefined) {
      writer.tag(3, WIRE_FIXED64);
      writer.double(sum);
    }
    writer.tag(4, WIRE_VARINT);
    writer.zigzag(scale - scaleDown);
    writer.doubleField(5, zeroThreshold);
    writer.varintField(6, zeroCount);
    this.#writeBuckets(8, 9, negativeOffset, negativeCounts, scaleDown);
    this.#writeBuckets(11, 12, positiveOffset, positiveCounts, scaleDown);
    writer.varintField(15, timeMs);
    writer.endMessage(histogram);
    this.#writeStartTime(timeMs);
    writer.endMessage(seriesMark);
    this.#histograms++;
    this.#endPoint(timeMs);
  }

  /** A summary point; `quantiles` holds (quantile, value) pairs one after the other. */
  summaryPoint(
    timeMs: number,
    count: number,
    sum: number,
    quantiles: ArrayLike<number>,
    flags: number,
  ): void {
    this.#takeExemplars();
    const stale = (flags & FLAG_NO_RECORDED_VALUE) !== 0;
    for (let i = 0; i + 1 < quantiles.length; i += 2) {
      this.#collectLabels(this.#metricName, 'quantile', formatBound(quantiles[i]!));
      this.#writeSample(quantiles[i + 1]!, timeMs, stale);
    }
    this.#collectLabels(`${this.#metricName}_sum`, undefined, '');
    this.#writeSample(sum, timeMs, stale);
    this.#collectLabels(`${this.#metricName}_count`, undefined, '');
    this.#writeSample(count, timeMs, stale);
    this.#endPoint(timeMs);
  }

  /** Counts `points` refused, with why (the first few reasons reach the sender). */
  reject(points: number, reason: string): void {
    this.#rejected += points;
    if (this.#reasons.length < MAX_REJECT_REASONS) this.#reasons.push(reason);
  }

  /** Ends the request: the 1.0 bytes (valid until the next `begin`) and the counts. */
  finish(): {
    rw1: Uint8Array;
    /** Series of delta points (delta values, start time in field 6), when there were any. */
    deltaRw1: Uint8Array | undefined;
    samples: number;
    histograms: number;
    exemplars: number;
    rejected: number;
    message: string;
  } {
    const writer = this.#writer;
    const metadata = this.#metadata;
    for (let i = 0; i < metadata.length; i += 4) {
      const mark = writer.beginMessage(3);
      writer.varintField(1, metadata[i] as number);
      writer.stringField(2, metadata[i + 1] as string);
      if (metadata[i + 2] !== '') writer.stringField(4, metadata[i + 2] as string);
      if (metadata[i + 3] !== '') writer.stringField(5, metadata[i + 3] as string);
      writer.endMessage(mark);
    }
    const extra = this.#rejected > 0 && this.#reasons.length < this.#rejected ? ' …' : '';
    return {
      rw1: writer.view(),
      deltaRw1: this.#deltaWriter.length === 0 ? undefined : this.#deltaWriter.view(),
      samples: this.#samples,
      histograms: this.#histograms,
      exemplars: this.#exemplarCount,
      rejected: this.#rejected,
      message: this.#rejected > 0 ? `${this.#reasons.join('; ')}${extra}` : '',
    };
  }

  #addAttribute(name: string, value: string): void {
    // Keys that collide once sanitized keep all their values, joined with ';'.
    for (let i = 0; i < this.#attributeCount; i++) {
      if (this.#attributeNames[i] === name) {
        this.#attributeValues[i] = `${this.#attributeValues[i]};${value}`;
        return;
      }
    }
    this.#attributeNames[this.#attributeCount] = name;
    this.#attributeValues[this.#attributeCount] = value;
    this.#attributeCount++;
  }

  /** Sets the label set: job/instance, the point's attributes, `__name__`, one extra. */
  #collectLabels(metricName: string, extraName: string | undefined, extraValue: string): void {
    let count = 0;
    const names = this.#labelNames;
    const values = this.#labelValues;
    for (let i = 0; i < this.#attributeCount; i++) {
      const name = this.#attributeNames[i]!;
      if (name === 'job' && this.#job !== '') continue;
      if (name === 'instance' && this.#instance !== '') continue;
      if (name === extraName || name === '__name__') continue;
      names[count] = name;
      values[count++] = this.#attributeValues[i]!;
    }
    if (this.#job !== '') {
      names[count] = 'job';
      values[count++] = this.#job;
    }
    if (this.#instance !== '') {
      names[count] = 'instance';
      values[count++] = this.#instance;
    }
    names[count] = '__name__';
    values[count++] = metricName;
    if (extraName !== undefined) {
      names[count] = extraName;
      values[count++] = extraValue;
    }
    this.#labelCount = count;
    const order = this.#order;
    order.length = count;
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
  }

  #beginSeries(): number {
    const writer = this.#target;
    const mark = writer.beginMessage(1);
    for (let i = 0; i < this.#labelCount; i++) {
      const index = this.#order[i]!;
      const label = writer.beginMessage(1);
      writer.stringField(1, this.#labelNames[index]!);
      writer.stringField(2, this.#labelValues[index]!);
      writer.endMessage(label);
    }
    return mark;
  }

  /**
   * Writes one series with one sample, and the point's exemplars whose value is in
   * (`exemplarsAbove`, `exemplarsUpTo`]; none when both are NaN (the default).
   */
  #writeSample(
    value: number,
    timeMs: number,
    stale: boolean,
    exemplarsAbove = Number.NaN,
    exemplarsUpTo = Number.NaN,
  ): void {
    const writer = this.#target;
    const mark = this.#beginSeries();
    const sample = writer.beginMessage(2);
    writer.tag(1, WIRE_FIXED64);
    if (stale) writer.fixed64Words(STALE_NAN_LOW, STALE_NAN_HIGH);
    else writer.double(value);
    writer.varintField(2, timeMs);
    writer.endMessage(sample);
    for (const exemplar of this.#pointExemplars) {
      if (!(exemplar.value > exemplarsAbove && exemplar.value <= exemplarsUpTo)) continue;
      const exemplarMark = writer.beginMessage(3);
      const labels = [...exemplar.labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [name, labelValue] of labels) {
        const label = writer.beginMessage(1);
        writer.stringField(1, name);
        writer.stringField(2, labelValue);
        writer.endMessage(label);
      }
      writer.tag(2, WIRE_FIXED64);
      writer.double(exemplar.value);
      writer.varintField(3, exemplar.timeMs);
      writer.endMessage(exemplarMark);
      this.#exemplarCount++;
    }
    if (writer === this.#deltaWriter) {
      if (this.#pointStartMs > 0) writer.varintField(SERIES_START_FIELD, this.#pointStartMs);
      if (this.#pointHead) writer.varintField(SERIES_POINT_HEAD_FIELD, 1);
      this.#pointHead = false;
    } else {
      this.#writeStartTime(timeMs);
    }
    writer.endMessage(mark);
    this.#samples++;
  }

  /** Spans and deltas of one side; OTLP bucket i is Prometheus bucket i + 1. */
  #writeBuckets(
    spansField: number,
    deltasField: number,
    offset: number,
    counts: ArrayLike<number>,
    scaleDown: number,
  ): void {
    if (counts.length === 0) return;
    const writer = this.#writer;
    const firstIndex = offset >> scaleDown;
    const lastIndex = (offset + counts.length - 1) >> scaleDown;
    const span = writer.beginMessage(spansField);
    writer.tag(1, WIRE_VARINT);
    writer.zigzag(firstIndex + 1);
    writer.varintField(2, lastIndex - firstIndex + 1);
    writer.endMessage(span);
    const deltas = writer.beginMessage(deltasField);
    let previous = 0;
    let merged = 0;
    let current = firstIndex;
    for (let i = 0; i < counts.length; i++) {
      const index = (offset + i) >> scaleDown;
      if (index !== current) {
        writer.zigzag(merged - previous);
        previous = merged;
        merged = 0;
        current = index;
      }
      merged += counts[i]!;
    }
    writer.zigzag(merged - previous);
    writer.endMessage(deltas);
  }

  /**
   * A cumulative counter's, histogram's or summary's start time, as the series' start
   * timestamp (the private 1.0 field a `protocol: rw2` upstream receives as
   * `created_timestamp`; docs/formats.md). Gauges have none.
   */
  #writeStartTime(timeMs: number): void {
    if (this.#kind === 'gauge' || this.#pointStartMs <= 0 || this.#pointStartMs >= timeMs) return;
    this.#target.varintField(SERIES_START_FIELD, this.#pointStartMs);
  }

  /** Forgets what was given for a point that is refused. */
  #skipPoint(): void {
    this.#attributeCount = 0;
    this.#pointStartMs = 0;
  }

  /** The point being written is a delta: its series go to the delta accumulator. */
  #toDeltaWriter(): void {
    this.#target = this.#deltaWriter;
    this.#pointHead = true;
  }

  #endPoint(timeMs: number): void {
    this.#attributeCount = 0;
    this.#target = this.#writer;
    this.#pointStartMs = 0;
    if (timeMs > this.#resourceLatestMs) this.#resourceLatestMs = timeMs;
  }

  /** The data kind of the current metric. */
  get dataKind(): OtlpDataKind {
    return this.#dataKind;
  }
}

/** Bounds and quantiles as Prometheus writes them (`0.5`, `1`, `+Inf`). */
function formatBound(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
