/**
 * The host side of the module's stream-aggregation exports (wasm/ABI.md, "Stream
 * aggregation"): one instance that holds the aggregation state of the whole proxy, fed
 * with the relabeled requests, flushed per rule, snapshotted and restored.
 */
import { readFile } from 'node:fs/promises';
import { AGGREGATION_OUTPUT_KINDS, type AggregationRule } from '../pipeline/aggregation-config.js';
import * as abi from '../pipeline/wasm-abi.js';
import { defaultWasmPath, type WasmModule, wasmApi } from '../pipeline/wasm-module.js';

import { decodeSeriesLabels, TIER_RULE_LABEL, writeClassification } from './classify.js';
import { RuleRelabelers } from './rule-relabel.js';

/** Counters of the aggregation state; totals since the engine was configured. */
export interface AggregationStats {
  /** Samples that went into the state. */
  samples: number;
  /** Samples older than the window before the open one: counted and dropped. */
  late: number;
  /**
   * Samples not newer than the last accepted one of their series, or superseded by another
   * sample of their dedup interval: counted and dropped.
   */
  duplicate: number;
  /** NaN samples (other than stale markers): counted and dropped. */
  nan: number;
  /** Prometheus stale markers: counted and ignored. */
  staleMarkers: number;
  /** (input series, rule) pairs tracked now. */
  seriesTracked: number;
  /** Output groups alive now. */
  groups: number;
  /** Bytes of the state tables, slab and label arena. */
  stateBytes: number;
  /** Input series forgotten after their staleness interval. */
  seriesExpired: number;
  /** Input series classified by the host (first sight, or after expiry). */
  classifyCalls: number;
}

interface AggregationExports {
  memory: { readonly buffer: ArrayBuffer };
  inputBuffer(len: number): number;
  hostOutPtr(): number;
  hostOutCapacity(): number;
  aggregateConfigure(count: number): number;
  aggregateSetRule(
    rule: number,
    intervalMs: number,
    stalenessWindows: number,
    outputs: number,
    windowStartMs: number,
  ): number;
  aggregateSetRuleQuantile(rule: number, index: number, phi: number): number;
  aggregateSetRuleDedup(rule: number, dedupMs: number): number;
  aggregateRemoteWrite(len: number, flags: number, maxDecompressedBytes: number): number;
  aggregateFlush(rule: number, nowMs: number, flags: number): number;
  aggregateOutputPtr(): number;
  aggregateOutputLen(): number;
  aggregateStatsPtr(): number;
  aggregateWindowStart(rule: number): number;
  aggregateSnapshot(): number;
  aggregateSnapshotPtr(): number;
  aggregateRestore(len: number): number;
  aggregateHandoffExport(): number;
  aggregateHandoffPtr(): number;
  aggregateHandoffRemove(len: number): number;
  aggregateHandoffMerge(len: number): number;
}

/** Options of {@link AggregationEngine.load}. */
export interface AggregationEngineOptions {
  readonly rules: readonly AggregationRule[];
  /** Start of the first window of every rule, ms since the epoch. */
  readonly windowStartMs: number;
  /** Path of the compiled module; default `dist/wasm/phoenix.wasm` of this checkout. */
  readonly wasmPath?: string;
  /** Largest decompressed request accepted, bytes. Default 256 MiB. */
  readonly maxDecompressedBytes?: number;
}

/**
 * The output mask of a rule: bit `1 << kind` per output, the kind being the output's index
 * in {@link AGGREGATION_OUTPUT_KINDS} (the module's `OUT_*` order).
 */
export function outputMask(rule: AggregationRule): number {
  return rule.outputs.reduce((mask, output) => {
    const kind = AGGREGATION_OUTPUT_KINDS.indexOf(output);
    return kind < 0 ? mask : mask | (1 << kind);
  }, 0);
}

/** Aggregation state in one WebAssembly instance. Not thread-safe: one owner. */
export class AggregationEngine {
  readonly rules: readonly AggregationRule[];
  readonly #exports: AggregationExports;
  readonly #maxDecompressedBytes: number;
  readonly #relabelers: RuleRelabelers;
  #hostFailure: unknown;

