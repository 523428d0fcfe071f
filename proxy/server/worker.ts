/**
 * Entry of a pipeline worker thread (piscina). One WebAssembly engine per thread, created
 * when the thread starts and reused for every request; only an unexpected failure (not a
 * bad request) makes the worker build a fresh one.
 */
import { threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { compileWithInputDrop, withForwardOutput } from '../aggregation/input-drop.js';
import { answerCardinalityCollects } from '../cardinality/cardinality-channel.js';
import { WorkerCardinalityWindows } from '../cardinality/worker-windows.js';
import { runShardTask, type ShardResponse } from '../delivery/shard-task.js';
import { CandidateArm } from '../experiments/candidate-arm.js';
import type { PipelineConfig } from '../pipeline/config.js';
import type { CompiledPipeline } from '../pipeline/contracts.js';
import { PipelineEngine, PipelineError } from '../pipeline/engine.js';
import { BodyConverter, defaultEncoding, processConverted } from '../wire/convert-body.js';
import type { IngestFormat } from '../wire/ingest-format.js';
import { WorkerPipelineUpdates } from './worker-pipeline-updates.js';
import type {
  ArmOutput,
  PingResponse,
  ProcessResponse,
  ProcessTask,
  WorkerExperiment,
  WorkerSetup,
  WorkerTask,
} from './worker-protocol.js';
import { noteThreadBuffers } from './young-generation.js';

const setup = workerData as WorkerSetup;
const EMPTY_PIPELINE: PipelineConfig = { relabelConfigs: [] };
let compiled: CompiledPipeline = compileWithInputDrop(setup.pipeline ?? EMPTY_PIPELINE);

async function loadEngine(): Promise<PipelineEngine> {
  const loaded = await PipelineEngine.load({
    maxDecompressedBytes: setup.maxDecompressedBytes,
    maxLabelsPerSeries: setup.maxLabelsPerSeries,
  });
  loaded.use(compiled);
  if (setup.cardinality !== undefined) loaded.configureCardinality(setup.cardinality.maxMetrics);
  return loaded;
}

let engine = await loadEngine();
// Cardinality windows of this worker's engine, collected by the ingest thread over a channel.
const cardinalityWindows =
  setup.cardinality === undefined
    ? undefined
    : new WorkerCardinalityWindows(() => engine, setup.cardinality.windowMs);
if (setup.cardinality !== undefined && cardinalityWindows !== undefined) {
  answerCardinalityCollects(setup.cardinality.channel, () => cardinalityWindows.windows());
}
// Hot reload: a new pipeline is compiled beside the running one, and the engine switches
// to it when the update is handled, which is always between two tasks of this thread.
// The candidate of a running experiment, beside the pipeline (see proxy/experiments/).
let candidateArm: CandidateArm | undefined;
const pipelineUpdates = new WorkerPipelineUpdates(
  setup.pipelineChannel,
  async (pipeline, experiment) => {
    // Aggregation rules with `keep_input: false` come along as forward-only rules: the
    // engine switches to the new pipeline's rules as the aggregation thread does, so raw
    // series are neither forwarded beside their aggregates nor lost without them.
    const next = compileWithInputDrop(pipeline ?? EMPTY_PIPELINE);
    // The candidate is built first: nothing switches unless both arms can run.
    const nextArm = await nextCandidateArm(experiment);
    engine.use(next);
    compiled = next;
    engine.split(
      experiment?.mode === 'split'
        ? { keep: 'baseline', fraction: experiment.fraction }
        : undefined,
    );
    candidateArm = nextArm;
  },
);

async function nextCandidateArm(
  experiment: WorkerExperiment | undefined,
): Promise<CandidateArm | undefined> {
  if (experiment === undefined) return undefined;
  const running = candidateArm?.experiment;
  // The same experiment again (a new baseline version): keep the arm and its state.
  if (running !== undefined && JSON.stringify(running) === JSON.stringify(experiment)) {
    return candidateArm;
  }
  return CandidateArm.create(experiment, {
    maxDecompressedBytes: setup.maxDecompressedBytes,
    maxLabelsPerSeries: setup.maxLabelsPerSeries,
  });
}
const converter = new BodyConverter({
  maxDecompressedBytes: setup.maxDecompressedBytes,
  otlpKeepNames: setup.otlpKeepNames ?? false,
});

/** piscina calls this for every task; it never throws, so a bad request cannot crash it. */
export default async function runTask(
  task: WorkerTask,
): Promise<ProcessResponse | PingResponse | ShardResponse> {
  if (task.kind === 'ping') {
    return { ok: true, kind: 'pong', threadId };
  }
  if (task.kind === 'shard') return runShardTask(task);
  if (task.kind === 'meter') {
    if (candidateArm?.experiment.name === task.experiment) {
      candidateArm.meterOutput(task.arm, task.payload);
    }
    return { ok: true, kind: 'pong', threadId };
  }
  const catchingUp = pipelineUpdates.reach(task.pipelineGeneration ?? 0);
  if (catchingUp !== undefined) await catchingUp;
  cardinalityWindows?.rotate();
  // Bodies arrive transferred and outputs leave transferred; their memory is only freed
  // when this thread's heap is collected, which its little JavaScript rarely causes.
  noteThreadBuffers(task.body.byteLength);
  const response = await processBody(task);
  if (response.ok && !response.unchanged) noteThreadBuffers(response.payload.byteLength);
  return response;
}

async function processBody(task: ProcessTask): Promise<ProcessResponse> {
  try {
    const format = task.format ?? 'rw1';
    if (format !== 'rw1') return await convertAndProcess(task, format);
    const startedNs = process.hrtime.bigint();
    const result = engine.processRemoteWrite(task.body);
    const pipelineNs = Number(process.hrtime.bigint() - startedNs);
    const payload = result.unchanged ? task.body : result.output;
    const response: ProcessResponse = {
      ok: true,
      unchanged: result.unchanged,
      payload,
      stats: result.stats,
      ruleHits: result.ruleHits,
      pipelineNs,
    };
    // The candidate reads the body before the answer transfers it away.
    return runCandidate(task.body, true, withForwardOutput(response, result.forward));
  } catch (error: unknown) {
    if (error instanceof PipelineError) {
      return { ok: false, code: error.code, message: error.message };
    }
    // Not a verdict on the request but a fault of the engine (a trap, say): its memory
    // may be in any state, so the next request gets a fresh instance.
    const message = error instanceof Error ? error.message : String(error);
    engine = await loadEngine();
    return { ok: false, code: 'internal', message: `pipeline worker failed: ${message}` };
  }
}

/** Remote write 2.0 and OTLP: converted to 1.0 in this worker, then the same pipeline. */
async function convertAndProcess(
  task: ProcessTask,
  format: Exclude<IngestFormat, 'rw1'>,
): Promise<ProcessResponse> {
  const encoding = task.encoding ?? defaultEncoding(format);
  const startedNs = process.hrtime.bigint();
  const { payload, result, outcome, rw1, deltaSeries } = processConverted(
    engine,
    converter,
    format,
    task.body,
    encoding,
  );
  const pipelineNs = Number(process.hrtime.bigint() - startedNs);
  const response: ProcessResponse = {
    ok: true,
    unchanged: false,
    payload,
    stats: result.stats,
    ruleHits: result.ruleHits,
    conversion: outcome,
    pipelineNs,
    ...(deltaSeries === undefined ? {} : { deltaSeries }),
  };
  const baseline = withForwardOutput(response, result.forward);
  if (deltaSeries !== undefined) baseline.transfer.push(deltaSeries.buffer);
  return runCandidate(rw1, false, baseline);
}

/**
 * The answer with the candidate's output attached, as a piscina movable: piscina transfers
 * what its transferable list names and posts its value.
 */
function movable(
  baseline: { response: ProcessResponse; transfer: ArrayBuffer[] },
  candidate: { output: ArmOutput; transfer: ArrayBuffer[] } | undefined,
  arm: CandidateArm | undefined,
): ProcessResponse {
  if (candidate === undefined || arm === undefined || !baseline.response.ok) {
    return move({
      [transferableSymbol]: baseline.transfer,
      [valueSymbol]: baseline.response,
    }) as unknown as ProcessResponse;
  }
  const sketches = arm.sketches(Date.now());
  const response: ProcessResponse = {
    ...baseline.response,
    experiment: arm.experiment.name,
    candidate: candidate.output,
    ...(sketches === undefined ? {} : { armSketches: sketches }),
  };
  const sketchBuffers =
    sketches === undefined
      ? []
      : [
          sketches.baselineInput.buffer,
          sketches.baselineOutput.buffer,
          sketches.candidateInput.buffer,
          sketches.candidateOutput.buffer,
        ];
  return move({
    [transferableSymbol]: [...baseline.transfer, ...candidate.transfer, ...sketchBuffers],
    [valueSymbol]: response,
  }) as unknown as ProcessResponse;
}

/** Runs the candidate arm (if any) over a request the baseline has just processed. */
function runCandidate(
  body: Uint8Array,
  snappyIn: boolean,
  baseline: { response: ProcessResponse; transfer: ArrayBuffer[] },
): ProcessResponse {
  const arm = candidateArm;
  if (arm === undefined || !baseline.response.ok) return movable(baseline, undefined, undefined);
  const candidate = arm.run(body, snappyIn);
  arm.meterBaseline(body, snappyIn, baseline.response.payload);
  return movable(baseline, candidate, arm);
}
