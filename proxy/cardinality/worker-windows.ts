/**
 * A worker's cardinality windows. The module keeps one tracker per view; at each window
 * boundary (aligned to the wall clock, so every worker and proxy cuts at the same instant)
 * the worker keeps the finished tracker's bytes as the previous window and resets the
 * module's. Between boundaries nothing runs here: the module updates its trackers while it
 * processes requests.
 */
import type { CardinalityView, CardinalityWindow } from './cardinality-summary.js';

/** The part of the pipeline engine this needs (`proxy/pipeline/engine.ts`). */
export interface CardinalitySource {
  cardinalitySnapshot(view: number): Uint8Array;
  resetCardinality(view: number): void;
}

const VIEW_INDEX: Readonly<Record<CardinalityView, number>> = { input: 0, output: 1 };
const VIEWS = Object.keys(VIEW_INDEX) as CardinalityView[];

/** Default window length: one hour, in ms. */
export const DEFAULT_CARDINALITY_WINDOW_MS = 3_600_000;

export class WorkerCardinalityWindows {
  readonly #source: () => CardinalitySource;
  readonly #windowMs: number;
  readonly #nowMs: () => number;
  #currentStartMs: number;
  #previous: CardinalityWindow[] = [];

  /** `source` is called each time: the worker may replace its engine after a fault. */
  constructor(source: () => CardinalitySource, windowMs: number, nowMs: () => number = Date.now) {
    if (!Number.isInteger(windowMs) || windowMs < 1000) {
      throw new RangeError(`cardinality window ${windowMs} ms must be an integer >= 1000`);
    }
    this.#source = source;
    this.#windowMs = windowMs;
    this.#nowMs = nowMs;
    this.#currentStartMs = this.#windowStart(nowMs());
  }

  #windowStart(ms: number): number {
    return Math.floor(ms / this.#windowMs) * this.#windowMs;
  }

  /** Starts a new window when the clock passed a boundary. */
  rotate(): void {
    const start = this.#windowStart(this.#nowMs());
    if (start <= this.#currentStartMs) return;
    const source = this.#source();
    // The finished window is the previous one only if it ended where the new one begins;
    // after a longer pause (no collection across a whole window) it is too old to count.
    this.#previous =
      start - this.#currentStartMs === this.#windowMs
        ? VIEWS.map((view) => ({
            view,
            windowStartMs: this.#currentStartMs,
            windowMs: this.#windowMs,
            tracker: source.cardinalitySnapshot(VIEW_INDEX[view]),
          })).filter((window) => window.tracker.length > 0)
        : [];
    for (const view of VIEWS) source.resetCardinality(VIEW_INDEX[view]);
    this.#currentStartMs = start;
  }

  /** The current window of each view and the previous one, as serialized trackers. */
  windows(): CardinalityWindow[] {
    this.rotate();
    const source = this.#source();
    const current = VIEWS.map((view) => ({
      view,
      windowStartMs: this.#currentStartMs,
      windowMs: this.#windowMs,
      tracker: source.cardinalitySnapshot(VIEW_INDEX[view]),
    })).filter((window) => window.tracker.length > 0);
    return [...current, ...this.#previous];
  }
}
