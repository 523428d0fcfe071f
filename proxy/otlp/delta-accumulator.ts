/**
 * Delta → cumulative for OTLP sums and histograms, kept by one owner for the whole proxy.
 *
 * The pipeline workers convert delta points to remote write 1.0 series whose one sample
 * holds the point's delta (a histogram point gives its `_bucket{le}` series, cumulative
 * over `le` as usual, plus `_sum` and `_count`), with the point's start time in the
 * private `TimeSeries` field 6. They keep no state. The accumulator reads those series,
 * adds each delta to the running total of its series and writes the total: the same
 * series with the cumulative value, and field 6 set to the start of the cumulative stream
 * (a `protocol: rw2` upstream receives it as `created_timestamp`).
 *
 * A series is its label bytes, exactly as the worker wrote them (sorted by name), so the
 * result depends only on the order in which points reach this one owner, never on which
 * worker converted them. Rules, after the OpenTelemetry data model's delta-to-cumulative
 * conversion:
 *
 * - first point of a series: the total is its delta, the stream starts at its start time;
 * - a point that starts at or after the end of the previous one (contiguous, or after a
 *   gap in which nothing was reported): added;
 * - a point that ends at or before the previous one: a duplicate or late point, refused
 *   (it is in the total already, or would be counted out of order);
 * - a point that starts before the previous one ended, but ends after it: its interval
 *   overlaps time already counted, which a sender only does after losing its state, so
 *   the stream starts over from this point (a counter reset, which `rate()` handles).
 */

import { ProtoReader, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT } from '../wire/proto-reader.js';
import { ProtoWriter } from '../wire/proto-writer.js';

/** Private `TimeSeries` field with the start time in ms (2.0's `created_timestamp` number). */
export const SERIES_START_FIELD = 6;
/**
 * Private `TimeSeries` field (varint 1) on the first series of each delta point, so refused
 * points are counted as points, not as the several series a histogram point becomes.
 */
export const SERIES_POINT_HEAD_FIELD = 7;

/** One series' running total. */
interface DeltaStream {
  /** Start of the cumulative stream, ms. */
  startMs: number;
  /** End of the last point added, ms. */
  lastMs: number;
  total: number;
}

/** Bounds the memory the state may take; past it every series starts over. */
const DEFAULT_MAX_STREAMS = 200_000;
const MAX_REJECT_REASONS = 3;

/** What one batch of delta series became. */
export interface AccumulateResult {
  /** Uncompressed remote write 1.0 of the cumulative series; empty when every point was refused. */
  readonly rw1: Uint8Array;
  readonly series: number;
  /** Points refused as duplicate or late (a histogram point counts once). */
  readonly rejected: number;
  /** The first reasons, joined, for the sender's `partial_success`. */
  readonly message: string;
}

/** Snapshot form of the state: `[labelBytes (latin1), startMs, lastMs, total]` per series. */
export type DeltaSnapshot = Array<[string, number, number, number]>;

/** The running totals of every delta series the proxy has seen. */
export class DeltaAccumulator {
  readonly #streams = new Map<string, DeltaStream>();
  readonly #writer = new ProtoWriter();
  readonly #maxStreams: number;
  #changed = false;

