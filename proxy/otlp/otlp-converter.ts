/**
 * OTLP metrics → remote write 1.0 bytes, for both encodings of `ExportMetricsServiceRequest`.
 * One converter per worker; its output buffers are kept from request to request. It keeps
 * no state about series: delta points come out apart, for the proxy's one delta
 * accumulator (proxy/otlp/delta-accumulator.ts).
 */

import type { ConversionOutcome } from '../wire/ingest-format.js';
import { readOtlpJson } from './otlp-json-reader.js';
import { readOtlpProto } from './otlp-proto-reader.js';
import { type OtlpConversionOptions, OtlpRw1Builder } from './otlp-rw1-builder.js';

/** Converts OTLP request bodies; see {@link OtlpRw1Builder} for the rules. */
export class OtlpConverter {
  readonly #builder: OtlpRw1Builder;

  constructor(options: OtlpConversionOptions) {
    this.#builder = new OtlpRw1Builder(options);
  }

  /**
   * Converts an uncompressed body. Returns the 1.0 bytes (valid until the next call) and
   * the outcome for the answer; throws `WireError` or `OtlpJsonError` for a malformed body.
   */
  convert(
    body: Uint8Array,
    json: boolean,
  ): { rw1: Uint8Array; deltaRw1: Uint8Array | undefined; outcome: ConversionOutcome } {
    const builder = this.#builder;
    builder.begin();
    if (json) readOtlpJson(body, builder);
    else readOtlpProto(body, builder);
    const result = builder.finish();
    return {
      rw1: result.rw1,
      deltaRw1: result.deltaRw1,
      outcome: {
        samples: result.samples,
        histograms: result.histograms,
        exemplars: result.exemplars,
        rejectedPoints: result.rejected,
        message: result.message,
      },
    };
  }
}
