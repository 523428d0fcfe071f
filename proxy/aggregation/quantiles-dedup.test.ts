import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { SampleSchema } from '../../proto/gen/prometheus/types_pb.js';
import { seededRandom as random } from '../../test/helpers/seeded-random.js';
import { parseAggregationRules } from '../pipeline/aggregation-config.js';
import {
  decodeRequest,
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { AggregationEngine } from './aggregation-engine.js';
import { outputKey } from './reference-aggregator.js';

const START_MS = 1_700_000_000_000;
/** Samples a group keeps per window for quantiles (the module's QUANTILE_RESERVOIR). */
const RESERVOIR = 512;

interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
  readonly timestampMs: number;
}

function request(samples: readonly Sample[]): Uint8Array {
  return encodeRequest(
    writeRequest(
      samples.map((sample) => {
        const series = seriesWith(sortedLabels(sample.labels), 0);
        series.samples = [
          create(SampleSchema, { value: sample.value, timestamp: BigInt(sample.timestampMs) }),
        ];
        return series;
      }),
    ),
  );
}

function decodeOutput(bytes: Uint8Array): Map<string, number> {
  const output = new Map<string, number>();
  if (bytes.length === 0) return output;
  for (const series of decodeRequest(bytes).timeseries) {
    const labels = new Map(series.labels.map((label) => [label.name, label.value]));
    output.set(outputKey(labels), series.samples[0]!.value);
  }
  return output;
}

const PHIS = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1];

/** Feeds `values` as samples of `series` distinct series in one window; returns the flush. */
async function quantilesOf(
  values: readonly number[],
  series: number,
): Promise<Map<string, number>> {
  const [rule] = parseAggregationRules(
    [
      {
        match: 'latency',
        interval: '60s',
        by: ['job'],
        outputs: [`quantiles(${PHIS.join(', ')})`],
      },
    ],
    'quantiles.yaml',
  );
  const engine = await AggregationEngine.load({ rules: [rule!], windowStartMs: START_MS });
  const batch: Sample[] = [];
  values.forEach((value, index) => {
    batch.push({
      labels: { __name__: 'latency', job: 'api', pod: `pod-${index % series}` },
      value,
      timestampMs: START_MS + 1 + Math.floor(index / series),
    });
    if (batch.length === 1000) engine.ingest(request(batch.splice(0)), false);
  });
  if (batch.length > 0) engine.ingest(request(batch), false);
  return decodeOutput(engine.flush(0, START_MS + 60_000, false));
}

function quantileKey(phi: number): string {
  return `latency:60s_by_job_quantiles{job="api",quantile="${phi}"}`;
}

describe('quantiles output', () => {
  it('is exact while a window holds at most the reservoir size of samples', async () => {
    const next = random(4);
    const values = Array.from({ length: RESERVOIR }, () => Math.round(next() * 1e6) / 100);
    const output = await quantilesOf(values, 64);
    const sorted = [...values].sort((a, b) => a - b);
    expect(output.size).toBe(PHIS.length);
    for (const phi of PHIS) {
      expect(output.get(quantileKey(phi)), `φ ${phi}`).toBe(
        sorted[Math.round(phi * (sorted.length - 1))],
      );
    }
  });

  // Beyond the reservoir the buffer is a uniform sample: the rank of a reported quantile is
  // off by a standard deviation of sqrt(φ(1 − φ) / 512) ≤ 2.2% of the window's samples.
  // The seeds are fixed, so this checks the documented bound (3 standard deviations) without
  // flaking.
  for (const [name, draw] of [
    ['uniform', (next: () => number) => next() * 1000],
    ['heavy-tailed', (next: () => number) => Math.exp(next() * 12)],
    ['few distinct values', (next: () => number) => Math.floor(next() * 7)],
  ] as const) {
    it(`keeps the rank error within the stated bound beyond the reservoir (${name})`, async () => {
      const next = random(name.length);
      const values = Array.from({ length: 40_000 }, () => draw(next));
      const output = await quantilesOf(values, 400);
      const sorted = [...values].sort((a, b) => a - b);
      const n = sorted.length;
      for (const phi of PHIS) {
        const reported = output.get(quantileKey(phi));
        expect(reported, `φ ${phi}`).toBeDefined();
        // The ranks the reported value occupies in the exact sorted window.
        const low = sorted.findIndex((value) => value >= reported!);
        let high = low;
        while (high + 1 < n && sorted[high + 1] === reported) high++;
        const target = phi * (n - 1);
        const error = target < low ? low - target : target > high ? target - high : 0;
        const bound = 3 * Math.sqrt(Math.max(phi * (1 - phi), 1 / RESERVOIR) / RESERVOIR) * n;
        expect(error, `φ ${phi}: rank error ${error} of ${n}`).toBeLessThanOrEqual(bound);
      }
      // φ = 0 and 1 are the window's min and max only if those were sampled; the extreme
      // outputs stay inside the window's range in any case.
      expect(output.get(quantileKey(0))).toBeGreaterThanOrEqual(sorted[0]!);
      expect(output.get(quantileKey(1))).toBeLessThanOrEqual(sorted[n - 1]!);
    });
  }

  it('keeps its window samples across a snapshot and restore', async () => {
    const [rule] = parseAggregationRules(
      [{ match: 'latency', interval: '60s', by: ['job'], outputs: ['quantiles(0.5, 0.9)'] }],
      'quantiles.yaml',
    );
    const first = await AggregationEngine.load({ rules: [rule!], windowStartMs: START_MS });
    const samples = (from: number, count: number): Sample[] =>
      Array.from({ length: count }, (_, i) => ({
        labels: { __name__: 'latency', job: 'api', pod: `pod-${from + i}` },
        value: from + i,
        timestampMs: START_MS + 1000,
      }));
    first.ingest(request(samples(0, 50)), false);
    const restored = await AggregationEngine.load({ rules: [rule!], windowStartMs: START_MS });
    expect(restored.restore(first.snapshot())).toBe(true);
    restored.ingest(request(samples(50, 50)), false);
    const output = decodeOutput(restored.flush(0, START_MS + 60_000, false));
    // Values 0..99: the median has rank round(0.5 · 99) = 50, φ 0.9 rank round(89.1) = 89.
    expect(output.get('latency:60s_by_job_quantiles{job="api",quantile="0.5"}')).toBe(50);
    expect(output.get('latency:60s_by_job_quantiles{job="api",quantile="0.9"}')).toBe(89);
  });
});

