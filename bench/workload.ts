/**
 * The load the end-to-end harness sends: every series of the catalog once per round, in
 * requests of `seriesPerRequest` series with one sample each, snappy-compressed once up
 * front. Each round's sample values and timestamps are patched into a copy of the
 * compressed bytes, so sending costs the load generator almost nothing and every request
 * still carries new samples, the way a Prometheus scraping every 15 s would.
 */

import { type CatalogSeries, catalogSeries } from './series-catalog.js';
import { compressPatchable, type ProtectedRange } from './snappy-patchable.js';
import { type BenchFormat, encodeOtlpRequest, encodeRw2Request } from './workload-formats.js';

/** What to generate. */
export interface WorkloadOptions {
  /** Distinct series, all sent once per round. */
  readonly seriesCount: number;
  /** Series (and samples) per remote-write request. */
  readonly seriesPerRequest: number;
  /** Timestamp of round 0, in ms since the epoch. Default 1 700 000 000 000. */
  readonly startTimestampMs?: number;
  /** How far timestamps advance per round, in ms (a scrape interval). Default 15 000. */
  readonly roundIntervalMs?: number;
  /** Wire format of every request (see `workload-formats.ts`). Default `rw1`. */
  readonly format?: BenchFormat;
}

/** One request of a round, compressed, with where its samples are in the compressed bytes. */
export interface PreparedRequest {
  readonly compressed: Uint8Array;
  /** Bytes of the protobuf before compression. */
  readonly uncompressedBytes: number;
  /** Per series: offset in `compressed` of its sample's 8-byte value; its timestamp follows. */
  readonly sampleOffsets: Uint32Array;
  /** Per series: index of its metric name in {@link Workload.metricNames}. */
  readonly metricIds: Uint16Array;
}

/** Field tags of remote write 1.0 (`prometheus.WriteRequest`, `TimeSeries`, `Label`, `Sample`). */
const TAG_TIMESERIES = 0x0a;
const TAG_LABELS = 0x0a;
const TAG_SAMPLES = 0x12;
const TAG_LABEL_NAME = 0x0a;
const TAG_LABEL_VALUE = 0x12;
const TAG_SAMPLE_VALUE = 0x09;
const TAG_SAMPLE_TIMESTAMP = 0x10;
/** Varint bytes of a ms timestamp between 2^35 (1971) and 2^42 (2109): always six. */
const TIMESTAMP_VARINT_BYTES = 6;
/** A sample: value tag + double + timestamp tag + six varint bytes. */
const SAMPLE_BYTES = 1 + 8 + 1 + TIMESTAMP_VARINT_BYTES;
/** The patched part of a sample: the double, the timestamp tag and the timestamp. */
const PATCHED_SAMPLE_BYTES = SAMPLE_BYTES - 1;

const DEFAULT_START_MS = 1_700_000_000_000;
const DEFAULT_ROUND_INTERVAL_MS = 15_000;

/** A generated workload, ready to send. */
export class Workload {
  readonly seriesCount: number;
  readonly seriesPerRequest: number;
  /** Requests of one round; round `r` sends them all with that round's samples. */
  readonly requests: readonly PreparedRequest[];
  /** Metric names in the order of their ids. */
  readonly metricNames: readonly string[];
  /** Series per metric name id, in one round. */
  readonly seriesPerMetric: Uint32Array;
  readonly startTimestampMs: number;
  readonly roundIntervalMs: number;
  readonly format: BenchFormat;

  constructor(options: WorkloadOptions) {
    if (!Number.isInteger(options.seriesCount) || options.seriesCount < 1) {
      throw new RangeError(`seriesCount ${options.seriesCount} must be an integer >= 1`);
    }
    if (!Number.isInteger(options.seriesPerRequest) || options.seriesPerRequest < 1) {
      throw new RangeError(`seriesPerRequest ${options.seriesPerRequest} must be an integer >= 1`);
    }
    this.seriesCount = options.seriesCount;
    this.seriesPerRequest = options.seriesPerRequest;
    this.startTimestampMs = options.startTimestampMs ?? DEFAULT_START_MS;
    this.roundIntervalMs = options.roundIntervalMs ?? DEFAULT_ROUND_INTERVAL_MS;
    this.format = options.format ?? 'rw1';
    if (this.startTimestampMs < 2 ** 35 || this.startTimestampMs >= 2 ** 41) {
      throw new RangeError(`startTimestampMs ${this.startTimestampMs} must be in [2^35, 2^41)`);
    }
    const catalog = catalogSeries(options.seriesCount);
    const metricIdByName = new Map<string, number>();
    for (const one of catalog) {
      if (!metricIdByName.has(one.metricName))
        metricIdByName.set(one.metricName, metricIdByName.size);
    }
    this.metricNames = [...metricIdByName.keys()];
    this.seriesPerMetric = new Uint32Array(this.metricNames.length);
    const requests: PreparedRequest[] = [];
    for (let first = 0; first < catalog.length; first += options.seriesPerRequest) {
      const slice = catalog.slice(first, first + options.seriesPerRequest);
      const metricIds = Uint16Array.from(slice, (one) => metricIdByName.get(one.metricName)!);
      for (const id of metricIds) this.seriesPerMetric[id]! += 1;
      requests.push(prepareRequest(this.format, slice, metricIds, this.startTimestampMs));
    }
    this.requests = requests;
  }

