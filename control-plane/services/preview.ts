/**
 * Preview: runs a pipeline over one remote-write request with the same WebAssembly engine
 * the proxies run, and reports the series before and after and which rules fired.
 */
import { create, fromBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  type PreviewPipelineResponse,
  PreviewPipelineResponseSchema,
  type PreviewSeries,
  PreviewSeriesSchema,
  RuleHitSchema,
} from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import { compilePipeline } from '../../proxy/pipeline/compile.js';
import type { PipelineConfig } from '../../proxy/pipeline/config.js';
import { PipelineEngine, PipelineError } from '../../proxy/pipeline/engine.js';
import { SnappyError, uncompressSnappyBlock } from './snappy-block.js';

/** Largest decompressed body a preview accepts, in bytes. */
export const PREVIEW_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_SERIES = 1000;

/** What to preview: a validated pipeline and one remote-write body. */
export interface PreviewInput {
  readonly pipeline: PipelineConfig;
  readonly body: Uint8Array;
  /** Whether `body` is snappy block-compressed. */
  readonly snappy: boolean;
  /** Most series listed before and after; 0 means the default of 1000. */
  readonly maxSeries: number;
}

/**
 * Runs the preview in a fresh engine instance (instantiating is cheap once the module is
 * compiled, and a preview must never share string tables with another one).
 */
export async function previewPipeline(input: PreviewInput): Promise<PreviewPipelineResponse> {
  const compiled = compilePipeline(input.pipeline);
  const engine = await PipelineEngine.load({
    maxDecompressedBytes: PREVIEW_MAX_DECOMPRESSED_BYTES,
  });
  engine.use(compiled);
  let raw: Uint8Array;
  try {
    raw = input.snappy
      ? uncompressSnappyBlock(input.body, PREVIEW_MAX_DECOMPRESSED_BYTES)
      : input.body;
  } catch (error) {
    if (error instanceof SnappyError) {
      throw new ConnectError(
        `remote_write_body: corrupt snappy block: ${error.message}`,
        Code.InvalidArgument,
      );
    }
    throw error;
  }
  let result: ReturnType<PipelineEngine['processRemoteWrite']>;
  try {
    result = engine.processRemoteWrite(raw, { snappyIn: false, snappyOut: false });
  } catch (error) {
    if (error instanceof PipelineError) {
      throw new ConnectError(`remote_write_body: ${error.message}`, Code.InvalidArgument);
    }
    throw error;
  }
  const maxSeries = input.maxSeries === 0 ? DEFAULT_MAX_SERIES : input.maxSeries;
  const before = seriesOf(raw);
  const after = result.unchanged ? before : seriesOf(result.output);
  return create(PreviewPipelineResponseSchema, {
    before: before.slice(0, maxSeries),
    after: after.slice(0, maxSeries),
    truncated: before.length > maxSeries || after.length > maxSeries,
    ruleHits: input.pipeline.relabelConfigs.map((rule, index) =>
      create(RuleHitSchema, {
        rule: index,
        action: rule.action,
        series: result.ruleHits[index] ?? 0,
      }),
    ),
    seriesIn: result.stats.seriesIn,
    seriesOut: result.stats.seriesOut,
    seriesDropped: result.stats.seriesDropped,
    samplesIn: result.stats.samplesIn,
    samplesOut: result.stats.samplesOut,
  });
}

function seriesOf(protobuf: Uint8Array): PreviewSeries[] {
  const request = fromBinary(WriteRequestSchema, protobuf);
  return request.timeseries.map((series) =>
    create(PreviewSeriesSchema, {
      labels: series.labels.map(({ name, value }) => ({ name, value })),
      sampleCount: series.samples.length + series.histograms.length,
    }),
  );
}