describe('dedup_interval', () => {
  const SCRAPE_MS = 5000;
  const OUTPUTS = [
    'total',
    'increase',
    'sum_samples',
    'count_samples',
    'last',
    'max',
    'quantiles(0.5)',
  ];

  function rules(dedup: boolean) {
    return parseAggregationRules(
      [
        {
          match: '{__name__=~"http_requests_total|queue_depth"}',
          interval: '30s',
          by: ['job'],
          outputs: OUTPUTS,
          ...(dedup ? { dedup_interval: '5s' } : {}),
        },
      ],
      'dedup.yaml',
    );
  }

  /**
   * One scrape by one of an HA pair: both scrape the same pods every 5 s, replica `b`
   * 400 ms after replica `a`, so its counters are a little further along. Each replica
   * adds its own `replica` label, which the HA setup removes before the aggregator
   * (Prometheus' external label, dropped by relabeling), so both write the same series.
   */
  function scrape(replica: 'a' | 'b', step: number): Sample[] {
    const timestampMs = START_MS + step * SCRAPE_MS + (replica === 'a' ? 1000 : 1400);
    const samples: Sample[] = [];
    for (let pod = 0; pod < 6; pod++) {
      const seconds = (timestampMs - START_MS) / 1000;
      samples.push({
        labels: { __name__: 'http_requests_total', job: 'api', pod: `pod-${pod}` },
        // pod-2 restarts at 60 s: a counter reset seen by both replicas.
        value: pod === 2 && seconds >= 60 ? (seconds - 60) * 3 : seconds * (pod + 1),
        timestampMs,
      });
      samples.push({
        labels: { __name__: 'queue_depth', job: 'api', pod: `pod-${pod}` },
        value: Math.round(100 * Math.sin(seconds / 7 + pod)) + pod * 10,
        timestampMs,
      });
    }
    return samples;
  }

  /** Runs the scrapes of `replicas` (in the given order per step) for 3 windows. */
  async function run(dedup: boolean, order: (step: number) => Array<'a' | 'b'>) {
    const engine = await AggregationEngine.load({ rules: rules(dedup), windowStartMs: START_MS });
    const flushes: Array<Map<string, number>> = [];
    for (let step = 0; step < 18; step++) {
      for (const replica of order(step)) engine.ingest(request(scrape(replica, step)), false);
      if ((step + 1) % 6 === 0) {
        flushes.push(decodeOutput(engine.flush(0, START_MS + (step + 1) * SCRAPE_MS, false)));
      }
    }
    return { flushes, stats: engine.stats() };
  }

  it('collapses the duplicates of two HA senders into the single-sender result', async () => {
    const single = await run(true, () => ['b']);
    // Either replica may arrive first; the later sample of each interval wins either way.
    const pair = await run(true, (step) => (step % 3 === 0 ? ['b', 'a'] : ['a', 'b']));
    expect(single.flushes.every((flush) => flush.size > 0)).toBe(true);
    expect(pair.flushes).toEqual(single.flushes);
    // Every sample of replica a was superseded within its interval by replica b's.
    expect(pair.stats.duplicate).toBe(18 * 12);
    expect(pair.stats.samples).toBe(single.stats.samples);

    // Without dedup_interval both replicas count: the pair's result is not the single one.
    const undeduplicated = await run(false, (step) => (step % 3 === 0 ? ['b', 'a'] : ['a', 'b']));
    const countKey = 'queue_depth:30s_by_job_count_samples{job="api"}';
    expect(single.flushes[1]!.get(countKey)).toBe(36);
    expect(undeduplicated.flushes[1]!.get(countKey)).toBeGreaterThan(36);
  });

  it('keeps the larger value of two samples with equal timestamps, in either order', async () => {
    const [rule] = parseAggregationRules(
      [
        {
          match: 'g',
          interval: '10s',
          outputs: ['sum_samples', 'count_samples'],
          dedup_interval: '10s',
        },
      ],
      'dedup.yaml',
    );
    for (const values of [
      [3, 8],
      [8, 3],
    ]) {
      const engine = await AggregationEngine.load({ rules: [rule!], windowStartMs: START_MS });
      for (const value of values) {
        engine.ingest(
          request([{ labels: { __name__: 'g' }, value, timestampMs: START_MS + 2000 }]),
          false,
        );
      }
      const output = decodeOutput(engine.flush(0, START_MS + 10_000, false));
      expect(output.get('g:10s_sum_samples{}')).toBe(8);
      expect(output.get('g:10s_count_samples{}')).toBe(1);
    }
  });
});
