/**
 * Structured logging: one JSON object per line on stderr, for notable events only
 * (startup, shutdown, failures), never one line per request.
 */

/** Writes one event line: `{"time":…,"level":…,"event":…,…fields}`. */
export function logEvent(
  level: 'info' | 'warn' | 'error',
  event: string,
  fields: Record<string, unknown> = {},
): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...fields });
  process.stderr.write(`${line}\n`);
}

/**
 * Logs a recurring failure at most once per `intervalMs` per key, with how many were
 * left out since the last line: a broken upstream must not turn into a line per request.
 */
export class ThrottledLog {
  readonly #intervalMs: number;
  readonly #lastLoggedAt = new Map<string, number>();
  readonly #suppressed = new Map<string, number>();

  constructor(intervalMs = 10_000) {
    this.#intervalMs = intervalMs;
  }

  error(key: string, event: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    const last = this.#lastLoggedAt.get(key);
    if (last !== undefined && now - last < this.#intervalMs) {
      this.#suppressed.set(key, (this.#suppressed.get(key) ?? 0) + 1);
      return;
    }
    const suppressed = this.#suppressed.get(key) ?? 0;
    this.#lastLoggedAt.set(key, now);
    this.#suppressed.delete(key);
    logEvent('error', event, suppressed > 0 ? { ...fields, suppressed } : fields);
  }
}
