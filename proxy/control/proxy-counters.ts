import type { Registry } from 'prom-client';

/** Totals a proxy reports to the control plane, from its own metrics. */
export interface ProxyCounterValues {
  requests: bigint;
  samplesIn: bigint;
  samplesOut: bigint;
  seriesIn: bigint;
  seriesOut: bigint;
  seriesDropped: bigint;
}

const METRIC_NAMES: Readonly<Record<keyof ProxyCounterValues, string>> = {
  requests: 'phoenix_requests_total',
  samplesIn: 'phoenix_samples_in_total',
  samplesOut: 'phoenix_samples_out_total',
  seriesIn: 'phoenix_series_in_total',
  seriesOut: 'phoenix_series_out_total',
  seriesDropped: 'phoenix_series_dropped_total',
};

/** Sums each counter over its label sets; a counter that is not registered reads 0. */
export async function readProxyCounters(registry: Registry): Promise<ProxyCounterValues> {
  const totals: ProxyCounterValues = {
    requests: 0n,
    samplesIn: 0n,
    samplesOut: 0n,
    seriesIn: 0n,
    seriesOut: 0n,
    seriesDropped: 0n,
  };
  for (const key of Object.keys(METRIC_NAMES) as (keyof ProxyCounterValues)[]) {
    const metric = registry.getSingleMetric(METRIC_NAMES[key]);
    if (metric === undefined) continue;
    const { values } = await metric.get();
    let sum = 0;
    for (const sample of values) sum += sample.value;
    totals[key] = BigInt(Math.round(sum));
  }
  return totals;
}
