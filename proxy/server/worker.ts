/**
 * Entry of a pipeline worker thread (piscina). One WebAssembly engine per thread, created
 * when the thread starts and reused for every request; only an unexpected failure (not a
 * bad request) makes the worker build a fresh one.
 */
import { threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { InputDropper, withInputDropped } from '../aggregation/input-drop.js';
import { runShardTask, type ShardResponse } from '../delivery/shard-task.js';
import { compilePipeline } from '../pipeline/compile.js';
import type { PipelineConfig } from '../pipeline/config.js';
import type { CompiledPipeline } from '../pipeline/contracts.js';
import { PipelineEngine, PipelineError } from '../pipeline/engine.js';
import { BodyConverter, defaultEncoding, processConverted } from '../wire/convert-body.js';
import type { IngestFormat } from '../wire/ingest-format.js';
import { WorkerPipelineUpdates } from './worker-pipeline-updates.js';
import type {
  PingResponse,
  ProcessResponse,
  ProcessTask,
  WorkerSetup,
  WorkerTask,
} from './worker-protocol.js';

const setup = workerData as WorkerSetup;
const EMPTY_PIPELINE: PipelineConfig = { relabelConfigs: [] };
let compiled: CompiledPipeline = compilePipeline(setup.pipeline ?? EMPTY_PIPELINE);

async function loadEngine(): Promise<PipelineEngine> {
  const loaded = await PipelineEngine.load({
    maxDecompressedBytes: setup.maxDecompressedBytes,
    maxLabelsPerSeries: setup.maxLabelsPerSeries,
  });
  loaded.use(compiled);
  return loaded;
}

let engine = await loadEngine();
// Aggregation rules with `keep_input: false`: their series leave the forwarded payload.
// Aggregation rules are those of the start (the aggregation thread keeps them), so a hot
// reload does not change what is dropped here.
const inputDropper = await InputDropper.create(setup.pipeline, {
  maxDecompressedBytes: setup.maxDecompressedBytes,
  maxLabelsPerSeries: setup.maxLabelsPerSeries,
});
// Hot reload: a new pipeline is compiled beside the running one, and the engine switches
// to it when the update is handled, which is always between two tasks of this thread.
const pipelineUpdates = new WorkerPipelineUpdates(setup.pipelineChannel, (pipeline) => {
  const next = compilePipeline(pipeline ?? EMPTY_PIPELINE);
  engine.use(next);
  compiled = next;
});
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
  const catchingUp = pipelineUpdates.reach(task.pipelineGeneration ?? 0);
  if (catchingUp !== undefined) await catchingUp;
  return processBody(task);
}

async function processBody(task: ProcessTask): Promise<ProcessResponse> {
  try {
    const format = task.format ?? 'rw1';
    if (format !== 'rw1') return await convertAndProcess(task, format);
    const result = engine.processRemoteWrite(task.body);
    const payload = result.unchanged ? task.body : result.output;
    const response: ProcessResponse = {
      ok: true,
      unchanged: result.unchanged,
      payload,
      stats: result.stats,
      ruleHits: result.ruleHits,
    };
    const dropped = withInputDropped(inputDropper, response);
    // piscina transfers what a movable's transferable list names, and posts its value.
    return move({
      [transferableSymbol]: dropped.transfer,
      [valueSymbol]: dropped.response,
    }) as unknown as ProcessResponse;
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
  const { payload, result, outcome } = processConverted(
    engine,
    converter,
    format,
    task.body,
    encoding,
  );
  const response: ProcessResponse = {
    ok: true,
    unchanged: false,
    payload,
    stats: result.stats,
    ruleHits: result.ruleHits,
    conversion: outcome,
  };
  const dropped = withInputDropped(inputDropper, response);
  return move({
    [transferableSymbol]: dropped.transfer,
    [valueSymbol]: dropped.response,
  }) as unknown as ProcessResponse;
}
