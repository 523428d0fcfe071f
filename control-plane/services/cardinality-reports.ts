/**
 * The latest cardinality report of every proxy, merged on demand. Reports are kept in
 * memory (every proxy sends its windows again within one status interval after a control
 * plane restart); a proxy that stops reporting ages out after `maxAgeMs`, so a proxy that
 * was shut down stops counting.
 */
import {
  CardinalitySummary,
  type CardinalityView,
  type CardinalityWindow,
  mergeWindows,
} from '../../proxy/cardinality/cardinality-summary.js';

/** Default age after which a proxy's report no longer counts: six default status intervals. */
export const CARDINALITY_REPORT_MAX_AGE_MS = 60_000;

interface ProxyCardinality {
  readonly windows: readonly CardinalityWindow[];
  readonly receivedAtMs: number;
}

export class CardinalityReports {
  readonly #byProxy = new Map<string, ProxyCardinality>();
  readonly #maxAgeMs: number;
  readonly #nowMs: () => number;

  constructor(options: { maxAgeMs?: number; nowMs?: () => number } = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? CARDINALITY_REPORT_MAX_AGE_MS;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** Replaces the proxy's windows with the ones it just reported. */
  record(proxyId: string, windows: readonly CardinalityWindow[]): void {
    if (windows.length === 0) return;
    this.#byProxy.set(proxyId, { windows, receivedAtMs: this.#nowMs() });
  }

  #fresh(): ProxyCardinality[] {
    const oldest = this.#nowMs() - this.#maxAgeMs;
    for (const [proxyId, report] of this.#byProxy) {
      if (report.receivedAtMs < oldest) this.#byProxy.delete(proxyId);
    }
    return [...this.#byProxy.values()];
  }

  /** Proxies whose reports count now. */
  proxyCount(): number {
    return this.#fresh().length;
  }

  /** The windows of every proxy that reported recently, merged per view and window. */
  windows(): CardinalityWindow[] {
    return mergeWindows(this.#fresh().flatMap((report) => report.windows));
  }

  /** Estimates of one view over every fresh proxy. */
  summary(view: CardinalityView): CardinalitySummary {
    return new CardinalitySummary(this.windows(), view, this.#nowMs());
  }
}
