/**
 * The host side of the WebAssembly hot path (`wasm/ABI.md`): loads the module, feeds it
 * rule programs and request bodies, answers its `host.evaluate` calls and turns its status
 * codes into {@link PipelineError}s. One engine owns one instance; a worker keeps one engine
 * for its whole life.
 */

import { readFile } from 'node:fs/promises';
import type {
  CompiledPipeline,
  PipelineErrorCode,
  PipelineStats,
  ProcessResult,
} from './contracts.js';
import * as abi from './wasm-abi.js';
import { defaultWasmPath, type WasmModule, wasmApi } from './wasm-module.js';

/** Options of {@link PipelineEngine.load}. */
export interface EngineOptions {
  /**
   * Path of the compiled module. Default: `dist/wasm/phoenix.wasm` of this checkout, found
   * from this file's location both in the sources and in the `dist/` build.
   */
  wasmPath?: string;
  /** Largest uncompressed request body in bytes. Default 256 MiB; at most 1 GiB. */
  maxDecompressedBytes?: number;
  /** Most labels a series may carry before the request is refused. Default 512. */
  maxLabelsPerSeries?: number;
}

const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;
const MAX_DECOMPRESSED_BYTES_LIMIT = 1024 * 1024 * 1024;
const DEFAULT_MAX_LABELS_PER_SERIES = 512;
const MAX_U32 = 0xffff_ffff;

/** Why a request or a program was refused; `code` maps to an HTTP answer in the proxy. */
export class PipelineError extends Error {
  readonly code: PipelineErrorCode;

  constructor(code: PipelineErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PipelineError';
    this.code = code;
  }
}

/** The module's exports, as described in `wasm/ABI.md`. */
interface ModuleExports {
  memory: { readonly buffer: ArrayBuffer };
  inputBuffer(len: number): number;
  programBuffer(len: number): number;
  loadProgram(len: number): number;
  setLimits(maxDecompressedBytes: number, maxLabelsPerSeries: number): void;
  processRemoteWrite(len: number, flags: number): number;
  outputPtr(): number;
  outputLen(): number;
  forwardSeparate(): number;
  forwardOutputPtr(): number;
  forwardOutputLen(): number;
  setForwardRulesFrom(index: number): void;
  statsPtr(): number;
  ruleHitsPtr(): number;
  errorSeries(): number;
  errorLabelPtr(): number;
  errorLabelLen(): number;
  errorPreviousLabelPtr(): number;
  errorPreviousLabelLen(): number;
  hostOutPtr(): number;
  hostOutCapacity(): number;
  cardinalityConfigure(maxMetrics: number): number;
  cardinalityReset(view: number): void;
  cardinalitySerialize(view: number): number;
  cardinalitySerializedPtr(): number;
  setSeriesSplit(mode: number, threshold: number): number;
}

/**
 * Which share of series an engine keeps in a split experiment: the candidate keeps the
 * series whose label hash falls below `fraction` of the hash range, the baseline the rest.
 */
export interface SeriesSplit {
  readonly keep: 'candidate' | 'baseline';
  /** Share of series for the candidate, (0, 1]. */
  readonly fraction: number;
}

const SPLIT_MODE = { off: 0, candidate: 1, baseline: 2 } as const;

/** Tracker views of the module's cardinality exports (`wasm/ABI.md`). */
export const CARDINALITY_VIEW_INPUT = 0;
export const CARDINALITY_VIEW_OUTPUT = 1;

interface ResolvedOptions {
  wasmPath: string;
  maxDecompressedBytes: number;
  maxLabelsPerSeries: number;
}