  private constructor(
    module: WasmModule,
    relabelers: RuleRelabelers,
    options: AggregationEngineOptions,
  ) {
    this.rules = options.rules;
    this.#relabelers = relabelers;
    this.#maxDecompressedBytes = options.maxDecompressedBytes ?? 256 * 1024 * 1024;
    const imports = {
      env: {
        abort: (_message: number, _file: number, line: number, column: number): never => {
          throw new Error(`WebAssembly module aborted at ${line}:${column}`);
        },
      },
      host: {
        evaluate: (op: number, _rule: number, ptr: number, len: number): number =>
          this.#evaluate(op, ptr, len),
      },
    };
    const instance = new wasmApi.Instance(module, imports);
    this.#exports = instance.exports as unknown as AggregationExports;
    if (this.#exports.aggregateConfigure(options.rules.length) !== abi.STATUS_OK) {
      throw new RangeError(`at most 64 aggregation rules, got ${options.rules.length}`);
    }
    options.rules.forEach((rule, index) => {
      const stalenessWindows = Math.ceil(rule.stalenessIntervalMs / rule.intervalMs);
      this.#exports.aggregateSetRule(
        index,
        rule.intervalMs,
        stalenessWindows,
        outputMask(rule),
        options.windowStartMs,
      );
      (rule.quantiles ?? []).forEach((phi, phiIndex) => {
        if (this.#exports.aggregateSetRuleQuantile(index, phiIndex, phi) !== abi.STATUS_OK) {
          throw new RangeError(`aggregations[${index}]: quantile ${phi} refused by the module`);
        }
      });
      this.#exports.aggregateSetRuleDedup(index, rule.dedupIntervalMs ?? 0);
    });
  }

  static async load(options: AggregationEngineOptions): Promise<AggregationEngine> {
    const bytes = await readFile(options.wasmPath ?? defaultWasmPath());
    const module = await wasmApi.compile(bytes);
    const relabelers = await RuleRelabelers.load(options.rules, options.wasmPath);
    return new AggregationEngine(module, relabelers, options);
  }

  #evaluate(op: number, ptr: number, len: number): number {
    if (op !== abi.OP_CLASSIFY) {
      this.#hostFailure = new Error(`unexpected host operation ${op} during aggregation`);
      return -2;
    }
    try {
      const buffer = this.#exports.memory.buffer;
      const labels = decodeSeriesLabels(new Uint8Array(buffer, ptr, len));
      const out = new Uint8Array(
        buffer,
        this.#exports.hostOutPtr(),
        this.#exports.hostOutCapacity(),
      );
      // A gateway of the two-tier layout names the one rule a copy of a series is for.
      const tierRule = labels.get(TIER_RULE_LABEL);
      labels.delete(TIER_RULE_LABEL);
      return writeClassification(
        this.rules,
        labels,
        out,
        (rule, series) => this.#relabelers.relabelInput(rule, series),
        tierRule === undefined ? undefined : Number(tierRule),
      );
    } catch (error) {
      this.#hostFailure = error;
      return -2;
    }
  }

  #copyIn(bytes: Uint8Array): void {
    const ptr = this.#exports.inputBuffer(bytes.length);
    new Uint8Array(this.#exports.memory.buffer, ptr, bytes.length).set(bytes);
  }

  /**
   * Feeds one remote-write request (snappy-compressed unless `compressed` is false) to
   * the state. Throws on a malformed body; the state keeps what came before it.
   */
  ingest(body: Uint8Array, compressed = true): void {
    this.#copyIn(body);
    const flags = compressed ? abi.FLAG_SNAPPY_IN : 0;
    const status = this.#exports.aggregateRemoteWrite(
      body.length,
      flags,
      this.#maxDecompressedBytes,
    );
    if (status < 0) {
      const cause = this.#hostFailure;
      this.#hostFailure = undefined;
      const reason = cause instanceof Error ? `: ${cause.message}` : '';
      throw new Error(`aggregation refused the request (status ${status})${reason}`, { cause });
    }
  }

  /**
   * Closes the open window of rule `rule` at `nowMs` and returns the WriteRequest of its
   * outputs after the rule's output relabeling (snappy-compressed unless `compress` is
   * false; empty when nothing to write).
   */
  flush(rule: number, nowMs: number, compress = true): Uint8Array {
    const status = this.#exports.aggregateFlush(rule, nowMs, compress ? abi.FLAG_SNAPPY_OUT : 0);
    if (status < 0) throw new Error(`aggregation flush of rule ${rule} failed (status ${status})`);
    const len = this.#exports.aggregateOutputLen();
    if (len === 0) return new Uint8Array(0);
    const output = new Uint8Array(
      this.#exports.memory.buffer,
      this.#exports.aggregateOutputPtr(),
      len,
    ).slice();
    return this.#relabelers.relabelOutput(rule, output, compress);
  }

  /** Start of the open window of `rule`, ms since the epoch. */
  windowStartMs(rule: number): number {
    return this.#exports.aggregateWindowStart(rule);
  }

  stats(): AggregationStats {
    const slots = new Float64Array(
      this.#exports.memory.buffer,
      this.#exports.aggregateStatsPtr(),
      abi.AGG_STATS_COUNT,
    );
    const at = (slot: number): number => slots[slot] ?? 0;
    return {
      samples: at(abi.AGG_STAT_SAMPLES),
      late: at(abi.AGG_STAT_LATE),
      duplicate: at(abi.AGG_STAT_DUPLICATE),
      nan: at(abi.AGG_STAT_NAN),
      staleMarkers: at(abi.AGG_STAT_STALE_MARKERS),
      seriesTracked: at(abi.AGG_STAT_SERIES_TRACKED),
      groups: at(abi.AGG_STAT_GROUPS),
      stateBytes: at(abi.AGG_STAT_STATE_BYTES),
      seriesExpired: at(abi.AGG_STAT_SERIES_EXPIRED),
      classifyCalls: at(abi.AGG_STAT_CLASSIFY_CALLS),
    };
  }

  /** The whole state as bytes (format private to the module; see aggregate-snapshot.ts). */
  snapshot(): Uint8Array {
    const len = this.#exports.aggregateSnapshot();
    return new Uint8Array(
      this.#exports.memory.buffer,
      this.#exports.aggregateSnapshotPtr(),
      len,
    ).slice();
  }

  /**
   * Every group with its running total and the counter baseline of each of its input
   * series, in the hand-off format of wasm/ABI.md ("Hand-off between replicas").
   */
  handoffExport(): Uint8Array {
    const len = this.#exports.aggregateHandoffExport();
    return new Uint8Array(
      this.#exports.memory.buffer,
      this.#exports.aggregateHandoffPtr(),
      len,
    ).slice();
  }

  /** Removes the groups with these hashes and their input series; returns how many. */
  handoffRemove(groupHashes: BigUint64Array): number {
    if (groupHashes.length === 0) return 0;
    this.#copyIn(
      new Uint8Array(groupHashes.buffer, groupHashes.byteOffset, groupHashes.byteLength),
    );
    return this.#exports.aggregateHandoffRemove(groupHashes.byteLength);
  }

  /** Merges hand-off bytes from another replica; returns the groups merged. Throws if malformed. */
  handoffMerge(bytes: Uint8Array): number {
    this.#copyIn(bytes);
    const merged = this.#exports.aggregateHandoffMerge(bytes.length);
    if (merged < 0) throw new Error('malformed aggregation hand-off');
    return merged;
  }

  /** Replaces the state with a snapshot of the same rules. False when the bytes do not fit. */
  restore(bytes: Uint8Array): boolean {
    this.#copyIn(bytes);
    return this.#exports.aggregateRestore(bytes.length) === abi.STATUS_OK;
  }
}
