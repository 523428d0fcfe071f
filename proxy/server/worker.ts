/**
 * Entry of a pipeline worker thread (piscina). One WebAssembly engine per thread, created
 * when the thread starts and reused for every request; only an unexpected failure (not a
 * bad request) makes the worker build a fresh one.
 */
import { threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { compilePipeline } from '../pipeline/compile.js';
import type { PipelineConfig } from '../pipeline/config.js';
import type { CompiledPipeline } from '../pipeline/contracts.js';
import { PipelineEngine, PipelineError } from '../pipeline/engine.js';
import type {
  PingResponse,
  ProcessResponse,
  ProcessTask,
  WorkerSetup,
  WorkerTask,
} from './worker-protocol.js';

const setup = workerData as WorkerSetup;
const EMPTY_PIPELINE: PipelineConfig = { relabelConfigs: [] };
const compiled: CompiledPipeline = compilePipeline(setup.pipeline ?? EMPTY_PIPELINE);

async function loadEngine(): Promise<PipelineEngine> {
  const loaded = await PipelineEngine.load({
    maxDecompressedBytes: setup.maxDecompressedBytes,
    maxLabelsPerSeries: setup.maxLabelsPerSeries,
  });
  loaded.use(compiled);
  return loaded;
}

let engine = await loadEngine();

/** piscina calls this for every task; it never throws, so a bad request cannot crash it. */
export default async function runTask(task: WorkerTask): Promise<ProcessResponse | PingResponse> {
  if (task.kind === 'ping') {
    return { ok: true, kind: 'pong', threadId };
  }
  return processBody(task);
}

async function processBody(task: ProcessTask): Promise<ProcessResponse> {
  try {
    const result = engine.processRemoteWrite(task.body);
    const payload = result.unchanged ? task.body : result.output;
    const response: ProcessResponse = {
      ok: true,
      unchanged: result.unchanged,
      payload,
      stats: result.stats,
      ruleHits: result.ruleHits,
    };
    // piscina transfers what a movable's transferable list names, and posts its value.
    return move({
      [transferableSymbol]: [payload.buffer],
      [valueSymbol]: response,
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
