/**
 * The wire formats the ingest server accepts. The ingest thread only tells them apart by
 * path and headers; a worker converts every one of them to remote write 1.0 bytes before
 * the WebAssembly pipeline runs, so rules apply the same whatever the sender spoke.
 */

/**
 * - `rw1`: remote write 1.0, snappy, `prometheus.WriteRequest`
 * - `rw2`: remote write 2.0, snappy, `io.prometheus.write.v2.Request`
 * - `otlp-proto`: OTLP/HTTP or OTLP/gRPC, binary `ExportMetricsServiceRequest`
 * - `otlp-json`: OTLP/HTTP, the protobuf JSON mapping of the same message
 */
export type IngestFormat = 'rw1' | 'rw2' | 'otlp-proto' | 'otlp-json';

/** How the body is compressed, from `Content-Encoding` (OTLP) or fixed by the format. */
export type BodyEncoding = 'snappy' | 'gzip' | 'identity';

/** What a worker learned while converting a body, for the answer to the sender. */
export interface ConversionOutcome {
  /** Float samples, native histograms and exemplars accepted (remote write 2.0 headers). */
  readonly samples: number;
  readonly histograms: number;
  readonly exemplars: number;
  /** OTLP data points refused (`partial_success.rejected_data_points`). */
  readonly rejectedPoints: number;
  /** Why points were refused, or other news for the sender; empty when none. */
  readonly message: string;
}
