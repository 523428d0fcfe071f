/**
 * Messages between the ingest thread and the pipeline workers, side by side. Everything
 * here crosses a thread boundary by structured clone, so it holds plain data only; byte
 * buffers are transferred, never copied.
 */
import type { PipelineConfig } from '../pipeline/config.js';
import type { PipelineErrorCode, PipelineStats } from '../pipeline/contracts.js';

/** Given to every worker once, as piscina `workerData`. */
export interface WorkerSetup {
  /**
   * The pipeline as parsed from its file; each worker compiles it itself because compiled
   * regular expressions cannot cross threads. `undefined` runs the empty pipeline.
   */
  readonly pipeline: PipelineConfig | undefined;
  /** See `ProxyOptions.maxDecompressedBytes`. */
  readonly maxDecompressedBytes: number;
  /** See `ProxyOptions.maxLabelsPerSeries`. */
  readonly maxLabelsPerSeries: number;
}

/** Run one remote-write body through the pipeline. */
export interface ProcessTask {
  readonly kind: 'process';
  /** The request body as received (snappy-compressed). Its buffer is transferred. */
  readonly body: Uint8Array<ArrayBuffer>;
}

/** Answered once the worker's engine is loaded: used to tell when the pool is ready. */
export interface PingTask {
  readonly kind: 'ping';
}

export type WorkerTask = ProcessTask | PingTask;

/** The pipeline accepted the request. */
export interface ProcessSuccess {
  readonly ok: true;
  /**
   * True when no rule changed anything; `payload` then is the original body, handed back
   * (transferred) so the ingest thread can forward it without a copy.
   */
  readonly unchanged: boolean;
  /** The snappy-compressed bytes to forward upstream. Transferred. */
  readonly payload: Uint8Array;
  readonly stats: PipelineStats;
  /** Series each rule changed or dropped, indexed like the pipeline's rules. */
  readonly ruleHits: Uint32Array;
}

/**
 * Why a worker could not process the request: a {@link PipelineErrorCode} from the engine,
 * or `internal` for anything unexpected (the worker then reloads its engine).
 */
export type WorkerFailureCode = PipelineErrorCode | 'internal';

/** The pipeline refused the request, or failed on it. The worker stays usable. */
export interface ProcessFailure {
  readonly ok: false;
  readonly code: WorkerFailureCode;
  /** Says what was wrong precisely enough for the sender's operator to find it. */
  readonly message: string;
}

export type ProcessResponse = ProcessSuccess | ProcessFailure;

/** Answer to a {@link PingTask}. */
export interface PingResponse {
  readonly ok: true;
  readonly kind: 'pong';
  /** Worker thread id, so a caller can tell workers apart. */
  readonly threadId: number;
}
