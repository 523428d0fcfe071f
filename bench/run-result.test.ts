import { describe, expect, it } from 'vitest';
import { compare, median, type RunResult, summarise } from './run-result.js';

function run(target: RunResult['target'], round: number, cpu: number, rss: number): RunResult {
  return {
    target,
    scenario: 'passthrough',
    round,
    pushSeconds: 10,
    totalSeconds: 10,
    requests: 100,
    failedRequests: 0,
    samplesIn: 1_000_000,
    samplesExpectedOut: 1_000_000,
    samplesOut: 1_000_000,
    samplesLost: 0,
    seriesIn: 1_000_000,
    seriesOut: 1_000_000,
    distinctSeriesIn: 100_000,
    distinctSeriesOut: 100_000,
    bytesIn: 30_000_000,
    bytesOut: 30_000_000,
    cpuSeconds: cpu,
    cpuSecondsPerMillionSamples: cpu,
    samplesPerSecond: 100_000 * round,
    latencyP50Ms: 1,
    latencyP99Ms: 2 * round,
    peakRssBytes: rss,
    cpuByThread: [],
    firstError: undefined,
  };
}

describe('median', () => {
  const cases: Array<[number[], number]> = [
    [[], Number.NaN],
    [[3], 3],
    [[5, 1, 3], 3],
    [[4, 1, 3, 2], 2.5],
  ];
  for (const [values, expected] of cases) {
    it(`of [${values.join(', ')}] is ${expected}`, () => {
      expect(median(values)).toBe(expected);
    });
  }
});

describe('summarise and compare', () => {
  it('takes medians per target, the largest RSS, and divides Phoenix by vmagent', () => {
    const runs = [
      run('phoenix', 1, 1.0, 100),
      run('vmagent', 1, 2.0, 80),
      run('phoenix', 2, 3.0, 150),
      run('vmagent', 2, 2.0, 90),
      run('phoenix', 3, 0.8, 120),
      run('vmagent', 3, 4.0, 85),
    ];
    const summaries = summarise(runs);
    expect(
      summaries.map((s) => [s.target, s.runs, s.cpuSecondsPerMillionSamples, s.peakRssBytes]),
    ).toEqual([
      ['phoenix', 3, 1.0, 150],
      ['vmagent', 3, 2.0, 90],
    ]);
    expect(summaries[0]!.samplesIn).toBe(3_000_000);
    const [comparison] = compare(summaries);
    expect(comparison?.cpuRatio).toBe(0.5);
    expect(comparison?.peakRssRatio).toBeCloseTo(150 / 90);
  });

  it('compares nothing without vmagent runs', () => {
    expect(compare(summarise([run('phoenix', 1, 1, 1)]))).toEqual([]);
  });
});
