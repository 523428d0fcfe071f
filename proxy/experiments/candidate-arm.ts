/**
 * The candidate arm of an experiment inside a pipeline worker: its own WebAssembly engine
 * with the candidate pipeline (and, in split mode, the candidate's share of the series),
 * whose forward-only rules remove the candidate's aggregated input. It runs on the same
 * request bytes as the baseline engine of the worker, right after it.
 */
import { threadId } from 'node:worker_threads';
import { compress } from 'snappyjs';
import { compileWithInputDrop, withForwardOutput } from '../aggregation/input-drop.js';
import { compilePipeline } from '../pipeline/compile.js';
import { CARDINALITY_VIEW_INPUT, PipelineEngine } from '../pipeline/engine.js';
import type { ArmOutput, ArmSketchSet, WorkerExperiment } from '../server/worker-protocol.js';

/** Metric names each arm sketch tracks before its "other" bucket. */
const ARM_MAX_METRICS = 1_000;
/** A worker sends its arm sketches along with an answer at most this often, ms. */
const SKETCH_INTERVAL_MS = 1_000;

/**
 * An engine with no rules that only measures: its input tracker counts the series of
 * what it is given. Runs on an arm's forwarded output (and, in split mode, on the
 * baseline's share of the input), which the arm's own engines do not see as a whole.
 */
async function meterEngine(
  limits: EngineLimits,
  split?: { keep: 'baseline'; fraction: number },
): Promise<PipelineEngine> {
  const engine = await PipelineEngine.load(limits);
  engine.use(compilePipeline({ relabelConfigs: [] }));
  engine.configureCardinality(ARM_MAX_METRICS);
  if (split !== undefined) engine.split(split);
  return engine;
}

export interface EngineLimits {
  readonly maxDecompressedBytes: number;
  readonly maxLabelsPerSeries: number;
}

interface Meters {
  readonly candidateOutput: PipelineEngine;
  readonly baselineOutput: PipelineEngine;
  /** Split mode only: the baseline's share of the input. */
  readonly baselineInput: PipelineEngine | undefined;
}

export class CandidateArm {
  readonly experiment: WorkerExperiment;
  readonly engine: PipelineEngine;
  readonly #meters: Meters;
  #sketchesSentMs = 0;

  private constructor(experiment: WorkerExperiment, engine: PipelineEngine, meters: Meters) {
    this.experiment = experiment;
    this.engine = engine;
    this.#meters = meters;
  }

  /** Builds the arm; throws (a `ConfigError` or `PipelineError`) when the candidate cannot run. */
  static async create(experiment: WorkerExperiment, limits: EngineLimits): Promise<CandidateArm> {
    const compiled = compileWithInputDrop(experiment.candidate);
    const engine = await PipelineEngine.load(limits);
    engine.use(compiled);
    engine.configureCardinality(ARM_MAX_METRICS);
    const split = experiment.mode === 'split';
    if (split) engine.split({ keep: 'candidate', fraction: experiment.fraction });
    const meters: Meters = {
      candidateOutput: await meterEngine(limits),
      baselineOutput: await meterEngine(limits),
      baselineInput: split
        ? await meterEngine(limits, { keep: 'baseline', fraction: experiment.fraction })
        : undefined,
    };
    return new CandidateArm(experiment, engine, meters);
  }

  /**
   * Counts the series of the baseline's forwarded `payload` (snappy) and, in split mode,
   * of the baseline's share of the request `body`.
   */
  meterBaseline(body: Uint8Array, snappyIn: boolean, payload: Uint8Array): void {
    this.#meters.baselineOutput.processRemoteWrite(payload, { snappyOut: false });
    this.#meters.baselineInput?.processRemoteWrite(body, { snappyIn, snappyOut: false });
  }

  /** Counts an aggregation flush of an arm as part of that arm's output. */
  meterOutput(arm: 'baseline' | 'candidate', payload: Uint8Array): void {
    const meter = arm === 'baseline' ? this.#meters.baselineOutput : this.#meters.candidateOutput;
    meter.processRemoteWrite(payload, { snappyOut: false });
  }

  /**
   * Every arm's series sketches, at most once per {@link SKETCH_INTERVAL_MS}: totals since
   * the arm started in this worker, so the newest set of each worker is all the ingest
   * thread keeps.
   */
  sketches(nowMs: number): ArmSketchSet | undefined {
    if (nowMs - this.#sketchesSentMs < SKETCH_INTERVAL_MS) return undefined;
    this.#sketchesSentMs = nowMs;
    const candidateInput = this.engine.cardinalitySnapshot(CARDINALITY_VIEW_INPUT);
    return {
      experiment: this.experiment.name,
      threadId,
      candidateInput,
      candidateOutput: this.#meters.candidateOutput.cardinalitySnapshot(CARDINALITY_VIEW_INPUT),
      // In shadow mode both arms get every series: the candidate's input is the baseline's.
      baselineInput:
        this.#meters.baselineInput?.cardinalitySnapshot(CARDINALITY_VIEW_INPUT) ??
        candidateInput.slice(),
      baselineOutput: this.#meters.baselineOutput.cardinalitySnapshot(CARDINALITY_VIEW_INPUT),
    };
  }

  /**
   * Runs the candidate over `body` (snappy remote write 1.0, or uncompressed 1.0 with
   * `snappyIn` false). `body` stays the caller's: the output never shares its buffer.
   */
  run(body: Uint8Array, snappyIn: boolean): { output: ArmOutput; transfer: ArrayBuffer[] } {
    const startedNs = process.hrtime.bigint();
    const result = this.engine.processRemoteWrite(body, { snappyIn, snappyOut: true });
    let payload: Uint8Array;
    if (!result.unchanged) payload = result.output;
    else payload = snappyIn ? body.slice() : (compress(body) as Uint8Array);
    const arm: { unchanged: boolean; payload: Uint8Array; aggregationInput?: Uint8Array } = {
      unchanged: result.unchanged,
      payload,
    };
    const dropped = withForwardOutput(arm, result.forward);
    const pipelineNs = Number(process.hrtime.bigint() - startedNs);
    this.#meters.candidateOutput.processRemoteWrite(dropped.response.payload, { snappyOut: false });
    return {
      output: {
        unchanged: dropped.response.unchanged,
        payload: dropped.response.payload,
        stats: result.stats,
        ruleHits: result.ruleHits,
        ...(dropped.response.aggregationInput === undefined
          ? {}
          : { aggregationInput: dropped.response.aggregationInput }),
        pipelineNs,
      },
      transfer: dropped.transfer,
    };
  }
}
