/**
 * The aggregation runtime around one {@link AggregationEngine}: flushes each rule at the
 * wall-clock boundaries of its interval, hands each flush's WriteRequest to `onOutput`,
 * snapshots the state to the data dir periodically and on close, and restores it on start.
 * Free of thread and server code; `aggregator-thread.ts` runs it in its own thread.
 */
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import { splitHandoff } from '../tier/handoff-split.js';
import { MemberRing } from '../tier/routing-key.js';
import { AggregationEngine, type AggregationStats } from './aggregation-engine.js';
import { readSnapshotFile, writeSnapshotFile } from './snapshot-file.js';

/** Options of {@link Aggregator.start}. */
export interface AggregatorOptions {
  readonly rules: readonly AggregationRule[];
  /** Folder for the snapshot; `undefined` keeps the state in memory only. */
  readonly dataDir: string | undefined;
  /** Time between periodic snapshots, ms. Default 30 000. */
  readonly snapshotIntervalMs?: number;
  readonly maxDecompressedBytes?: number;
  readonly wasmPath?: string;
  /** Receives each non-empty flush: a snappy-compressed remote-write 1.0 request. */
  readonly onOutput: (payload: Uint8Array) => void;
  /** Reports what an operator should know (restores, refused requests, failures). */
  readonly onEvent?: (level: 'info' | 'warn' | 'error', event: string, fields: object) => void;
  /** Wall clock, ms since the epoch (replaceable for tests). */
  readonly now?: () => number;
}

/** Start of the interval boundary at or after `nowMs`. */
export function nextBoundaryMs(nowMs: number, intervalMs: number): number {
  return (Math.floor(nowMs / intervalMs) + 1) * intervalMs;
}

export class Aggregator {
  readonly #options: AggregatorOptions;
  readonly #engine: AggregationEngine;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #flushesSinceStart: number[];
  #snapshotTimer: NodeJS.Timeout | undefined;
  #refused = 0;
  #snapshotWrites: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(options: AggregatorOptions, engine: AggregationEngine) {
    this.#options = options;
    this.#engine = engine;
    this.#flushesSinceStart = options.rules.map(() => 0);
  }

  static async start(options: AggregatorOptions): Promise<Aggregator> {
    const now = options.now ?? Date.now;
    const engineOptions = {
      rules: options.rules,
      windowStartMs: now(),
      ...(options.wasmPath === undefined ? {} : { wasmPath: options.wasmPath }),
      ...(options.maxDecompressedBytes === undefined
        ? {}
        : { maxDecompressedBytes: options.maxDecompressedBytes }),
    };
    let engine = await AggregationEngine.load(engineOptions);
    if (options.dataDir !== undefined) {
      const snapshot = await readSnapshotFile(options.dataDir, options.rules);
      if (snapshot.kind === 'state') {
        if (engine.restore(snapshot.state)) {
          const stats = engine.stats();
          options.onEvent?.('info', 'aggregation_restored', {
            seriesTracked: stats.seriesTracked,
            groups: stats.groups,
          });
        } else {
          engine = await AggregationEngine.load(engineOptions);
          options.onEvent?.('warn', 'aggregation_snapshot_ignored', { reason: 'corrupt' });
        }
      } else if (snapshot.kind === 'unusable') {
        options.onEvent?.('warn', 'aggregation_snapshot_ignored', { reason: snapshot.reason });
      }
    }
    const aggregator = new Aggregator(options, engine);
    aggregator.#schedule();
    return aggregator;
  }

  /** Requests the aggregation refused as malformed since start. */
  get refusedRequests(): number {
    return this.#refused;
  }

  stats(): AggregationStats {
    return this.#engine.stats();
  }

  /** Feeds one snappy-compressed remote-write 1.0 request. Never throws. */
  ingest(body: Uint8Array): void {
    if (this.#closed) return;
    try {
      this.#engine.ingest(body);
    } catch (error) {
      this.#refused++;
      this.#options.onEvent?.('warn', 'aggregation_request_refused', {
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }

  #schedule(): void {
    const now = this.#options.now ?? Date.now;
    this.#options.rules.forEach((rule, index) => {
      const arm = (): void => {
        const boundaryMs = nextBoundaryMs(now(), rule.intervalMs);
        const timer = setTimeout(() => {
          this.flushRule(index, boundaryMs);
          arm();
        }, boundaryMs - now());
        this.#timers[index] = timer;
      };
      arm();
    });
    const snapshotIntervalMs = this.#options.snapshotIntervalMs ?? 30_000;
    if (this.#options.dataDir !== undefined) {
      this.#snapshotTimer = setInterval(() => {
        this.snapshot().catch((error: unknown) => {
          this.#options.onEvent?.('error', 'aggregation_snapshot_failed', {
            message: error instanceof Error ? error.message : String(error),
          });
        });
      }, snapshotIntervalMs);
      this.#snapshotTimer.unref();
    }
  }

  /** Closes the open window of rule `index` at `atMs` and passes on its output. */
  flushRule(index: number, atMs: number): void {
    const payload = this.#engine.flush(index, atMs);
    const rule = this.#options.rules[index]!;
    const flushes = ++this.#flushesSinceStart[index]!;
    if (payload.length > 0 && flushes > rule.ignoreFirstIntervals) this.#options.onOutput(payload);
  }

  /**
   * Two-tier hand-off: removes the groups that `members` assign to a member other than
   * `self` and returns their state (totals and input baselines) per new owner, to be
   * merged there with {@link mergeHandoff}.
   */
  handoff(members: readonly string[], self: string): Map<string, Uint8Array> {
    if (members.length === 0) return new Map();
    const split = splitHandoff(this.#engine.handoffExport(), new MemberRing(members), self);
    this.#engine.handoffRemove(split.givenAway);
    return split.parts;
  }

  /** Merges groups handed off by another member; returns how many. Throws if malformed. */
  mergeHandoff(bytes: Uint8Array): number {
    if (this.#closed) throw new Error('aggregation is closed');
    return this.#engine.handoffMerge(bytes);
  }

  /** Writes the state to the data dir now (no-op without one). */
  async snapshot(): Promise<void> {
    const dataDir = this.#options.dataDir;
    if (dataDir === undefined) return;
    const state = this.#engine.snapshot();
    // One write at a time: two would race on the temporary file.
    const write = this.#snapshotWrites.then(() =>
      writeSnapshotFile(dataDir, this.#options.rules, state),
    );
    this.#snapshotWrites = write.catch(() => {});
    await write;
  }

  /**
   * Stops the timers, flushes the rules with `flush_on_shutdown` (their partial window,
   * stamped now) and writes the final snapshot.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    if (this.#snapshotTimer !== undefined) clearInterval(this.#snapshotTimer);
    const now = (this.#options.now ?? Date.now)();
    this.#options.rules.forEach((rule, index) => {
      if (rule.flushOnShutdown) this.flushRule(index, now);
    });
    await this.snapshot();
  }
}
