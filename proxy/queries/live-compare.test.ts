import { create } from '@bufbuild/protobuf';
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LabelSchema,
  SampleSchema,
  type TimeSeries,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';
import { freePort } from '../../test/helpers/ports.js';
import { type RunningPrometheus, startPrometheus } from '../../test/helpers/prometheus.js';
import { encodeRequest, sortedLabels, writeRequest } from '../pipeline/remote-write-fixtures.js';
import { compareLive, type LiveComparison, relativeDivergence } from './live-compare.js';

const STEP_SECONDS = 15;
const POINTS = 20;
/** The window: the last POINTS steps, aligned to the step so every point is a sample. */
const END_SECONDS = Math.floor(Date.now() / 1000 / STEP_SECONDS) * STEP_SECONDS;
const START_SECONDS = END_SECONDS - (POINTS - 1) * STEP_SECONDS;

let baseline: RunningPrometheus;
let candidate: RunningPrometheus;

/** One series with a sample at every step of the window, value `valueAt(step)`. */
function series(labels: Record<string, string>, valueAt: (step: number) => number): TimeSeries {
  return create(TimeSeriesSchema, {
    labels: sortedLabels(labels).map(([name, value]) => create(LabelSchema, { name, value })),
    samples: Array.from({ length: POINTS }, (_, step) =>
      create(SampleSchema, {
        value: valueAt(step),
        timestamp: BigInt((START_SECONDS + step * STEP_SECONDS) * 1000),
      }),
    ),
  });
}

async function remoteWrite(server: RunningPrometheus, timeseries: TimeSeries[]): Promise<void> {
  const response = await fetch(server.remoteWriteUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-protobuf',
      'Content-Encoding': 'snappy',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
    },
    body: compressSync(Buffer.from(encodeRequest(writeRequest(timeseries)))),
  });
  expect(response.status, await response.text()).toBe(204);
}

