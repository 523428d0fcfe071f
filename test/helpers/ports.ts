import { createServer } from 'node:net';

/** The only address test servers and peers bind to: tests never leave the loopback. */
export const LOOPBACK_HOST = '127.0.0.1';

/**
 * A TCP port on the loopback that was free a moment ago, for child processes that take a
 * port on their command line and cannot report one they picked themselves (Prometheus,
 * `phoenix proxy`). The kernel hands out ephemeral ports round-robin, so the small window
 * between closing this probe and the child binding it is not reused in practice.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, LOOPBACK_HOST, () => {
      const address = probe.address();
      if (address === null || typeof address === 'string') {
        probe.close();
        reject(new Error('loopback probe socket has no TCP address'));
        return;
      }
      probe.close(() => resolve(address.port));
    });
  });
}
