import { logEvent } from '../server/log.js';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.js';

/** What a server command does when a second SIGTERM or SIGINT arrives during shutdown. */
export type SecondSignal =
  /** Each signal is handled once; a repeat of the same signal gets Node's default (exit). */
  | 'default'
  /** Exit at once with {@link EXIT_FAILURE}, abandoning in-flight work (senders retry). */
  | 'force-exit';

/**
 * Resolves with the exit status once SIGTERM or SIGINT closed `running`: the one place
 * that logs `shutdown_started` / `shutdown_failed` for every long-running command.
 */
export function waitForSignal(
  running: { close(): Promise<void> },
  secondSignal: SecondSignal = 'default',
): Promise<number> {
  return new Promise((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled && secondSignal === 'force-exit') {
        // A second signal means "now": in-flight requests are abandoned (senders retry).
        logEvent('warn', 'shutdown_forced', { signal });
        process.exit(EXIT_FAILURE);
      }
      signalled = true;
      logEvent('info', 'shutdown_started', { signal });
      running.close().then(
        () => resolve(EXIT_OK),
        (error: unknown) => {
          logEvent('error', 'shutdown_failed', { message: String(error) });
          resolve(EXIT_FAILURE);
        },
      );
    };
    if (secondSignal === 'force-exit') {
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    } else {
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    }
  });
}
