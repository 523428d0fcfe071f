/**
 * The proxy's cardinality: collects every worker's windows (see `cardinality-channel.ts`),
 * merges them, and answers `GET /api/v1/status/tsdb`.
 */
import { randomUUID } from 'node:crypto';
import { CardinalityCollector } from './cardinality-channel.js';
import { CardinalitySummary, type CardinalityWindow, mergeWindows } from './cardinality-summary.js';
import { type TsdbStatusAnswer, tsdbStatusAnswer } from './tsdb-status.js';

/** What the workers get in their setup to track cardinality. */
export interface WorkerCardinalitySetup {
  readonly channel: string;
  readonly maxMetrics: number;
  readonly windowMs: number;
}

export class ProxyCardinality {
  readonly workerSetup: WorkerCardinalitySetup;
  readonly #collector: CardinalityCollector;
  readonly #nowMs: () => number;

  constructor(
    options: { readonly maxMetrics: number; readonly windowMs: number },
    threadIds: () => readonly number[],
    nowMs: () => number = Date.now,
  ) {
    this.workerSetup = {
      channel: `phoenix-cardinality-${randomUUID()}`,
      maxMetrics: options.maxMetrics,
      windowMs: options.windowMs,
    };
    this.#collector = new CardinalityCollector(this.workerSetup.channel, threadIds);
    this.#nowMs = nowMs;
  }

  /**
   * The windows of all workers, merged per view and window start. Workers that do not
   * answer within the collector's timeout are left out (their series are missing until
   * the next collection).
   */
  async windows(): Promise<CardinalityWindow[]> {
    const { windows } = await this.#collector.collect();
    return mergeWindows(windows);
  }

  /** The answer of `GET /api/v1/status/tsdb?<queryString>`. */
  async tsdbStatus(queryString: string): Promise<TsdbStatusAnswer> {
    const windows = await this.windows();
    const nowMs = this.#nowMs();
    return tsdbStatusAnswer(queryString, (view) => new CardinalitySummary(windows, view, nowMs));
  }

  close(): void {
    this.#collector.close();
  }
}