  constructor(options: { maxStreams?: number } = {}) {
    this.#maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  }

  /** Series kept. */
  get size(): number {
    return this.#streams.size;
  }

  /** True when the state changed since the last {@link snapshot}. */
  get changed(): boolean {
    return this.#changed;
  }

  /**
   * Adds the delta series of `input` (uncompressed 1.0 as the workers write it) to their
   * totals. The returned bytes are valid until the next call.
   */
  accumulate(input: Uint8Array): AccumulateResult {
    const writer = this.#writer;
    writer.reset();
    const request = new ProtoReader(input);
    const series = new ProtoReader(input);
    const sample = new ProtoReader(input);
    let written = 0;
    let rejected = 0;
    const reasons: string[] = [];
    while (request.next()) {
      if (request.field !== 1) {
        request.skip();
        continue;
      }
      request.expect(WIRE_LEN, 'timeseries');
      request.lengthDelimited();
      const seriesStart = request.start;
      const seriesEnd = request.valueEnd;
      // Labels come first (the worker writes them so); their bytes are the series' key.
      let labelsEnd = seriesStart;
      let value = 0;
      let timeMs = 0;
      let startMs = 0;
      let pointHead = false;
      series.reset(seriesStart, seriesEnd);
      while (series.next()) {
        if (series.field === 1) {
          series.skip();
          labelsEnd = series.pos;
        } else if (series.field === 2) {
          series.expect(WIRE_LEN, 'samples');
          series.lengthDelimited();
          sample.reset(series.start, series.valueEnd);
          while (sample.next()) {
            if (sample.field === 1 && sample.wireType === WIRE_FIXED64) value = sample.double();
            else if (sample.field === 2 && sample.wireType === WIRE_VARINT)
              timeMs = sample.varint(true);
            else sample.skip();
          }
        } else if (series.field === SERIES_START_FIELD && series.wireType === WIRE_VARINT) {
          startMs = series.varint(true);
        } else if (series.field === SERIES_POINT_HEAD_FIELD && series.wireType === WIRE_VARINT) {
          pointHead = series.varint() !== 0;
        } else {
          series.skip();
        }
      }
      const key = latin1(input, seriesStart, labelsEnd);
      const stream = this.#add(key, startMs, timeMs, value);
      if (stream === undefined) {
        if (!pointHead) continue;
        rejected++;
        if (reasons.length < MAX_REJECT_REASONS) {
          reasons.push(
            `${metricName(input, seriesStart, labelsEnd)}: delta point not newer than the previous one of its series`,
          );
        }
        continue;
      }
      this.#writeCumulative(input, series, seriesStart, labelsEnd, seriesEnd, stream, timeMs);
      written++;
    }
    const extra = rejected > reasons.length ? ' …' : '';
    return {
      rw1: writer.view(),
      series: written,
      rejected,
      message: rejected > 0 ? `${reasons.join('; ')}${extra}` : '',
    };
  }

  /** The state, for a snapshot on disk; clears {@link changed}. */
  snapshot(): DeltaSnapshot {
    this.#changed = false;
    const entries: DeltaSnapshot = [];
    for (const [key, stream] of this.#streams) {
      entries.push([key, stream.startMs, stream.lastMs, stream.total]);
    }
    return entries;
  }

  /** Replaces the state with a snapshot's. */
  restore(entries: DeltaSnapshot): void {
    this.#streams.clear();
    for (const [key, startMs, lastMs, total] of entries) {
      this.#streams.set(key, { startMs, lastMs, total });
    }
    this.#changed = false;
  }

  /** The series' stream after adding the point, or `undefined` when the point is refused. */
  #add(key: string, startMs: number, timeMs: number, value: number): DeltaStream | undefined {
    let stream = this.#streams.get(key);
    if (stream !== undefined && timeMs <= stream.lastMs) return undefined;
    this.#changed = true;
    const pointStartMs = startMs > 0 && startMs < timeMs ? startMs : timeMs;
    if (stream === undefined) {
      if (this.#streams.size >= this.#maxStreams) this.#streams.clear();
      stream = { startMs: pointStartMs, lastMs: timeMs, total: value };
      this.#streams.set(key, stream);
      return stream;
    }
    if (startMs > 0 && startMs < stream.lastMs) {
      // Overlaps time already counted: the sender started over.
      stream.startMs = pointStartMs;
      stream.total = value;
    } else {
      stream.total += value;
    }
    stream.lastMs = timeMs;
    return stream;
  }

  /** Writes the series with its total: labels and exemplars as they came, a new sample. */
  #writeCumulative(
    input: Uint8Array,
    series: ProtoReader,
    seriesStart: number,
    labelsEnd: number,
    seriesEnd: number,
    stream: DeltaStream,
    timeMs: number,
  ): void {
    const writer = this.#writer;
    const mark = writer.beginMessage(1);
    writer.raw(input, seriesStart, labelsEnd);
    const sampleMark = writer.beginMessage(2);
    writer.tag(1, WIRE_FIXED64);
    writer.double(stream.total);
    writer.varintField(2, timeMs);
    writer.endMessage(sampleMark);
    series.reset(labelsEnd, seriesEnd);
    while (series.next()) {
      if (series.field === 3) {
        series.expect(WIRE_LEN, 'exemplars');
        series.lengthDelimited();
        writer.bytesField(3, input, series.start, series.valueEnd);
      } else {
        series.skip();
      }
    }
    writer.varintField(SERIES_START_FIELD, stream.startMs);
    writer.endMessage(mark);
  }
}

/** The bytes as a one-char-per-byte string: a cheap, exact map key. */
function latin1(input: Uint8Array, start: number, end: number): string {
  return Buffer.from(input.buffer, input.byteOffset + start, end - start).toString('latin1');
}

/** The `__name__` of a series' label fields, for messages. */
function metricName(input: Uint8Array, start: number, end: number): string {
  const labels = new ProtoReader(input, start, end);
  const label = new ProtoReader(input);
  while (labels.next()) {
    labels.lengthDelimited();
    label.reset(labels.start, labels.valueEnd);
    let name = '';
    let value = '';
    while (label.next()) {
      label.lengthDelimited();
      const text = Buffer.from(
        input.buffer,
        input.byteOffset + label.start,
        label.valueEnd - label.start,
      ).toString('utf8');
      if (label.field === 1) name = text;
      else value = text;
    }
    if (name === '__name__') return value;
  }
  return '(no name)';
}
