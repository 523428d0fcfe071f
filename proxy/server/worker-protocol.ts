/**
 * Messages between the ingest thread and the pipeline workers, side by side. Everything
 * here crosses a thread boundary by structured clone, so it holds plain data only; byte
 * buffers are transferred, never copied.
 */
import type { ShardTask } from '../delivery/shard-task.js';
import type { PipelineConfig } from '../pipeline/config.js';
import type { PipelineErrorCode, PipelineStats } from '../pipeline/contracts.js';
import type { BodyEncoding, ConversionOutcome, IngestFormat } from '../wire/ingest-format.js';

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
  /** See `ProxyOptions.otlpKeepNames`; default false. */
  readonly otlpKeepNames?: boolean;
  /**
   * Name of the `BroadcastChannel` that carries pipeline updates (hot reload) between the
   * ingest thread and every worker; see {@link PipelineChannelMessage}.
   */
  readonly pipelineChannel: string;
  /**
   * Cardinality tracking in the worker's engine: the `BroadcastChannel` the ingest thread
   * collects trackers on (`proxy/cardinality/cardinality-channel.ts`), the metric cap per
   * tracker and the window length in ms. Omitted: no tracking.
   */
  readonly cardinality?: {
    readonly channel: string;
    readonly maxMetrics: number;
    readonly windowMs: number;
  };
}

/** Run one remote-write body through the pipeline. */
export interface ProcessTask {
  readonly kind: 'process';
  /** The request body as received (snappy-compressed). Its buffer is transferred. */
  readonly body: Uint8Array<ArrayBuffer>;
  /** The body's wire format; other formats are converted to 1.0 first. Default `rw1`. */
  readonly format?: IngestFormat | undefined;
  /** How a non-1.0 body is compressed. Default: snappy for remote write, none for OTLP. */
  readonly encoding?: BodyEncoding | undefined;
  /**
   * The pipeline generation every worker had acknowledged when the task was sent; a worker
   * still on an older one (started after the update) catches up before running the task.
   */
  readonly pipelineGeneration?: number;
}

/** Answered once the worker's engine is loaded: used to tell when the pool is ready. */
export interface PingTask {
  readonly kind: 'ping';
}

/**
 * An aggregation flush of an experiment arm (snappy remote write 1.0), to be counted in
 * the arm's output sketch. Any worker running the experiment may take it.
 */
export interface MeterTask {
  readonly kind: 'meter';
  readonly experiment: string;
  readonly arm: 'baseline' | 'candidate';
  /** Transferred. */
  readonly payload: Uint8Array;
}

/** `ShardTask` (`--shard-by-series`) is defined beside the sharder it runs. */
export type WorkerTask = ProcessTask | PingTask | ShardTask | MeterTask;

/**
 * An experiment the workers run beside the pipeline: the candidate pipeline processes the
 * same request (shadow) or its share of the series (split, by a stable hash of the labels;
 * the baseline then keeps the rest).
 */
export interface WorkerExperiment {
  readonly name: string;
  readonly mode: 'shadow' | 'split';
  /** Split mode: the candidate's share of series, (0, 1]. */
  readonly fraction: number;
  readonly candidate: PipelineConfig;
}

/** What one experiment arm made of a request. */
export interface ArmOutput {
  readonly unchanged: boolean;
  /** Snappy remote write 1.0 the arm sends on (aggregated input removed). Transferred. */
  readonly payload: Uint8Array;
  readonly stats: PipelineStats;
  readonly ruleHits: Uint32Array;
  /** The arm's whole relabeled output when aggregated input was removed. Transferred. */
  readonly aggregationInput?: Uint8Array;
  /** Time the arm's engines spent on the request, ns. */
  readonly pipelineNs: number;
}

/**
 * Serialized series sketches (cardinality trackers, see proxy/cardinality) of both arms as
 * one worker measured them since the experiment started there.
 */
export interface ArmSketchSet {
  readonly experiment: string;
  /** The worker thread that measured them. */
  readonly threadId: number;
  readonly baselineInput: Uint8Array;
  readonly baselineOutput: Uint8Array;
  readonly candidateInput: Uint8Array;
  readonly candidateOutput: Uint8Array;
}

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
  /** For a body converted from another format: what the sender's answer reports. */
  readonly conversion?: ConversionOutcome;
  /**
   * OTLP delta points, left out of `payload`: uncompressed 1.0 series of deltas for the
   * proxy's one delta accumulator (proxy/otlp/delta-accumulation.ts). Transferred.
   */
  readonly deltaSeries?: Uint8Array;
  /**
   * The pipeline's whole output when aggregation rules with `keep_input: false` removed
   * their series from `payload`: what the aggregation consumes. Transferred.
   */
  readonly aggregationInput?: Uint8Array;
  /** Time the pipeline's engines spent on the request, ns. */
  readonly pipelineNs?: number;
  /** The experiment the worker ran beside the pipeline, if any. */
  readonly experiment?: string;
  /** The candidate arm's output, when an experiment runs. */
  readonly candidate?: ArmOutput;
  /** This worker's arm sketches, now and then while an experiment runs. Transferred. */
  readonly armSketches?: ArmSketchSet;
  /**
   * Set on the ingest thread in a split experiment: the candidate arm's output, which goes
   * to the upstreams with `payload` before the sender gets its answer.
   */
  readonly alsoForward?: Uint8Array;
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

/**
 * A new pipeline for every worker, broadcast by the ingest thread. Generations count up
 * from 0 (the pipeline of `WorkerSetup`); a worker ignores one it has already handled.
 */
export interface PipelineUpdateMessage {
  readonly kind: 'pipeline';
  readonly generation: number;
  /** Compiled by each worker itself; `undefined` is the empty pipeline. */
  readonly pipeline: PipelineConfig | undefined;
  /** The experiment to run beside it; absent when none runs. */
  readonly experiment?: WorkerExperiment;
}

/** A worker switched to a generation, or (with `error`) kept its pipeline. */
export interface PipelineAppliedMessage {
  readonly kind: 'pipeline-applied';
  readonly threadId: number;
  readonly generation: number;
  readonly error?: string;
}

/** A worker asks for the newest update: it is at `generation` and may have missed some. */
export interface PipelineWantedMessage {
  readonly kind: 'pipeline-wanted';
  readonly threadId: number;
  readonly generation: number;
}

export type PipelineChannelMessage =
  | PipelineUpdateMessage
  | PipelineAppliedMessage
  | PipelineWantedMessage;