  /** Requests in one round. */
  get requestsPerRound(): number {
    return this.requests.length;
  }

  /** Compressed bytes of one whole round. */
  get compressedBytesPerRound(): number {
    return this.requests.reduce((sum, request) => sum + request.compressed.length, 0);
  }

  /** Uncompressed protobuf bytes of one whole round. */
  get uncompressedBytesPerRound(): number {
    return this.requests.reduce((sum, request) => sum + request.uncompressedBytes, 0);
  }

  /** Which request of the round the `sequence`-th request sent is, and in which round. */
  position(sequence: number): { round: number; index: number } {
    return {
      round: Math.floor(sequence / this.requests.length),
      index: sequence % this.requests.length,
    };
  }

  /**
   * The body of the `sequence`-th request sent (counting from 0 across rounds): a fresh
   * copy of its compressed bytes with the samples of its round. Counters grow by a
   * series-dependent step each round; timestamps advance by `roundIntervalMs`.
   */
  body(sequence: number): Uint8Array<ArrayBuffer> {
    const { round, index } = this.position(sequence);
    const request = this.requests[index]!;
    const body = new Uint8Array(new ArrayBuffer(request.compressed.length));
    body.set(request.compressed);
    const view = new DataView(body.buffer);
    const timestampMs = this.startTimestampMs + round * this.roundIntervalMs;
    const firstSeries = index * this.seriesPerRequest;
    const offsets = request.sampleOffsets;
    if (this.format === 'otlp') {
      for (let i = 0; i < offsets.length; i++) {
        const offset = offsets[i]!;
        const nanos = BigInt(timestampMs + ((firstSeries + i) % 1000)) * 1_000_000n;
        view.setBigUint64(offset, nanos, true);
        view.setFloat64(offset + 9, sampleValue(firstSeries + i, round), true);
      }
      return body;
    }
    for (let i = 0; i < offsets.length; i++) {
      const offset = offsets[i]!;
      view.setFloat64(offset, sampleValue(firstSeries + i, round), true);
      writeTimestamp(body, offset + 9, timestampMs + ((firstSeries + i) % 1000));
    }
    return body;
  }

  /** Series of request `index` whose metric name is not among `droppedMetricIds`. */
  keptSeries(index: number, droppedMetricIds: ReadonlySet<number>): number {
    const ids = this.requests[index]!.metricIds;
    if (droppedMetricIds.size === 0) return ids.length;
    let kept = 0;
    for (const id of ids) if (!droppedMetricIds.has(id)) kept++;
    return kept;
  }
}

/** The value of a series' sample in a round: a counter growing by 1 to 7 per round. */
export function sampleValue(seriesIndex: number, round: number): number {
  return (seriesIndex % 1000) + round * (1 + (seriesIndex % 7));
}

function writeTimestamp(target: Uint8Array, at: number, timestampMs: number): void {
  let rest = timestampMs;
  for (let i = 0; i < TIMESTAMP_VARINT_BYTES - 1; i++) {
    target[at + i] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  target[at + TIMESTAMP_VARINT_BYTES - 1] = rest;
}

const utf8 = new TextEncoder();

function prepareRequest(
  format: BenchFormat,
  slice: readonly CatalogSeries[],
  metricIds: Uint16Array,
  timestampMs: number,
): PreparedRequest {
  if (format === 'rw2') return { ...encodeRw2Request(slice, timestampMs), metricIds };
  if (format === 'otlp') return { ...encodeOtlpRequest(slice, timestampMs), metricIds };
  return prepareRw1Request(slice, metricIds, timestampMs);
}

/** Encodes a WriteRequest by hand, so the place of every sample is known. */
function prepareRw1Request(
  slice: readonly CatalogSeries[],
  metricIds: Uint16Array,
  timestampMs: number,
): PreparedRequest {
  const parts: number[] = [];
  const ranges: ProtectedRange[] = [];
  for (const one of slice) {
    const labels: number[] = [];
    for (const [name, value] of one.labels) {
      const nameBytes = utf8.encode(name);
      const valueBytes = utf8.encode(value);
      const label = [
        TAG_LABEL_NAME,
        ...varint(nameBytes.length),
        ...nameBytes,
        TAG_LABEL_VALUE,
        ...varint(valueBytes.length),
        ...valueBytes,
      ];
      labels.push(TAG_LABELS, ...varint(label.length), ...label);
    }
    const seriesLength = labels.length + 2 + SAMPLE_BYTES;
    parts.push(TAG_TIMESERIES, ...varint(seriesLength), ...labels, TAG_SAMPLES, SAMPLE_BYTES);
    ranges.push({ start: parts.length + 1, length: PATCHED_SAMPLE_BYTES });
    parts.push(TAG_SAMPLE_VALUE, 0, 0, 0, 0, 0, 0, 0, 0, TAG_SAMPLE_TIMESTAMP);
    const timestamp = new Uint8Array(TIMESTAMP_VARINT_BYTES);
    writeTimestamp(timestamp, 0, timestampMs);
    parts.push(...timestamp);
  }
  const uncompressed = Uint8Array.from(parts);
  const block = compressPatchable(uncompressed, ranges);
  return {
    compressed: block.compressed,
    uncompressedBytes: uncompressed.length,
    sampleOffsets: block.compressedOffsets,
    metricIds,
  };
}

function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
  return out;
}
