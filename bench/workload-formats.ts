/**
 * The benchmark workload in the formats Phoenix ingests besides remote write 1.0: remote
 * write 2.0 (snappy) and OTLP metrics (protobuf over HTTP, uncompressed). Each request is
 * encoded by hand once, like the 1.0 one, so the place of every sample is known and each
 * round only patches values and timestamps in a copy: the load generator then costs the
 * same for every format, and the formats compare on Phoenix's CPU alone.
 */

import type { CatalogSeries } from './series-catalog.js';
import { compressPatchable, type ProtectedRange } from './snappy-patchable.js';

/** Wire formats the harness can send. */
export const BENCH_FORMATS = ['rw1', 'rw2', 'otlp'] as const;
export type BenchFormat = (typeof BENCH_FORMATS)[number];

/** One request of a round, with where its samples are in the bytes sent. */
export interface EncodedRequest {
  readonly compressed: Uint8Array;
  /** Bytes of the protobuf before compression (the same as sent, for OTLP). */
  readonly uncompressedBytes: number;
  /**
   * Per series, an offset in `compressed`: for remote write (1.0 and 2.0) of its 8-byte
   * value, with the timestamp varint tag and bytes after it; for OTLP of its 8-byte
   * `time_unix_nano`, with the value's tag and 8-byte double after it.
   */
  readonly sampleOffsets: Uint32Array;
}

/** Request headers per format. */
export function requestHeaders(format: BenchFormat): Readonly<Record<string, string>> {
  switch (format) {
    case 'rw1':
      return {
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
        'x-prometheus-remote-write-version': '0.1.0',
        'user-agent': 'phoenix-bench',
      };
    case 'rw2':
      return {
        'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
        'content-encoding': 'snappy',
        'x-prometheus-remote-write-version': '2.0.0',
        'user-agent': 'phoenix-bench',
      };
    case 'otlp':
      return { 'content-type': 'application/x-protobuf', 'user-agent': 'phoenix-bench' };
  }
}

/** Where a target takes `format`, given its remote-write URL. */
export function formatUrl(remoteWriteUrl: string, format: BenchFormat): string {
  if (format !== 'otlp') return remoteWriteUrl;
  const url = new URL(remoteWriteUrl);
  url.pathname = '/v1/metrics';
  return url.href;
}

/** Varint bytes of a ms timestamp between 2^35 (1971) and 2^42 (2109): always six. */
export const TIMESTAMP_VARINT_BYTES = 6;
/** A remote-write sample: value tag + double + timestamp tag + six varint bytes. */
const SAMPLE_BYTES = 1 + 8 + 1 + TIMESTAMP_VARINT_BYTES;

/** Writes a ms timestamp as exactly six varint bytes at `at`. */
export function writeTimestampVarint(target: Uint8Array, at: number, timestampMs: number): void {
  let rest = timestampMs;
  for (let i = 0; i < TIMESTAMP_VARINT_BYTES - 1; i++) {
    target[at + i] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  target[at + TIMESTAMP_VARINT_BYTES - 1] = rest;
}

const utf8 = new TextEncoder();

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

function lengthDelimited(tag: number, body: readonly number[] | Uint8Array): number[] {
  return [tag, ...varint(body.length), ...body];
}

/**
 * A remote write 2.0 `Request`: a per-request symbol table ("" first) and one series per
 * catalog series with one sample, laid out as in 1.0 (same `Sample` field numbers).
 */
export function encodeRw2Request(
  slice: readonly CatalogSeries[],
  timestampMs: number,
): EncodedRequest {
  const symbols = new Map<string, number>([['', 0]]);
  const ref = (text: string) => {
    let index = symbols.get(text);
    if (index === undefined) {
      index = symbols.size;
      symbols.set(text, index);
    }
    return index;
  };
  const series: number[] = [];
  const sampleStarts: number[] = [];
  for (const one of slice) {
    const refs = one.labels.flatMap(([name, value]) => [ref(name), ref(value)]);
    const packedRefs = lengthDelimited(0x0a, refs.flatMap(varint));
    series.push(0x2a, ...varint(packedRefs.length + 2 + SAMPLE_BYTES), ...packedRefs);
    series.push(0x12, SAMPLE_BYTES);
    sampleStarts.push(series.length);
    series.push(0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10);
    const timestamp = new Uint8Array(TIMESTAMP_VARINT_BYTES);
    writeTimestampVarint(timestamp, 0, timestampMs);
    series.push(...timestamp);
  }
  const symbolBytes = [...symbols.keys()].flatMap((text) =>
    lengthDelimited(0x22, utf8.encode(text)),
  );
  const uncompressed = Uint8Array.from([...symbolBytes, ...series]);
  const ranges: ProtectedRange[] = sampleStarts.map((start) => ({
    start: symbolBytes.length + start + 1,
    length: SAMPLE_BYTES - 1,
  }));
  const block = compressPatchable(uncompressed, ranges);
  return {
    compressed: block.compressed,
    uncompressedBytes: uncompressed.length,
    sampleOffsets: block.compressedOffsets,
  };
}

/**
 * An OTLP `ExportMetricsServiceRequest`: one resource and scope without attributes, one
 * gauge metric per series (no unit, so the name stays as it is) with one `NumberDataPoint`
 * whose attributes are the series' other labels. Gauges rather than counters: the
 * Prometheus conversion would give counters a `_total` suffix, and the scenarios select
 * series by their exact metric names.
 */
export function encodeOtlpRequest(
  slice: readonly CatalogSeries[],
  timestampMs: number,
): EncodedRequest {
  const metrics: number[] = [];
  const timeOffsets: number[] = [];
  for (const one of slice) {
    const attributes = one.labels
      .filter(([name]) => name !== '__name__')
      .flatMap(([name, value]) =>
        lengthDelimited(0x3a, [
          ...lengthDelimited(0x0a, utf8.encode(name)),
          ...lengthDelimited(0x12, lengthDelimited(0x0a, utf8.encode(value))),
        ]),
      );
    // time_unix_nano (fixed64, field 3) then as_double (double, field 4): patched together.
    const point = [...attributes, 0x19, 0, 0, 0, 0, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0, 0];
    const gauge = lengthDelimited(0x2a, lengthDelimited(0x0a, point));
    const metric = lengthDelimited(0x12, [
      ...lengthDelimited(0x0a, utf8.encode(one.metricName)),
      ...gauge,
    ]);
    // The fixed64 is followed by the value's tag and 8 bytes: it starts 17 bytes from the end.
    timeOffsets.push(metrics.length + metric.length - 17);
    metrics.push(...metric);
  }
  // request.resource_metrics (1) → scope_metrics (2) → the metrics, each tagged field 2.
  const resource = lengthDelimited(0x0a, lengthDelimited(0x12, metrics));
  const prefixBytes = resource.length - metrics.length;
  const bytes = Uint8Array.from(resource);
  const view = new DataView(bytes.buffer);
  const offsets = Uint32Array.from(timeOffsets, (offset) => prefixBytes + offset);
  for (const offset of offsets) {
    view.setBigUint64(offset, BigInt(timestampMs) * 1_000_000n, true);
  }
  return { compressed: bytes, uncompressedBytes: bytes.length, sampleOffsets: offsets };
}
