import { describe, expect, it } from 'vitest';
import { AggregationEngine } from '../proxy/aggregation/aggregation-engine.js';
import { parseAggregationRules } from '../proxy/pipeline/aggregation-config.js';
import { decodeRequest, labelRecord } from '../proxy/pipeline/remote-write-fixtures.js';
import { selectorMatches } from '../proxy/pipeline/selector.js';
import { AGGREGATION_WITHOUT, isCounterMetric, scenarioFor } from './scenarios.js';
import { catalogSeries } from './series-catalog.js';
import { Workload } from './workload.js';

const SERIES = 4_000;
const WINDOW_START_MS = 1_800_000_000_000;

describe('the aggregation scenario', () => {
  const workload = new Workload({
    seriesCount: SERIES,
    seriesPerRequest: 500,
    startTimestampMs: WINDOW_START_MS + 1000,
  });
  const scenario = scenarioFor('aggregation', workload);
  const rules = parseAggregationRules(scenario.aggregations, 'bench.yaml');

  it('aggregates every metric of the workload by exactly one rule, counters with total', () => {
    for (const metric of workload.metricNames) {
      const labels = new Map([['__name__', metric]]);
      const matching = rules.filter((rule) => rule.match.some((s) => selectorMatches(s, labels)));
      expect(matching, metric).toHaveLength(1);
      expect(matching[0]!.outputs).toEqual([isCounterMetric(metric) ? 'total' : 'sum_samples']);
      expect(matching[0]!.without).toEqual([...AGGREGATION_WITHOUT].sort());
    }
    // vmagent's baseline removes the same labels.
    expect(scenario.relabelConfigs).toEqual([
      { action: 'labeldrop', regex: AGGREGATION_WITHOUT.join('|') },
    ]);
  });

  it('writes one output series per group of the catalog, with no sample late', async () => {
    const engine = await AggregationEngine.load({ rules, windowStartMs: WINDOW_START_MS });
    for (let sequence = 0; sequence < 2 * workload.requestsPerRound; sequence++) {
      engine.ingest(workload.body(sequence));
    }
    const output = decodeRequest(engine.flush(0, WINDOW_START_MS + 10_000, false));
    const gauges = decodeRequest(engine.flush(1, WINDOW_START_MS + 10_000, false));
    const outputSeries = new Set(
      [...output.timeseries, ...gauges.timeseries].map((series) =>
        JSON.stringify(labelRecord(series)),
      ),
    );
    // The groups, counted from the catalog independently of the aggregation.
    const groups = new Set(
      catalogSeries(SERIES).map((series) =>
        JSON.stringify(series.labels.filter(([name]) => !AGGREGATION_WITHOUT.includes(name))),
      ),
    );
    expect(outputSeries.size).toBe(groups.size);
    expect(outputSeries.size).toBeLessThan(SERIES * 0.7);
    const stats = engine.stats();
    expect(stats.late).toBe(0);
    expect(stats.seriesTracked).toBe(SERIES);
    expect(stats.samples).toBe(2 * SERIES);
  });
});
