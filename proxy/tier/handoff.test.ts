import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import {
  LabelSchema,
  SampleSchema,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';
import { AggregationEngine } from '../aggregation/aggregation-engine.js';
import { parseAggregationRules } from '../pipeline/aggregation-config.js';
import { handoffCounts, splitHandoff } from './handoff-split.js';
import { MemberRing } from './routing-key.js';

const rules = parseAggregationRules(
  [{ match: 'requests_total', interval: '10s', by: ['job'], outputs: ['total'] }],
  'test.yaml',
);
const T0 = 1_700_000_000_000;
const OUTPUT = 'requests_total:10s_by_job_total';

/** One sample per `[job, pod, value]` at `timestampMs`, uncompressed. */
function request(
  timestampMs: number,
  samples: ReadonlyArray<[string, string, number]>,
): Uint8Array {
  return toBinary(
    WriteRequestSchema,
    create(WriteRequestSchema, {
      timeseries: samples.map(([job, pod, value]) =>
        create(TimeSeriesSchema, {
          labels: [
            create(LabelSchema, { name: '__name__', value: 'requests_total' }),
            create(LabelSchema, { name: 'job', value: job }),
            create(LabelSchema, { name: 'pod', value: pod }),
          ],
          samples: [create(SampleSchema, { value, timestamp: BigInt(timestampMs) })],
        }),
      ),
    }),
  );
}

function totals(engine: AggregationEngine, atMs: number): Record<string, number> {
  const output = engine.flush(0, atMs, false);
  const result: Record<string, number> = {};
  for (const series of fromBinary(WriteRequestSchema, output).timeseries) {
    const name = series.labels.find((label) => label.name === '__name__')?.value;
    const job = series.labels.find((label) => label.name === 'job')?.value ?? '';
    expect(name).toBe(OUTPUT);
    result[job] = series.samples[0]!.value;
  }
  return result;
}

async function engine(): Promise<AggregationEngine> {
  return AggregationEngine.load({ rules, windowStartMs: T0 });
}

/** Twelve jobs of two pods: counters at 100 + job, then +5 (pod 0) and +7 (pod 1). */
async function loadedEngine(): Promise<AggregationEngine> {
  const old = await engine();
  const jobs = Array.from({ length: 12 }, (_, job) => `job-${job}`);
  old.ingest(
    request(
      T0 + 1000,
      jobs.flatMap(
        (job, index): Array<[string, string, number]> => [
          [job, 'p0', 100 + index],
          [job, 'p1', 100 + index],
        ],
      ),
    ),
    false,
  );
  old.ingest(
    request(
      T0 + 2000,
      jobs.flatMap(
        (job, index): Array<[string, string, number]> => [
          [job, 'p0', 105 + index],
          [job, 'p1', 107 + index],
        ],
      ),
    ),
    false,
  );
  return old;
}

describe('aggregation hand-off between members', () => {
  it('moves totals and baselines: the new owner continues without a drop or a lost increase', async () => {
    const old = await loadedEngine();
    const split = splitHandoff(old.handoffExport(), new MemberRing(['new']), 'old');
    expect(split.givenAway).toHaveLength(12);
    expect(handoffCounts(split.parts.get('new')!)).toEqual({ groups: 12, series: 24 });
    expect(old.handoffRemove(split.givenAway)).toBe(12);
    expect(old.stats()).toMatchObject({ groups: 0, seriesTracked: 0 });
    expect(totals(old, T0 + 10_000)).toEqual({});

    const successor = await engine();
    expect(successor.handoffMerge(split.parts.get('new')!)).toBe(12);
    // The next samples count from the old owner's last values: +3 and +1, and pod 1 of
    // job-0 resets (its new value is its increase).
    successor.ingest(
      request(T0 + 3000, [
        ['job-0', 'p0', 108],
        ['job-0', 'p1', 4],
        ['job-1', 'p0', 109],
      ]),
      false,
    );
    const after = totals(successor, T0 + 10_000);
    expect(after['job-0']).toBe(12 + 3 + 4);
    expect(after['job-1']).toBe(12 + 3);
    expect(after['job-11']).toBe(12);
    expect(Object.keys(after)).toHaveLength(12);
  });

  it('gives away only the groups another member owns now, and adds to an existing group', async () => {
    const old = await loadedEngine();
    const ring = new MemberRing(['old', 'other']);
    const split = splitHandoff(old.handoffExport(), ring, 'old');
    const moved = handoffCounts(split.parts.get('other')!).groups;
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(12);
    old.handoffRemove(split.givenAway);
    const kept = totals(old, T0 + 10_000);
    expect(Object.keys(kept)).toHaveLength(12 - moved);
    expect(Object.values(kept).every((total) => total === 12)).toBe(true);

    // Merging the same groups twice adds their totals: hand-offs carry increments, so a
    // member never sends a group's state twice (it removes what it sent).
    const other = await engine();
    other.handoffMerge(split.parts.get('other')!);
    other.handoffMerge(split.parts.get('other')!);
    const doubled = totals(other, T0 + 10_000);
    expect(Object.values(doubled).every((total) => total === 24)).toBe(true);
  });

  it('refuses bytes that are not a hand-off and keeps its state', async () => {
    const successor = await loadedEngine();
    expect(() =>
      successor.handoffMerge(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])),
    ).toThrow('malformed aggregation hand-off');
    const truncated = successor.handoffExport().subarray(0, 40);
    expect(() => successor.handoffMerge(truncated)).toThrow('malformed aggregation hand-off');
    expect(successor.stats().groups).toBe(12);
    expect(() => splitHandoff(new Uint8Array(4), new MemberRing(['a']), 'b')).toThrow(
      'not an aggregation hand-off export',
    );
  });
});
