import { create } from '@bufbuild/protobuf';
import { beforeAll, describe, expect, it } from 'vitest';
import { SampleSchema, type TimeSeries } from '../../proto/gen/prometheus/types_pb.js';
import { seededRandom as random } from '../../test/helpers/seeded-random.js';
import { parseAggregationRules } from '../pipeline/aggregation-config.js';
import { compilePipeline } from '../pipeline/compile.js';
import { PipelineEngine } from '../pipeline/engine.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  decodeRequest,
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { AggregationEngine } from './aggregation-engine.js';
import {
  outputKey,
  ReferenceAggregator,
  type ReferenceOutput,
  type ReferenceRelabel,
  type ReferenceSeries,
  STALE_NAN,
} from './reference-aggregator.js';

const START_MS = 1_700_000_000_000;

const RULES = parseAggregationRules(
  [
    {
      match: '{__name__=~"requests_total|errors_total"}',
      interval: '10s',
      without: ['pod', 'instance'],
      outputs: ['total', 'increase', 'count_series', 'rate_sum', 'rate_avg', 'total_prometheus'],
    },
    {
      match: ['temperature', '{__name__="requests_total",job="api"}'],
      interval: '10s',
      by: ['job'],
      outputs: ['sum_samples', 'count_samples', 'last', 'min', 'max', 'avg', 'count_series'],
      staleness_interval: '30s',
    },
    {
      match: '{__name__="requests_total"}',
      interval: '10s',
      by: ['tier'],
      outputs: ['total', 'sum_samples'],
      input_relabel_configs: [
        { source_labels: ['job'], regex: '(a)pi', target_label: 'tier', replacement: '$1-tier' },
        { action: 'drop', source_labels: ['pod'], regex: 'pod-(1|2)' },
      ],
      output_relabel_configs: [
        { action: 'drop', source_labels: ['tier'], regex: '' },
        { target_label: 'source', replacement: 'phoenix' },
      ],
    },
    {
      match: '{__name__=~"temperature|requests_total"}',
      interval: '10s',
      by: ['job'],
      outputs: ['quantiles(0, 0.25, 0.5, 0.9, 0.99, 1)', 'count_samples'],
    },
    {
      match: '{__name__=~"temperature|errors_total"}',
      interval: '10s',
      without: ['pod', 'instance'],
      outputs: ['total', 'sum_samples', 'count_samples', 'last', 'quantiles(0.5)'],
      dedup_interval: '2s',
    },
  ],
  'test.yaml',
);

/** What the relabel configs of rule 2 above do, stated plainly for the reference model. */
const REFERENCE_RELABEL: ReferenceRelabel = {
  input: (rule, labels) => {
    const result = new Map(labels);
    if (rule !== 2) return result;
    if (/^pod-(1|2)$/.test(labels.get('pod') ?? '')) return null;
    if (labels.get('job') === 'api') result.set('tier', 'a-tier');
    return result;
  },
  output: (rule, labels) => {
    const result = new Map(labels);
    if (rule !== 2) return result;
    if ((labels.get('tier') ?? '') === '') return null;
    result.set('source', 'phoenix');
    return result;
  },
};

/** The relabel stage the workers run before aggregation: drops a label on every series. */
const RELABEL = compilePipeline(
  parsePipelineConfig(
    'relabel_configs:\n  - action: labeldrop\n    regex: scratch\n',
    'relabel.yaml',
  ),
);

interface Step {
  /** Requests of this step, each a list of input series (labels include `scratch`). */
  readonly requests: ReferenceSeries[][];
  /** Flush every rule at this time after the requests, when set. */
  readonly flushAtMs: number | undefined;
}

/**
 * A random workload: counters with resets, gaps, duplicates, late samples, stale markers,
 * NaNs and series that come and go; gauges; requests of random composition.
 */
