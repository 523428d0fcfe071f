/** Thrown by an attempt when waiting longer cannot help (a peer exited); ends the poll. */
export class PollAbortError extends Error {
  override readonly name: string = 'PollAbortError';
}

/** Options of {@link pollUntil}. */
export interface PollOptions {
  /** Give up after this long; default 30 000 ms. */
  timeoutMs?: number;
  /** Pause between attempts; default 250 ms. */
  intervalMs?: number;
  /** Names what was awaited in the timeout error. */
  description: string;
}

/**
 * Calls `attempt` until it returns something other than `undefined`, and returns that.
 * Errors thrown by an attempt count as "not yet" (a peer that is still starting refuses
 * connections); the last one is quoted when the wait times out, so a failing test says
 * what it saw last rather than only that it waited. A {@link PollAbortError} ends the
 * wait at once.
 */
export async function pollUntil<T>(
  attempt: () => Promise<T | undefined>,
  options: PollOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch (error) {
      if (error instanceof PollAbortError) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${options.description}${reason}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