function checkLimit(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} ${value} must be an integer >= 1`);
  }
  if (value > max) throw new RangeError(`${name} ${value} must be <= ${max}`);
  return value;
}

/** Applies defaults and checks ranges of {@link EngineOptions}. */
export function resolveEngineOptions(options: EngineOptions = {}): ResolvedOptions {
  return {
    wasmPath: options.wasmPath ?? defaultWasmPath(),
    maxDecompressedBytes: checkLimit(
      'maxDecompressedBytes',
      options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      MAX_DECOMPRESSED_BYTES_LIMIT,
    ),
    maxLabelsPerSeries: checkLimit(
      'maxLabelsPerSeries',
      options.maxLabelsPerSeries ?? DEFAULT_MAX_LABELS_PER_SERIES,
      MAX_U32,
    ),
  };
}

/** Compiled modules by path: compiling is the slow part, instantiating is cheap. */
const compiledModules = new Map<string, Promise<WasmModule>>();

function compileModule(wasmPath: string): Promise<WasmModule> {
  let compiled = compiledModules.get(wasmPath);
  if (compiled === undefined) {
    compiled = readFile(wasmPath).then((bytes) => wasmApi.compile(bytes));
    compiled.catch(() => compiledModules.delete(wasmPath));
    compiledModules.set(wasmPath, compiled);
  }
  return compiled;
}

function statsFrom(slots: Float64Array): PipelineStats {
  const at = (slot: number): number => slots[slot] ?? 0;
  return {
    seriesIn: at(abi.STAT_SERIES_IN),
    seriesOut: at(abi.STAT_SERIES_OUT),
    samplesIn: at(abi.STAT_SAMPLES_IN),
    samplesOut: at(abi.STAT_SAMPLES_OUT),
    exemplarsIn: at(abi.STAT_EXEMPLARS_IN),
    exemplarsOut: at(abi.STAT_EXEMPLARS_OUT),
    histogramsIn: at(abi.STAT_HISTOGRAMS_IN),
    histogramsOut: at(abi.STAT_HISTOGRAMS_OUT),
    metadataIn: at(abi.STAT_METADATA_IN),
    metadataOut: at(abi.STAT_METADATA_OUT),
    seriesDropped: at(abi.STAT_SERIES_DROPPED),
    seriesCollisions: at(abi.STAT_SERIES_COLLISIONS),
    bytesDecoded: at(abi.STAT_BYTES_DECODED),
    bytesEncoded: at(abi.STAT_BYTES_ENCODED),
    hostEvals: at(abi.STAT_HOST_EVALS),
    internResets: at(abi.STAT_INTERN_RESETS),
  };
}

/** Runs compiled pipelines over remote-write bodies inside one WebAssembly instance. */
export class PipelineEngine {
  readonly #module: WasmModule;
  readonly #options: ResolvedOptions;
  readonly #decoder = new TextDecoder();
  readonly #encoder = new TextEncoder();
  #exports!: ModuleExports;
  #hostOutPtr = 0;
  #hostOutCapacity = 0;
  #pipeline: CompiledPipeline | undefined;
  /** Why the last host.evaluate call failed; read when the module reports ERR_HOST. */
  #hostFailure: unknown;
  /** Metric cap of cardinality tracking once turned on; survives a fresh instance. */
  #cardinalityMaxMetrics: number | undefined;
  #split: SeriesSplit | undefined;

  private constructor(module: WasmModule, options: ResolvedOptions) {
    this.#module = module;
    this.#options = options;
    this.#instantiate();
  }

  /** Compiles the module (once per process and path) and creates an instance for this engine. */
  static async load(options?: EngineOptions): Promise<PipelineEngine> {
    const resolved = resolveEngineOptions(options);
    const module = await compileModule(resolved.wasmPath);
    return new PipelineEngine(module, resolved);
  }

  /** The pipeline in use, if any. */
  get pipeline(): CompiledPipeline | undefined {
    return this.#pipeline;
  }

  #instantiate(): void {
    const imports = {
      env: {
        abort: (_message: number, _file: number, line: number, column: number): never => {
          throw new Error(`WebAssembly module aborted at ${line}:${column}`);
        },
      },
      host: {
        evaluate: (op: number, rule: number, ptr: number, len: number): number =>
          this.#evaluate(op, rule, ptr, len),
      },
    };
    const instance = new wasmApi.Instance(this.#module, imports);
    this.#exports = instance.exports as unknown as ModuleExports;
    this.#exports.setLimits(this.#options.maxDecompressedBytes, this.#options.maxLabelsPerSeries);
    this.#hostOutPtr = this.#exports.hostOutPtr();
    this.#hostOutCapacity = this.#exports.hostOutCapacity();
    if (this.#cardinalityMaxMetrics !== undefined) {
      this.#exports.cardinalityConfigure(this.#cardinalityMaxMetrics);
    }
    this.#applySplit();
  }

  /**
   * Keeps only one arm's share of the series of every request (see {@link SeriesSplit}),
   * or all of them with `undefined`. Survives a re-instantiation after a trap.
   */
  split(split: SeriesSplit | undefined): void {
    if (split !== undefined && !(split.fraction > 0 && split.fraction <= 1)) {
      throw new RangeError(`split fraction ${split.fraction} is not in (0, 1]`);
    }
    this.#split = split;
    this.#applySplit();
  }

  #applySplit(): void {
    const split = this.#split;
    // The threshold is the fraction of the u32 hash range; 1 keeps every series (2^32 - 1
    // would leave out the one hash value at the top).
    const threshold =
      split === undefined ? 0 : Math.min(0xffffffff, Math.floor(split.fraction * 2 ** 32));
    const mode =
      split === undefined
        ? SPLIT_MODE.off
        : split.fraction >= 1
          ? split.keep === 'candidate'
            ? SPLIT_MODE.off
            : SPLIT_MODE.candidate
          : SPLIT_MODE[split.keep];
    // With everything to the candidate, the baseline keeps nothing: "below 0".
    this.#exports.setSeriesSplit(mode, split !== undefined && split.fraction >= 1 ? 0 : threshold);
  }

  /**
   * Turns on cardinality tracking (`docs/cardinality.md`): from now on every request also
   * feeds the input and output trackers, with room for `maxMetrics` metric names each
   * before the "other" bucket takes the rest. Throws a RangeError for a cap the module
   * refuses (0, above 100 000, or more memory than it can have).
   */
  configureCardinality(maxMetrics: number): void {
    if (this.#exports.cardinalityConfigure(maxMetrics) !== abi.STATUS_OK) {
      throw new RangeError(`cardinalityMaxMetrics ${maxMetrics} must be in [1, 100000]`);
    }
    this.#cardinalityMaxMetrics = maxMetrics;
  }

  /** The serialized tracker of `view` (a copy); empty when tracking is off. */
  cardinalitySnapshot(view: number): Uint8Array {
    const length = this.#exports.cardinalitySerialize(view);
    if (length === 0) return new Uint8Array(0);
    const ptr = this.#exports.cardinalitySerializedPtr();
    return new Uint8Array(this.#exports.memory.buffer, ptr, length).slice();
  }

  /** Empties the tracker of `view`: a new window starts. */
  resetCardinality(view: number): void {
    this.#exports.cardinalityReset(view);
  }

  /** Replaces a trapped instance so the engine keeps working, then reports the trap. */
  #recover(cause: unknown, during: string): PipelineError {
    this.#instantiate();
    if (this.#pipeline !== undefined) {
      try {
        if (this.#loadProgram(this.#pipeline) !== abi.STATUS_OK) this.#pipeline = undefined;
      } catch {
        // The fresh instance refused the program too: requests fail with "no pipeline
        // loaded" until the next use().
        this.#instantiate();
        this.#pipeline = undefined;
      }
    }
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new PipelineError('program', `WebAssembly module failed during ${during}: ${reason}`, {
      cause,
    });
  }

  #evaluate(op: number, rule: number, ptr: number, len: number): number {
    const pipeline = this.#pipeline;
    if (pipeline === undefined) {
      this.#hostFailure = new Error('host.evaluate called without a pipeline');
      return -2;
    }
    try {
      const buffer = this.#exports.memory.buffer;
      const input = this.#decoder.decode(new Uint8Array(buffer, ptr, len));
      const result = pipeline.evaluate(op, rule, input);
      if (result === null) return -1;
      const out = new Uint8Array(buffer, this.#hostOutPtr, this.#hostOutCapacity);
      const { read, written } = this.#encoder.encodeInto(result, out);
      if (read < result.length) {
        this.#hostFailure = new Error(
          `rule ${rule}: result of operation ${op} is longer than ${this.#hostOutCapacity} bytes`,
        );
        return -2;
      }
      return written;
    } catch (error) {
      this.#hostFailure = error;
      return -2;
    }
  }

  #loadProgram(pipeline: CompiledPipeline): number {
    const program = pipeline.program;
    const ptr = this.#exports.programBuffer(program.length);
    if (ptr === 0) return abi.ERR_PROGRAM;
    new Uint8Array(this.#exports.memory.buffer, ptr, program.length).set(program);
    const status = this.#exports.loadProgram(program.length);
    if (status === abi.STATUS_OK && (pipeline.forwardRuleCount ?? 0) > 0) {
      this.#exports.setForwardRulesFrom(pipeline.ruleCount);
    }
    return status;
  }

  /**
   * Makes `pipeline` the active one. The switch happens between two requests; when the
   * module refuses the program, the previous pipeline stays active.
   */
  use(pipeline: CompiledPipeline): void {
    let status: number;
    try {
      status = this.#loadProgram(pipeline);
    } catch (error) {
      throw this.#recover(error, 'loadProgram');
    }
    if (status !== abi.STATUS_OK) {
      throw new PipelineError('program', `rule program rejected by the module (status ${status})`);
    }
    this.#pipeline = pipeline;
  }

  /**
   * Runs the active pipeline over one remote-write 1.0 body. `snappyIn`/`snappyOut` (both
   * default true) say whether the body is and the output should be snappy block-compressed.
   * Throws {@link PipelineError} for bad input or a failing host function.
   */
  processRemoteWrite(
    body: Uint8Array,
    options?: { snappyIn?: boolean; snappyOut?: boolean },
  ): ProcessResult {
    const flags =
      (options?.snappyIn === false ? 0 : abi.FLAG_SNAPPY_IN) |
      (options?.snappyOut === false ? 0 : abi.FLAG_SNAPPY_OUT);
    if (body.length > MAX_U32) {
      throw new PipelineError('too_large', `body of ${body.length} bytes exceeds 4 GiB`);
    }
    if (!(flags & abi.FLAG_SNAPPY_IN) && body.length > this.#options.maxDecompressedBytes) {
      throw this.#errorFor(abi.ERR_TOO_LARGE);
    }
    const exports = this.#exports;
    let status: number;
    try {
      const ptr = exports.inputBuffer(body.length);
      if (ptr === 0) throw this.#errorFor(abi.ERR_TOO_LARGE);
      new Uint8Array(exports.memory.buffer, ptr, body.length).set(body);
      this.#hostFailure = undefined;
      status = exports.processRemoteWrite(body.length, flags);
    } catch (error) {
      if (error instanceof PipelineError) throw error;
      throw this.#recover(error, 'processRemoteWrite');
    }
    if (status < 0) throw this.#errorFor(status);
    const buffer = exports.memory.buffer;
    const stats = statsFrom(new Float64Array(buffer, exports.statsPtr(), abi.STATS_COUNT));
    const ruleCount = this.#pipeline?.ruleCount ?? 0;
    const ruleHits = new Uint32Array(buffer, exports.ruleHitsPtr(), ruleCount).slice();
    const forward =
      exports.forwardSeparate() === 0
        ? {}
        : {
            forward: new Uint8Array(
              buffer,
              exports.forwardOutputPtr(),
              exports.forwardOutputLen(),
            ).slice(),
          };
    if (status === abi.STATUS_UNCHANGED) {
      // A fresh empty array: a shared one would be detached by the first caller that transfers it.
      return { unchanged: true, output: new Uint8Array(0), stats, ruleHits, ...forward };
    }
    const output = new Uint8Array(buffer, exports.outputPtr(), exports.outputLen()).slice();
    return { unchanged: false, output, stats, ruleHits, ...forward };
  }

  #string(ptr: number, len: number): string {
    return this.#decoder.decode(new Uint8Array(this.#exports.memory.buffer, ptr, len));
  }

  #errorFor(status: number): PipelineError {
    const exports = this.#exports;
    const series = `series ${exports.errorSeries()}`;
    const label = (): string =>
      JSON.stringify(this.#string(exports.errorLabelPtr(), exports.errorLabelLen()));
    const previous = (): string =>
      JSON.stringify(
        this.#string(exports.errorPreviousLabelPtr(), exports.errorPreviousLabelLen()),
      );
    switch (status) {
      case abi.ERR_SNAPPY:
        return new PipelineError('snappy', 'corrupt snappy block');
      case abi.ERR_TOO_LARGE:
        return new PipelineError(
          'too_large',
          `decompressed body exceeds ${this.#options.maxDecompressedBytes} bytes`,
        );
      case abi.ERR_PROTOBUF:
        return new PipelineError('protobuf', 'truncated or malformed protobuf WriteRequest');
      case abi.ERR_LABELS_UNSORTED:
        return new PipelineError(
          'invalid_labels',
          `${series}: label names not in ascending order (${label()} after ${previous()})`,
        );
      case abi.ERR_LABEL_DUPLICATE:
        return new PipelineError('invalid_labels', `${series}: duplicate label name ${label()}`);
      case abi.ERR_LABEL_NAME_EMPTY:
        return new PipelineError('invalid_labels', `${series}: empty label name`);
      case abi.ERR_LABEL_NAME_INVALID:
        return new PipelineError('invalid_labels', `${series}: invalid label name ${label()}`);
      case abi.ERR_TOO_MANY_LABELS:
        return new PipelineError(
          'invalid_labels',
          `${series}: more than ${this.#options.maxLabelsPerSeries} labels`,
        );
      case abi.ERR_HOST: {
        const cause = this.#hostFailure;
        const reason =
          cause === undefined
            ? 'malformed answer'
            : cause instanceof Error
              ? cause.message
              : String(cause);
        return new PipelineError('host', `host.evaluate failed: ${reason}`, { cause });
      }
      case abi.ERR_PROGRAM:
        return new PipelineError(
          'program',
          this.#pipeline === undefined ? 'no pipeline loaded' : 'rule program rejected',
        );
      default:
        return new PipelineError('program', `unknown status ${status} from the module`);
    }
  }
}
