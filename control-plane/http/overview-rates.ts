/**
 * Live rates for the dashboard's overview, derived from what `ListProxies` shows. Proxies
 * report cumulative counters every few seconds; a rate is the difference between two
 * reports of one proxy divided by the time between them (their `last_seen`), so it does
 * not depend on how often the dashboard asks.
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { ProxyStatus } from '../../proto/gen/phoenix/v1/proxy_pb.js';

/** One proxy as the overview shows it. */
export interface ProxyOverview {
  readonly proxyId: string;
  readonly version: string;
  readonly pipeline: string;
  readonly appliedVersion: number;
  readonly healthy: boolean;
  readonly connected: boolean;
  readonly lastSeenMs: number;
  readonly listen: string;
  readonly samplesInPerSecond: number;
  readonly samplesOutPerSecond: number;
  readonly applyError: string;
}

/** Active series seen by the proxies before and after the pipeline, when measured. */
export interface ActiveSeries {
  readonly input: number;
  readonly output: number;
}

/** One point of the overview stream (`event: overview` of `/api/ui/overview/stream`). */
export interface OverviewPoint {
  readonly atMs: number;
  readonly samplesInPerSecond: number;
  readonly samplesOutPerSecond: number;
  /** Series per request, summed over requests, per second: what the proxies count. */
  readonly seriesInPerSecond: number;
  readonly seriesOutPerSecond: number;
  /** Distinct active series, from the cardinality sketches; null when none are measured. */
  readonly activeSeries: ActiveSeries | null;
  /**
   * True while a reporting proxy has been seen only once, so its rate is not known yet
   * (the first second after the control plane or a proxy starts); the sums leave it out.
   */
  readonly measuring: boolean;
  readonly proxies: readonly ProxyOverview[];
}

interface CounterReading {
  readonly atMs: number;
  readonly samplesIn: number;
  readonly samplesOut: number;
  readonly seriesIn: number;
  readonly seriesOut: number;
}

interface ProxyRates {
  readonly samplesIn: number;
  readonly samplesOut: number;
  readonly seriesIn: number;
  readonly seriesOut: number;
}

const NO_RATES: ProxyRates = { samplesIn: 0, samplesOut: 0, seriesIn: 0, seriesOut: 0 };
/** A proxy reported once: its rates need a second report. Counted as zero, but flagged. */
const UNKNOWN_RATES: ProxyRates = { samplesIn: 0, samplesOut: 0, seriesIn: 0, seriesOut: 0 };

/** Default for {@link OverviewRates}: a proxy silent this long counts as sending nothing. */
export const STALE_AFTER_MS = 30_000;

/** Keeps the last two reports of every proxy and turns them into per-second rates. */
export class OverviewRates {
  readonly #last = new Map<string, CounterReading>();
  readonly #rates = new Map<string, ProxyRates>();
  readonly #staleAfterMs: number;

  constructor(staleAfterMs: number = STALE_AFTER_MS) {
    this.#staleAfterMs = staleAfterMs;
  }

  /** Takes the current `ListProxies` answer and returns the point to show at `nowMs`. */
  observe(
    statuses: readonly ProxyStatus[],
    nowMs: number,
    activeSeries: ActiveSeries | null,
  ): OverviewPoint {
    const proxies: ProxyOverview[] = [];
    let samplesIn = 0;
    let samplesOut = 0;
    let seriesIn = 0;
    let seriesOut = 0;
    let measuring = false;
    const seen = new Set<string>();
    for (const status of statuses) {
      seen.add(status.proxyId);
      const lastSeenMs = status.lastSeen === undefined ? 0 : timestampMs(status.lastSeen);
      const rates =
        nowMs - lastSeenMs > this.#staleAfterMs ? NO_RATES : this.#update(status, lastSeenMs);
      if (rates === UNKNOWN_RATES) measuring = true;
      samplesIn += rates.samplesIn;
      samplesOut += rates.samplesOut;
      seriesIn += rates.seriesIn;
      seriesOut += rates.seriesOut;
      proxies.push({
        proxyId: status.proxyId,
        version: status.version,
        pipeline: status.pipeline,
        appliedVersion: status.appliedVersion,
        healthy: status.healthy,
        connected: status.connected,
        lastSeenMs,
        listen: status.listen,
        samplesInPerSecond: rates.samplesIn,
        samplesOutPerSecond: rates.samplesOut,
        applyError:
          status.applyError === undefined || status.applyError.message === ''
            ? ''
            : `version ${status.applyError.version}: ${status.applyError.message}`,
      });
    }
    for (const proxyId of this.#last.keys()) {
      if (!seen.has(proxyId)) {
        this.#last.delete(proxyId);
        this.#rates.delete(proxyId);
      }
    }
    return {
      atMs: nowMs,
      samplesInPerSecond: samplesIn,
      samplesOutPerSecond: samplesOut,
      seriesInPerSecond: seriesIn,
      seriesOutPerSecond: seriesOut,
      activeSeries,
      measuring,
      proxies,
    };
  }

  #update(status: ProxyStatus, lastSeenMs: number): ProxyRates {
    const counters = status.counters;
    if (counters === undefined) return NO_RATES;
    const reading: CounterReading = {
      atMs: lastSeenMs,
      samplesIn: Number(counters.samplesIn),
      samplesOut: Number(counters.samplesOut),
      seriesIn: Number(counters.seriesIn),
      seriesOut: Number(counters.seriesOut),
    };
    const previous = this.#last.get(status.proxyId);
    if (previous === undefined || reading.atMs <= previous.atMs) {
      if (previous === undefined) this.#last.set(status.proxyId, reading);
      return this.#rates.get(status.proxyId) ?? UNKNOWN_RATES;
    }
    this.#last.set(status.proxyId, reading);
    // A counter that went down means the proxy restarted under the same id: start over.
    if (reading.samplesIn < previous.samplesIn || reading.samplesOut < previous.samplesOut) {
      this.#rates.delete(status.proxyId);
      return NO_RATES;
    }
    const seconds = (reading.atMs - previous.atMs) / 1000;
    const rates: ProxyRates = {
      samplesIn: (reading.samplesIn - previous.samplesIn) / seconds,
      samplesOut: (reading.samplesOut - previous.samplesOut) / seconds,
      seriesIn: (reading.seriesIn - previous.seriesIn) / seconds,
      seriesOut: (reading.seriesOut - previous.seriesOut) / seconds,
    };
    this.#rates.set(status.proxyId, rates);
    return rates;
  }
}
