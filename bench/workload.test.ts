import { uncompressSync } from 'snappy';
import { describe, expect, it } from 'vitest';
import { decodeRequest, labelRecord } from '../proxy/pipeline/remote-write-fixtures.js';
import { metricIdsCovering, scenarioFor } from './scenarios.js';
import { sampleValue, Workload } from './workload.js';

const SERIES = 6_000;
const PER_REQUEST = 1_000;
const workload = new Workload({ seriesCount: SERIES, seriesPerRequest: PER_REQUEST });

function decodeBody(sequence: number) {
  return decodeRequest(uncompressSync(Buffer.from(workload.body(sequence))) as Buffer);
}

describe('Workload', () => {
  it('splits the series into requests of the asked size', () => {
    expect(workload.requestsPerRound).toBe(SERIES / PER_REQUEST);
    const sizes = workload.requests.map((request) => request.sampleOffsets.length);
    expect(sizes).toEqual(Array(SERIES / PER_REQUEST).fill(PER_REQUEST));
    expect(workload.seriesPerMetric.reduce((sum, count) => sum + count, 0)).toBe(SERIES);
  });

  it('sends every series once per round, each with 9 to 13 sorted labels', () => {
    const seen = new Set<string>();
    const labelCounts = new Set<number>();
    for (let sequence = 0; sequence < workload.requestsPerRound; sequence++) {
      for (const series of decodeBody(sequence).timeseries) {
        const names = series.labels.map((label) => label.name);
        expect(names).toEqual([...names].sort());
        labelCounts.add(names.length);
        seen.add(JSON.stringify(labelRecord(series)));
        expect(series.samples).toHaveLength(1);
      }
    }
    expect(seen.size).toBe(SERIES);
    expect(Math.min(...labelCounts)).toBeGreaterThanOrEqual(9);
    expect(Math.max(...labelCounts)).toBeLessThanOrEqual(13);
    expect(labelCounts.size).toBeGreaterThanOrEqual(4);
  });

  it('has counters, histogram buckets and cAdvisor-like series', () => {
    expect(workload.metricNames).toEqual(
      expect.arrayContaining([
        'http_requests_total',
        'http_request_duration_seconds_bucket',
        'container_cpu_usage_seconds_total',
      ]),
    );
  });

  it('advances timestamps and counter values round after round', () => {
    const rounds = [0, 1, 2].map((round) => decodeBody(round * workload.requestsPerRound + 2));
    const seriesIndex = 2 * PER_REQUEST + 5;
    const samples = rounds.map((request) => request.timeseries[5]!.samples[0]!);
    expect(samples.map((sample) => Number(sample.timestamp))).toEqual(
      [0, 1, 2].map(
        (round) =>
          workload.startTimestampMs + round * workload.roundIntervalMs + (seriesIndex % 1000),
      ),
    );
    expect(samples.map((sample) => sample.value)).toEqual(
      [0, 1, 2].map((round) => sampleValue(seriesIndex, round)),
    );
    // Same series in every round: only the samples move.
    const labels = rounds.map((request) => JSON.stringify(labelRecord(request.timeseries[5]!)));
    expect(new Set(labels).size).toBe(1);
  });

  it('compresses like a real sender (about 8x or better)', () => {
    expect(workload.uncompressedBytesPerRound / workload.compressedBytesPerRound).toBeGreaterThan(
      6,
    );
  });

  it('refuses nonsense sizes', () => {
    expect(() => new Workload({ seriesCount: 0, seriesPerRequest: 10 })).toThrow(/seriesCount 0/);
    expect(() => new Workload({ seriesCount: 10, seriesPerRequest: 1.5 })).toThrow(
      /seriesPerRequest 1.5/,
    );
  });
});

describe('scenarios', () => {
  it('drops about 30% of the series by metric name', () => {
    const dropped = metricIdsCovering(workload, 0.3);
    const droppedSeries = [...dropped].reduce((sum, id) => sum + workload.seriesPerMetric[id]!, 0);
    expect(droppedSeries / SERIES).toBeGreaterThan(0.25);
    expect(droppedSeries / SERIES).toBeLessThan(0.35);
    const kept = workload.requests.reduce(
      (sum, _request, index) => sum + workload.keptSeries(index, dropped),
      0,
    );
    expect(kept).toBe(SERIES - droppedSeries);
  });

  it('drop rules name exactly the dropped metrics', () => {
    const scenario = scenarioFor('drop', workload);
    const regex = new RegExp(`^(?:${String(scenario.relabelConfigs[0]!['regex'])})$`);
    workload.metricNames.forEach((name, id) => {
      expect(regex.test(name)).toBe(scenario.droppedMetricIds.has(id));
    });
  });

  it('labeldrop removes five labels that the workload carries', () => {
    const scenario = scenarioFor('labeldrop', workload);
    const names = String(scenario.relabelConfigs[0]!['regex']).split('|');
    expect(names).toHaveLength(5);
    const carried = new Set(decodeBody(0).timeseries.flatMap((s) => s.labels.map((l) => l.name)));
    for (const name of names) expect(carried.has(name)).toBe(true);
  });
});