function workload(seed: number, steps: number, seriesMayDisappear = true): Step[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const series = Array.from({ length: 24 }, (_, i) => ({
    labels: new Map([
      ['__name__', pick(['requests_total', 'errors_total', 'temperature'])],
      ['job', pick(['api', 'web'])],
      ['pod', `pod-${i}`],
      ['instance', `10.0.0.${i % 5}:9100`],
      ['scratch', `x${i}`],
    ]),
    value: Math.floor(next() * 100),
    lastTs: 0,
    alive: next() < 0.7,
  }));
  const result: Step[] = [];
  for (let step = 1; step <= steps; step++) {
    const nowMs = START_MS + step * 1000;
    const samples: ReferenceSeries[] = [];
    for (const s of series) {
      if (next() < 0.03 && (seriesMayDisappear || !s.alive)) s.alive = !s.alive;
      if (!s.alive || next() < 0.1) continue;
      const roll = next();
      let value: number;
      let timestampMs = nowMs - Math.floor(next() * 500);
      if (roll < 0.05 && s.lastTs > 0) {
        value = s.value; // duplicate of the last sample
        timestampMs = s.lastTs;
      } else if (roll < 0.08) {
        value = s.value;
        timestampMs = nowMs - 25_000 - Math.floor(next() * 10_000); // late
      } else if (roll < 0.1) {
        value = STALE_NAN;
      } else if (roll < 0.11) {
        value = Number.NaN;
      } else if (roll < 0.16) {
        s.value = Math.floor(next() * 5); // counter reset
        value = s.value;
      } else {
        s.value +=
          s.labels.get('__name__') === 'temperature' ? next() * 4 - 2 : Math.floor(next() * 10);
        value = s.value;
      }
      if (value === s.value && timestampMs > s.lastTs && !Number.isNaN(value))
        s.lastTs = timestampMs;
      samples.push({ labels: s.labels, samples: [{ value, timestampMs }] });
    }
    const requests: ReferenceSeries[][] = [];
    for (const sample of samples) {
      if (requests.length === 0 || next() < 0.3) requests.push([]);
      requests[requests.length - 1]!.push(sample);
    }
    result.push({ requests, flushAtMs: step % 10 === 0 ? START_MS + step * 1000 : undefined });
  }
  return result;
}

function toTimeSeries(input: ReferenceSeries): TimeSeries {
  const series = seriesWith(sortedLabels(Object.fromEntries(input.labels)), 0);
  series.samples = input.samples.map((sample) =>
    create(SampleSchema, { value: sample.value, timestamp: BigInt(sample.timestampMs) }),
  );
  return series;
}

function withoutScratch(input: ReferenceSeries): ReferenceSeries {
  const labels = new Map(input.labels);
  labels.delete('scratch');
  return { labels, samples: input.samples };
}

function decodeOutput(bytes: Uint8Array): ReferenceOutput {
  const output: ReferenceOutput = new Map();
  if (bytes.length === 0) return output;
  for (const series of decodeRequest(bytes).timeseries) {
    const labels = new Map(series.labels.map((label) => [label.name, label.value]));
    expect(series.samples).toHaveLength(1);
    output.set(outputKey(labels), series.samples[0]!.value);
  }
  return output;
}

/** Runs the workload through `workers` relabel engines (random assignment) into one state. */
async function runPipeline(
  steps: Step[],
  workers: PipelineEngine[],
  seed: number,
  restartAtStep?: number,
): Promise<{ flushes: ReferenceOutput[]; engine: AggregationEngine }> {
  const next = random(seed);
  let engine = await AggregationEngine.load({ rules: RULES, windowStartMs: START_MS });
  const flushes: ReferenceOutput[] = [];
  for (const [index, step] of steps.entries()) {
    if (index === restartAtStep) {
      const snapshot = engine.snapshot();
      engine = await AggregationEngine.load({ rules: RULES, windowStartMs: START_MS });
      expect(engine.restore(snapshot)).toBe(true);
    }
    for (const request of step.requests) {
      const body = encodeRequest(writeRequest(request.map(toTimeSeries)));
      const worker = workers[Math.floor(next() * workers.length)]!;
      const result = worker.processRemoteWrite(body, { snappyIn: false });
      engine.ingest(result.unchanged ? body : result.output, !result.unchanged);
    }
    if (step.flushAtMs !== undefined) {
      for (let rule = 0; rule < RULES.length; rule++) {
        flushes.push(decodeOutput(engine.flush(rule, step.flushAtMs, false)));
      }
    }
  }
  return { flushes, engine };
}