beforeAll(async () => {
  const config = { global: { scrape_interval: '1m' } };
  [baseline, candidate] = await Promise.all([
    startPrometheus({ name: 'baseline', config, remoteWriteReceiver: true }),
    startPrometheus({ name: 'candidate', config, remoteWriteReceiver: true }),
  ]);
  const counter = (step: number) => 100 + step * 30;
  const shared = [
    series({ __name__: 'requests_total', job: 'api', pod: 'a' }, counter),
    series({ __name__: 'requests_total', job: 'api', pod: 'b' }, (step) => counter(step) * 2),
  ];
  await remoteWrite(baseline, [
    ...shared,
    series({ __name__: 'memory_bytes', pod: 'a' }, () => 1000),
    series({ __name__: 'memory_bytes', pod: 'b' }, () => 2000),
    series({ __name__: 'queue_depth', pod: 'a' }, () => 5),
  ]);
  await remoteWrite(candidate, [
    ...shared,
    series({ __name__: 'memory_bytes', pod: 'a' }, () => 1000),
    // 10 % off from step 10 on.
    series({ __name__: 'memory_bytes', pod: 'b' }, (step) => (step >= 10 ? 1800 : 2000)),
    series({ __name__: 'queue_depth', pod: 'a' }, () => 5.0004),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([baseline?.stop(), candidate?.stop()]);
});

function compare(queries: string[], candidateUrl = candidate.url): Promise<LiveComparison[]> {
  return compareLive({
    baselineUrl: baseline.url,
    candidateUrl,
    queries,
    startSeconds: START_SECONDS,
    endSeconds: END_SECONDS,
    stepSeconds: STEP_SECONDS,
    relativeTolerance: 0.001,
  });
}

describe('compareLive against two real Prometheus servers', () => {
  it('reports equal answers as a match, with the series and points compared', async () => {
    const [result] = await compare(['sum by (job) (rate(requests_total[1m]))']);
    expect(result).toMatchObject({ status: 'match', series: 1 });
    if (result!.status === 'match') expect(result!.points).toBeGreaterThan(10);
    const [raw] = await compare(['requests_total']);
    expect(raw).toMatchObject({ status: 'match', series: 2, points: 2 * POINTS });
  });

  it('reports the largest divergence and the series where it is', async () => {
    const [result] = await compare(['memory_bytes']);
    expect(result).toMatchObject({
      status: 'diverged',
      maxRelativeDivergence: 0.1,
      divergedSeries: ['{__name__="memory_bytes", pod="b"}'],
      onlyInBaseline: [],
      onlyInCandidate: [],
      worst: {
        series: '{__name__="memory_bytes", pod="b"}',
        timestampSeconds: START_SECONDS + 10 * STEP_SECONDS,
        baselineValue: 2000,
        candidateValue: 1800,
      },
    });
  });

  it('counts a series on one side only, or a missing point, as diverged by 1', async () => {
    const [onlyCandidate] = await compare(['queue_depth > 5.0001']);
    expect(onlyCandidate).toMatchObject({
      status: 'diverged',
      maxRelativeDivergence: 1,
      onlyInBaseline: [],
      onlyInCandidate: ['{__name__="queue_depth", pod="a"}'],
      worst: { series: '{__name__="queue_depth", pod="a"}', timestampSeconds: undefined },
    });
    const [missingPoints] = await compare(['memory_bytes > 1900']);
    expect(missingPoints).toMatchObject({
      status: 'diverged',
      maxRelativeDivergence: 1,
      divergedSeries: ['{__name__="memory_bytes", pod="b"}'],
      worst: {
        timestampSeconds: START_SECONDS + 10 * STEP_SECONDS,
        baselineValue: 2000,
        candidateValue: undefined,
      },
    });
  });

  it('accepts differences within the tolerance', async () => {
    const [tight] = await compare(['queue_depth']);
    expect(tight!.status).toBe('match');
    const [loose] = await compareLive({
      baselineUrl: baseline.url,
      candidateUrl: candidate.url,
      queries: ['queue_depth'],
      startSeconds: START_SECONDS,
      endSeconds: END_SECONDS,
      stepSeconds: STEP_SECONDS,
      relativeTolerance: 0.00001,
    });
    expect(loose).toMatchObject({
      status: 'diverged',
      divergedSeries: ['{__name__="queue_depth", pod="a"}'],
    });
  });

  it('reports no_data when neither side has series', async () => {
    expect(await compare(['nothing_here_total'])).toMatchObject([{ status: 'no_data' }]);
  });

  it('reports errors with the side and the message', async () => {
    const [both] = await compare(['sum(rate(requests_total[1m])']);
    expect(both).toMatchObject({ status: 'error', side: 'both' });
    if (both!.status === 'error')
      expect(both!.message).toMatch(/^HTTP 400 bad_data: .*parse error/);
    const closedPort = `http://127.0.0.1:${await freePort()}`;
    const [candidateDown] = await compare(['requests_total'], closedPort);
    expect(candidateDown).toMatchObject({ status: 'error', side: 'candidate' });
    if (candidateDown!.status === 'error')
      expect(candidateDown!.message).toMatch(/fetch failed: .*ECONNREFUSED/);
  });

  it('refuses bad options with the field', async () => {
    await expect(compare(['up'], 'not a url')).rejects.toThrow(
      'candidateUrl "not a url" is not a URL',
    );
  });
});

describe('relativeDivergence', () => {
  const cases: [number | undefined, number | undefined, number][] = [
    [1, 1, 0],
    [0, 0, 0],
    [100, 90, 0.1],
    [-100, -90, 0.1],
    [1, -1, 2],
    [Number.NaN, Number.NaN, 0],
    [Number.NaN, 1, 1],
    [1, undefined, 1],
    [undefined, undefined, 0],
  ];
  for (const [a, b, expected] of cases) {
    it(`${a} vs ${b} → ${expected}`, () =>
      expect(relativeDivergence(a, b)).toBeCloseTo(expected, 12));
  }
});
