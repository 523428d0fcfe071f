/**
 * The worker's first step for bodies that are not remote write 1.0: decompress, then
 * convert to uncompressed 1.0 protobuf for the WebAssembly pipeline. One converter lives
 * in each worker and keeps its buffers from request to request; OTLP delta points come out
 * apart, for the proxy's one delta accumulator (proxy/otlp/delta-accumulator.ts).
 */

import { gunzipSync } from 'node:zlib';
import { compress, uncompress } from 'snappyjs';
import { OtlpConverter } from '../otlp/otlp-converter.js';
import { OtlpJsonError } from '../otlp/otlp-json-reader.js';
import type { ProcessResult } from '../pipeline/contracts.js';
import { type PipelineEngine, PipelineError } from '../pipeline/engine.js';
import { HistogramFormatError } from '../rw2/native-histogram-check.js';
import { type Rw2ConversionStats, Rw2FormatError, Rw2ToRw1Converter } from '../rw2/rw2-to-rw1.js';
import type { BodyEncoding, ConversionOutcome, IngestFormat } from './ingest-format.js';
import { WireError } from './proto-reader.js';

/** Uncompressed remote write 1.0 bytes and what the conversion counted. */
export interface ConvertedBody {
  /** Valid until the next conversion. */
  readonly rw1: Uint8Array;
  /** OTLP delta points as series of deltas, valid until the next conversion; see above. */
  readonly deltaRw1?: Uint8Array | undefined;
  readonly outcome: ConversionOutcome;
}

/** Options of {@link BodyConverter}. */
export interface BodyConverterOptions {
  /** Largest decompressed body in bytes; more is refused as too large. */
  readonly maxDecompressedBytes: number;
  /** OTLP: keep metric names as sent (no unit or `_total` suffixes). */
  readonly otlpKeepNames: boolean;
}

/** Converts request bodies of every non-1.0 format to remote write 1.0. */
export class BodyConverter {
  readonly #options: BodyConverterOptions;
  readonly #rw2 = new Rw2ToRw1Converter();
  readonly #otlp: OtlpConverter;
  readonly #rw2Stats: Rw2ConversionStats = {
    series: 0,
    samples: 0,
    histograms: 0,
    exemplars: 0,
    metadata: 0,
    createdTimestamps: 0,
  };

  constructor(options: BodyConverterOptions) {
    this.#options = options;
    this.#otlp = new OtlpConverter({ keepNames: options.otlpKeepNames });
  }

  /**
   * Converts `body`; throws {@link PipelineError} (`snappy`, `too_large`, `protobuf`,
   * `invalid_labels`) for a body that cannot be accepted, with where it went wrong.
   */
  convert(
    format: Exclude<IngestFormat, 'rw1'>,
    body: Uint8Array,
    encoding: BodyEncoding,
  ): ConvertedBody {
    const plain = this.#decompress(body, encoding);
    try {
      switch (format) {
        case 'rw2':
          return this.#convertRw2(plain);
        case 'otlp-proto':
          return this.#otlp.convert(plain, false);
        case 'otlp-json':
          return this.#otlp.convert(plain, true);
      }
    } catch (error) {
      throw asPipelineError(error, format);
    }
  }

  #convertRw2(plain: Uint8Array): ConvertedBody {
    const stats = this.#rw2Stats;
    const rw1 = this.#rw2.convert(plain, stats);
    return {
      rw1,
      outcome: {
        samples: stats.samples,
        histograms: stats.histograms,
        exemplars: stats.exemplars,
        rejectedPoints: 0,
        message: '',
      },
    };
  }

  #decompress(body: Uint8Array, encoding: BodyEncoding): Uint8Array {
    const maxBytes = this.#options.maxDecompressedBytes;
    if (encoding === 'identity') {
      if (body.length > maxBytes) throw tooLarge(maxBytes);
      return body;
    }
    if (encoding === 'snappy') {
      const declared = snappyDeclaredLength(body);
      if (declared === undefined) throw new PipelineError('snappy', 'corrupt snappy block');
      if (declared > maxBytes) throw tooLarge(maxBytes);
      try {
        return uncompress(body, maxBytes);
      } catch {
        throw new PipelineError('snappy', 'corrupt snappy block');
      }
    }
    try {
      return gunzipSync(body, { maxOutputLength: maxBytes });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
      throw new PipelineError('protobuf', `corrupt gzip body: ${(error as Error).message}`);
    }
  }
}

function tooLarge(maxBytes: number): PipelineError {
  return new PipelineError('too_large', `decompressed body exceeds ${maxBytes} bytes`);
}

/** The uncompressed length a snappy block declares in its varint header. */
function snappyDeclaredLength(block: Uint8Array): number | undefined {
  let result = 0;
  for (let i = 0, shift = 0; i < block.length && i < 5; i++, shift += 7) {
    const byte = block[i]!;
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return result;
  }
  return undefined;
}

const FORMAT_NAME: Readonly<Record<Exclude<IngestFormat, 'rw1'>, string>> = {
  rw2: 'remote write 2.0 Request',
  'otlp-proto': 'OTLP ExportMetricsServiceRequest',
  'otlp-json': 'OTLP JSON ExportMetricsServiceRequest',
};

function asPipelineError(error: unknown, format: Exclude<IngestFormat, 'rw1'>): unknown {
  if (error instanceof WireError) {
    return new PipelineError('protobuf', `malformed ${FORMAT_NAME[format]}: ${error.message}`);
  }
  if (error instanceof Rw2FormatError) return new PipelineError('invalid_labels', error.message);
  if (error instanceof HistogramFormatError) return new PipelineError('protobuf', error.message);
  if (error instanceof OtlpJsonError) {
    return new PipelineError('protobuf', `malformed ${FORMAT_NAME[format]}: ${error.message}`);
  }
  return error;
}

/** The pipeline's result for a converted body, ready to hand back to the ingest thread. */
export interface ConvertedResult {
  /** Snappy-compressed remote write 1.0 to forward; a buffer of its own. */
  readonly payload: Uint8Array<ArrayBuffer>;
  readonly result: ProcessResult;
  readonly outcome: ConversionOutcome;
  /** The converted remote write 1.0, uncompressed: what an experiment's candidate runs on. */
  readonly rw1: Uint8Array;
  /**
   * OTLP delta points (uncompressed 1.0 series of deltas, start times in field 6), a buffer
   * of its own, for the delta accumulator; absent when the request had none.
   */
  readonly deltaSeries?: Uint8Array<ArrayBuffer>;
}

/**
 * Converts `body` and runs the pipeline over the 1.0 bytes. When no rule changed anything
 * the converted bytes themselves are compressed and forwarded.
 */
export function processConverted(
  engine: PipelineEngine,
  converter: BodyConverter,
  format: Exclude<IngestFormat, 'rw1'>,
  body: Uint8Array,
  encoding: BodyEncoding,
): ConvertedResult {
  const converted = converter.convert(format, body, encoding);
  const result = engine.processRemoteWrite(converted.rw1, { snappyIn: false, snappyOut: true });
  const payload = result.unchanged
    ? (compress(converted.rw1) as Uint8Array<ArrayBuffer>)
    : (result.output as Uint8Array<ArrayBuffer>);
  const deltaSeries = converted.deltaRw1?.slice();
  return {
    payload,
    result,
    outcome: converted.outcome,
    rw1: converted.rw1,
    ...(deltaSeries === undefined ? {} : { deltaSeries }),
  };
}

/** The compression a format implies when the sender named none. */
export function defaultEncoding(format: IngestFormat): BodyEncoding {
  return format === 'rw1' || format === 'rw2' ? 'snappy' : 'identity';
}