function runReference(steps: Step[]): {
  flushes: ReferenceOutput[];
  reference: ReferenceAggregator;
} {
  const reference = new ReferenceAggregator(RULES, START_MS, REFERENCE_RELABEL);
  const flushes: ReferenceOutput[] = [];
  for (const step of steps) {
    for (const request of step.requests) reference.ingest(request.map(withoutScratch));
    if (step.flushAtMs !== undefined) {
      for (let rule = 0; rule < RULES.length; rule++)
        flushes.push(reference.flush(rule, step.flushAtMs));
    }
  }
  return { flushes, reference };
}

function expectSameOutputs(actual: ReferenceOutput[], expected: ReferenceOutput[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((flush, index) => {
    expect([...flush.keys()].sort(), `flush ${index}`).toEqual([...expected[index]!.keys()].sort());
    for (const [key, value] of expected[index]!) {
      expect(flush.get(key), `flush ${index} ${key}`).toBeCloseTo(value, 6);
    }
  });
}

describe('AggregationEngine against the reference model', () => {
  let pool: PipelineEngine[];
  beforeAll(async () => {
    pool = await Promise.all(Array.from({ length: 4 }, () => PipelineEngine.load()));
    for (const worker of pool) worker.use(RELABEL);
  });

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`matches the reference for 1, 2 and 4 workers (seed ${seed})`, async () => {
      const steps = workload(seed, 120);
      const { flushes: expected, reference } = runReference(steps);
      expect(expected.some((flush) => flush.size > 0)).toBe(true);
      // Rule 2's relabeling is exercised: its outputs exist and carry the output label.
      const relabeledKeys = expected
        .flatMap((flush) => [...flush.keys()])
        .filter((key) => key.includes('_by_tier_'));
      expect(relabeledKeys.length).toBeGreaterThan(0);
      for (const key of relabeledKeys) expect(key).toContain('source="phoenix",tier="a-tier"');
      // Quantiles (rules 3 and 4) and the dedup rule (4) are exercised too.
      const keys = expected.flatMap((flush) => [...flush.keys()]);
      expect(
        keys.some((key) => key.includes('_by_job_quantiles{') && key.includes('quantile="0.99"')),
      ).toBe(true);
      expect(
        keys.some((key) => key.startsWith('errors_total:10s_without_instance_pod_quantiles{')),
      ).toBe(true);
      for (const workers of [1, 2, 4]) {
        const { flushes, engine } = await runPipeline(
          steps,
          pool.slice(0, workers),
          seed * 31 + workers,
        );
        expectSameOutputs(flushes, expected);
        const stats = engine.stats();
        expect(stats.late).toBe(reference.late);
        expect(stats.duplicate).toBe(reference.duplicate);
        expect(stats.samples).toBe(reference.accepted);
      }
    });
  }

  it('continues exactly after a snapshot is restored into a fresh instance', async () => {
    const steps = workload(9, 120);
    const { flushes: expected } = runReference(steps);
    const { flushes } = await runPipeline(steps, pool.slice(0, 2), 7, 65);
    expectSameOutputs(flushes, expected);
  });

  it('keeps counter totals monotonic through resets, gaps and new series', async () => {
    // Series appear but never all leave a group, so every group lives throughout.
    const steps = workload(11, 200, false);
    const { flushes } = await runPipeline(steps, pool.slice(0, 1), 3);
    let compared = 0;
    flushes.forEach((flush, index) => {
      // Flushes alternate between the rules; compare with the previous one of this rule.
      const previous = flushes[index - RULES.length];
      for (const [key, value] of flush) {
        if (!/_total(_prometheus)?\{/.test(key)) continue;
        const before = previous?.get(key);
        if (before === undefined) continue;
        expect(value, key).toBeGreaterThanOrEqual(before);
        compared++;
      }
    });
    expect(compared).toBeGreaterThan(20);
  });
});
