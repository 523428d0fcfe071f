/**
 * The reconcile queue of a controller: keys (`namespace/name`) rather than events, so a
 * burst of changes to one resource becomes one reconcile of its latest state. A key is
 * never processed twice at once; a key added while it is being processed runs once more
 * afterwards. A failed key is retried after a backoff that doubles per consecutive failure
 * of that key, and forgotten on its first success. A key whose processing resolves to a
 * number of milliseconds runs again after that long.
 */
import { backoffDelayMs } from '../control/backoff.js';

export interface WorkQueueOptions {
  /** Keys processed at the same time; default 2. */
  readonly concurrency?: number;
  /** First retry delay of a failed key; default 1000 ms. */
  readonly retryMinMs?: number;
  /** Longest retry delay; default 60 000 ms. */
  readonly retryMaxMs?: number;
  /** Hears of every failure, with the delay before the retry. */
  readonly onError?: (key: string, error: unknown, retryInMs: number) => void;
}

export class WorkQueue {
  readonly #process: (key: string) => Promise<number | undefined>;
  readonly #concurrency: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #onError: WorkQueueOptions['onError'];
  /** Keys waiting, in the order they came; a Set keeps each once. */
  readonly #waiting = new Set<string>();
  readonly #processing = new Set<string>();
  /** Keys added while being processed: they go back in line when that ends. */
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(
    process: (key: string) => Promise<number | undefined>,
    options: WorkQueueOptions = {},
  ) {
    this.#process = process;
    this.#concurrency = options.concurrency ?? 2;
    this.#retryMinMs = options.retryMinMs ?? 1000;
    this.#retryMaxMs = options.retryMaxMs ?? 60_000;
    this.#onError = options.onError;
  }

  /** Queues `key` now (a pending delayed retry of it is folded into this run). */
  add(key: string): void {
    if (this.#closed) return;
    const timer = this.#delayed.get(key);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#delayed.delete(key);
    }
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    this.#waiting.add(key);
    this.#pump();
  }

  /** Queues `key` after `delayMs`, unless it is added sooner. */
  addAfter(key: string, delayMs: number): void {
    if (this.#closed || this.#delayed.has(key)) return;
    this.#delayed.set(
      key,
      setTimeout(() => {
        this.#delayed.delete(key);
        this.add(key);
      }, delayMs),
    );
  }

  /** Whether nothing is waiting or running (delayed retries do not count). */
  get idle(): boolean {
    return this.#waiting.size === 0 && this.#processing.size === 0;
  }

  /** Stops taking keys and waits for those being processed. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    this.#waiting.clear();
    await Promise.allSettled([...this.#running]);
  }

  #pump(): void {
    while (!this.#closed && this.#processing.size < this.#concurrency && this.#waiting.size > 0) {
      const key = this.#waiting.values().next().value as string;
      this.#waiting.delete(key);
      this.#processing.add(key);
      const run = this.#run(key);
      this.#running.add(run);
      void run.finally(() => this.#running.delete(run));
    }
  }

  async #run(key: string): Promise<void> {
    try {
      const requeueAfterMs = await this.#process(key);
      this.#failures.delete(key);
      if (requeueAfterMs !== undefined) this.addAfter(key, requeueAfterMs);
    } catch (error) {
      const failures = this.#failures.get(key) ?? 0;
      this.#failures.set(key, failures + 1);
      const retryInMs = backoffDelayMs(failures, this.#retryMinMs, this.#retryMaxMs);
      this.#onError?.(key, error, retryInMs);
      this.addAfter(key, retryInMs);
    } finally {
      this.#processing.delete(key);
      if (this.#dirty.delete(key)) this.add(key);
      this.#pump();
    }
  }
}
