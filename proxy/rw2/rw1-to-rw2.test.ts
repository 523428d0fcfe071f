import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { compressSync, uncompressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import {
  type Request,
  RequestSchema,
  HistogramSchema as V2HistogramSchema,
} from '../../proto/gen/io/prometheus/write/v2/types_pb.js';
import { compilePipeline } from '../pipeline/compile.js';
import { PipelineEngine } from '../pipeline/engine.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import { Rw1ToRw2Converter } from './rw1-to-rw2.js';
import { goldenRw2Request } from './rw2-fixtures.js';
import { type Rw2ConversionStats, Rw2ToRw1Converter } from './rw2-to-rw1.js';

/** A request with every ref resolved, for comparing requests with different symbol tables. */
function resolved(request: Request) {
  const symbol = (ref: number) => request.symbols[ref];
  const pairs = (refs: number[]) => refs.map(symbol);
  return request.timeseries.map((series) => ({
    labels: pairs(series.labelsRefs),
    samples: series.samples.map(({ value, timestamp }) => ({ value, timestamp })),
    histograms: series.histograms.map((histogram) => toBinary(V2HistogramSchema, histogram)),
    exemplars: series.exemplars.map(({ labelsRefs, value, timestamp }) => ({
      labels: pairs(labelsRefs),
      value,
      timestamp,
    })),
    metadata: series.metadata
      ? {
          type: series.metadata.type,
          help: symbol(series.metadata.helpRef),
          unit: symbol(series.metadata.unitRef),
        }
      : undefined,
  }));
}

describe('Rw1ToRw2Converter', () => {
  it('turns a 2.0 request converted to 1.0 back into the same 2.0 request', () => {
    const golden = goldenRw2Request(1_700_000_000_000);
    const stats: Rw2ConversionStats = {
      series: 0,
      samples: 0,
      histograms: 0,
      exemplars: 0,
      metadata: 0,
      createdTimestamps: 0,
    };
    const rw1 = new Rw2ToRw1Converter().convert(golden.bytes(), stats).slice();
    const converter = new Rw1ToRw2Converter();
    const rw2 = fromBinary(
      RequestSchema,
      uncompressSync(
        Buffer.from(converter.convertSnappy(compressSync(Buffer.from(rw1)), 1 << 20)),
      ) as Buffer,
    );
    expect(rw2.symbols[0]).toBe('');
    expect(new Set(rw2.symbols).size).toBe(rw2.symbols.length);
    const expected = resolved(golden.build());
    // A series without metadata in 2.0 had none in 1.0; everything else is as sent.
    expect(resolved(rw2)).toEqual(
      expected.map((series) => ({
        ...series,
        metadata:
          series.metadata?.type === 0 && series.metadata.help === '' ? undefined : series.metadata,
      })),
    );
    expect(rw2.timeseries.map((series) => series.createdTimestamp)).toEqual(
      golden.build().timeseries.map((series) => series.createdTimestamp),
    );
    expect(rw2.timeseries.some((series) => series.createdTimestamp !== 0n)).toBe(true);
  });

  it('keeps start timestamps through the WebAssembly pipeline when a rule rewrites every series', async () => {
    const golden = goldenRw2Request(1_700_000_000_000);
    const rw1 = new Rw2ToRw1Converter()
      .convert(golden.bytes(), {
        series: 0,
        samples: 0,
        histograms: 0,
        exemplars: 0,
        metadata: 0,
        createdTimestamps: 0,
      })
      .slice();
    const engine = await PipelineEngine.load();
    engine.use(
      compilePipeline(
        parsePipelineConfig(
          'relabel_configs:\n  - target_label: region\n    replacement: eu-1\n',
          'pipeline.yaml',
        ),
      ),
    );
    const result = engine.processRemoteWrite(rw1, { snappyIn: false, snappyOut: true });
    expect(result.unchanged).toBe(false);
    const rw2 = fromBinary(
      RequestSchema,
      uncompressSync(
        Buffer.from(new Rw1ToRw2Converter().convertSnappy(result.output, 1 << 20)),
      ) as Buffer,
    );
    const sent = golden.build();
    expect(rw2.timeseries.map((series) => series.createdTimestamp)).toEqual(
      sent.timeseries.map((series) => series.createdTimestamp),
    );
    for (const series of rw2.timeseries) {
      expect(series.labelsRefs.map((ref) => rw2.symbols[ref])).toContain('region');
    }
  });

  it('round-trips a negative start timestamp (a ten-byte varint) exactly', () => {
    const builder = goldenRw2Request(1_700_000_000_000, { customBuckets: false });
    const request = builder.build();
    request.timeseries[1]!.createdTimestamp = -1n;
    const rw1 = new Rw2ToRw1Converter().convert(toBinary(RequestSchema, request), {
      series: 0,
      samples: 0,
      histograms: 0,
      exemplars: 0,
      metadata: 0,
      createdTimestamps: 0,
    });
    const rw2 = fromBinary(RequestSchema, new Rw1ToRw2Converter().convert(rw1));
    expect(rw2.timeseries.map((series) => series.createdTimestamp)).toEqual(
      request.timeseries.map((series) => series.createdTimestamp),
    );
  });
});
