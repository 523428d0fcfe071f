/**
 * Reconnect delays: doubling from `minMs` up to `maxMs`, each scaled by a random factor in
 * [0.5, 1) so a fleet of proxies that lost the control plane together does not come back
 * in one burst.
 */
export function backoffDelayMs(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.max(minMs / 2, Math.round(ceiling * (0.5 + random() / 2)));
}
