/**
 * The remote-write spec's retry rules: 5xx, 429 and network failures are retried with
 * exponential backoff and jitter, honouring `Retry-After`; any other 4xx means the data
 * itself is refused and sending it again cannot help.
 */

/** What a sender does with a batch after one attempt. */
export type AttemptVerdict = 'delivered' | 'retry' | 'reject';

/** Verdict for an HTTP status the upstream answered. */
export function verdictForStatus(status: number): AttemptVerdict {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 429 || status >= 500) return 'retry';
  if (status >= 400) return 'reject';
  // 1xx/3xx are not answers a remote-write receiver gives; treat them as a fault of the
  // path to it, which may clear.
  return 'retry';
}

/** Bounds of the backoff between retries, in ms. */
export interface BackoffBounds {
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

/**
 * Wait before retry number `attempt` (0 for the first retry): `min * 2^attempt`, capped at
 * `max`, with "equal jitter" (a random point in the upper half), so many proxies that lost
 * the same upstream do not come back in step, yet none retries sooner than half the step.
 */
export function backoffDelayMs(
  attempt: number,
  bounds: BackoffBounds,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(attempt, 40);
  const stepMs = Math.min(bounds.maxBackoffMs, bounds.minBackoffMs * 2 ** exponent);
  return Math.round(stepMs / 2 + random() * (stepMs / 2));
}

/** Longest `Retry-After` honoured, in ms; a larger one is cut to this. */
export const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

/**
 * A `Retry-After` header value in ms: delay-seconds or an HTTP date. `undefined` when
 * absent or unreadable (the backoff applies then).
 */
export function parseRetryAfterMs(
  value: string | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const dateMs = Date.parse(text);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.min(Math.max(0, dateMs - nowMs), MAX_RETRY_AFTER_MS);
}
