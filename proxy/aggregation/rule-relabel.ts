/**
 * The per-rule `input_relabel_configs` and `output_relabel_configs` of the aggregation
 * rules, run by the same relabel engine as the proxy's own `relabel_configs`: one
 * {@link PipelineEngine} (its own WebAssembly instance) per non-empty list.
 *
 * Input relabeling runs inside classification, so once per distinct (input series, rule),
 * never per sample: relabeling is a function of the labels alone, and the state keys an
 * input series by its original labels. Output relabeling runs over each flush's
 * WriteRequest, which holds one series per output group and is small.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import {
  LabelSchema,
  SampleSchema,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import { compilePipeline } from '../pipeline/compile.js';
import { PipelineEngine } from '../pipeline/engine.js';

/** Relabel engines of every rule that has relabel configs; `undefined` slots for the rest. */
export class RuleRelabelers {
  readonly #input: ReadonlyArray<PipelineEngine | undefined>;
  readonly #output: ReadonlyArray<PipelineEngine | undefined>;

  private constructor(
    input: ReadonlyArray<PipelineEngine | undefined>,
    output: ReadonlyArray<PipelineEngine | undefined>,
  ) {
    this.#input = input;
    this.#output = output;
  }

  static async load(rules: readonly AggregationRule[], wasmPath?: string): Promise<RuleRelabelers> {
    const engineFor = async (
      relabelConfigs: AggregationRule['inputRelabelConfigs'],
    ): Promise<PipelineEngine | undefined> => {
      if (relabelConfigs === undefined || relabelConfigs.length === 0) return undefined;
      const engine = await PipelineEngine.load(wasmPath === undefined ? {} : { wasmPath });
      engine.use(compilePipeline({ relabelConfigs }));
      return engine;
    };
    const input = await Promise.all(rules.map((rule) => engineFor(rule.inputRelabelConfigs)));
    const output = await Promise.all(rules.map((rule) => engineFor(rule.outputRelabelConfigs)));
    return new RuleRelabelers(input, output);
  }

  /**
   * The labels of an input series as rule `rule` aggregates it: `labels` after the rule's
   * input relabeling, or `null` when that drops the series. Unchanged without rules.
   */
  relabelInput(
    rule: number,
    labels: ReadonlyMap<string, string>,
  ): ReadonlyMap<string, string> | null {
    const engine = this.#input[rule];
    if (engine === undefined) return labels;
    const request = create(WriteRequestSchema, {
      timeseries: [
        create(TimeSeriesSchema, {
          // The engine validates its input: label names in ascending order.
          labels: [...labels]
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([name, value]) => create(LabelSchema, { name, value })),
          // One sample, so that the series is a complete one for the relabel engine.
          samples: [create(SampleSchema, { value: 0, timestamp: 0n })],
        }),
      ],
    });
    const result = engine.processRemoteWrite(toBinary(WriteRequestSchema, request), {
      snappyIn: false,
      snappyOut: false,
    });
    if (result.unchanged) return labels;
    const series = fromBinary(WriteRequestSchema, result.output).timeseries[0];
    if (series === undefined) return null;
    return new Map(series.labels.map((label) => [label.name, label.value]));
  }

  /**
   * A flush's WriteRequest after rule `rule`'s output relabeling (same compression as
   * given); empty when every series was dropped. Returned as is without rules.
   */
  relabelOutput(rule: number, payload: Uint8Array, compressed: boolean): Uint8Array {
    const engine = this.#output[rule];
    if (engine === undefined || payload.length === 0) return payload;
    const result = engine.processRemoteWrite(payload, {
      snappyIn: compressed,
      snappyOut: compressed,
    });
    if (result.unchanged) return payload;
    return result.stats.seriesOut === 0 ? new Uint8Array(0) : result.output;
  }
}
