/**
 * Aggregation through the real proxy: the same traffic through 1, 2 and 4 pipeline
 * workers gives the same aggregated counters, equal to the sum of the inputs' increases.
 */
import { create } from '@bufbuild/protobuf';
import { compressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { SampleSchema } from '../../proto/gen/prometheus/types_pb.js';
import {
  type RemoteWriteReceiver,
  startRemoteWriteReceiver,
} from '../../test/helpers/remote-write-receiver.js';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { startProxy } from '../server/proxy.js';
import { ServerScope } from '../server/test-support.js';

const PIPELINE = parsePipelineConfig(
  [
    'aggregations:',
    '  - match: jobs_done_total',
    '    interval: 1h',
    '    without: [pod]',
    '    outputs: [total]',
  ].join('\n'),
  'phoenix.yaml',
);

const SHARDS = 4;
const PODS_PER_SHARD = 5;
const ROUNDS = 12;

/** Counter values per shard, round and pod, with a reset of some pods half-way. */
function value(shard: number, pod: number, round: number): number {
  const resetAt = (shard + pod) % 3 === 0 ? 6 : Number.POSITIVE_INFINITY;
  const step = 1 + ((shard * 7 + pod * 3) % 5);
  return round < resetAt ? 100 + round * step : (round - resetAt) * step;
}

/** The increase a correct aggregation counts: the first sample is a baseline. */
function expectedTotal(shards = Array.from({ length: SHARDS }, (_, shard) => shard)): number {
  let total = 0;
  for (const shard of shards) {
    for (let pod = 0; pod < PODS_PER_SHARD; pod++) {
      for (let round = 1; round < ROUNDS; round++) {
        const before = value(shard, pod, round - 1);
        const now = value(shard, pod, round);
        total += now >= before ? now - before : now;
      }
    }
  }
  return total;
}

function body(shard: number, round: number): Uint8Array {
  const series = Array.from({ length: PODS_PER_SHARD }, (_, pod) => {
    const s = seriesWith(
      sortedLabels({ __name__: 'jobs_done_total', job: 'batch', pod: `s${shard}-p${pod}` }),
      0,
    );
    s.samples = [
      create(SampleSchema, {
        value: value(shard, pod, round),
        timestamp: BigInt(Date.now() - 60_000 + round * 1000),
      }),
    ];
    return s;
  });
  return new Uint8Array(compressSync(Buffer.from(encodeRequest(writeRequest(series)))));
}

async function post(url: string, payload: Uint8Array): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    body: payload,
    headers: {
      'Content-Type': 'application/x-protobuf',
      'Content-Encoding': 'snappy',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
    },
  });
  await response.arrayBuffer();
  expect(response.status).toBe(204);
}

describe('aggregation in the proxy', () => {
  const scope = new ServerScope();
  afterEach(() => scope.closeAll());

  async function totalWith(workers: number): Promise<{ total: number | undefined; raw: number }> {
    const receiver: RemoteWriteReceiver = scope.add(await startRemoteWriteReceiver());
    const proxy = await startProxy({
      upstreamUrl: `${receiver.url}/write`,
      listenPort: 0,
      workers,
      pipeline: PIPELINE,
      dataDir: undefined,
    });
    const url = `http://127.0.0.1:${proxy.port}/api/v1/write`;
    // Like a remote-write sender: shards in parallel, one request in flight per shard.
    await Promise.all(
      Array.from({ length: SHARDS }, async (_, shard) => {
        for (let round = 0; round < ROUNDS; round++) await post(url, body(shard, round));
      }),
    );
    await proxy.close();
    const series = receiver.series('/write');
    const aggregated = series.find(
      (s) => s.labels.__name__ === 'jobs_done_total:1h_without_pod_total',
    );
    const raw = series.filter((s) => s.labels.__name__ === 'jobs_done_total').length;
    return { total: aggregated?.lastValue, raw };
  }

  it('gives the same exact total for 1, 2 and 4 workers', async () => {
    const expected = expectedTotal();
    expect(expected).toBeGreaterThan(0);
    for (const workers of [1, 2, 4]) {
      const { total, raw } = await totalWith(workers);
      expect(total, `${workers} workers`).toBe(expected);
      // keep_input is false: the raw pod series were not forwarded.
      expect(raw).toBe(0);
    }
  }, 60_000);

  it('relabels input and output and, with drop_input, forwards only aggregated series', async () => {
    const pipeline = parsePipelineConfig(
      [
        'aggregations:',
        '  - match: jobs_done_total',
        '    interval: 1h',
        '    by: [team]',
        '    outputs: [total]',
        '    drop_input: true',
        '    input_relabel_configs:',
        '      - source_labels: [pod]',
        "        regex: 's(\\d)-.*'",
        '        target_label: team',
        '        replacement: team-$1',
        '    output_relabel_configs:',
        '      - target_label: tier',
        '        replacement: aggregated',
      ].join('\n'),
      'phoenix.yaml',
    );
    const receiver: RemoteWriteReceiver = scope.add(await startRemoteWriteReceiver());
    const proxy = await startProxy({
      upstreamUrl: `${receiver.url}/write`,
      listenPort: 0,
      workers: 2,
      pipeline,
      dataDir: undefined,
    });
    const url = `http://127.0.0.1:${proxy.port}/api/v1/write`;
    const unmatched = seriesWith(sortedLabels({ __name__: 'up', job: 'batch' }));
    await post(
      url,
      new Uint8Array(compressSync(Buffer.from(encodeRequest(writeRequest([unmatched]))))),
    );
    await Promise.all(
      [0, 1].map(async (shard) => {
        for (let round = 0; round < ROUNDS; round++) await post(url, body(shard, round));
      }),
    );
    await proxy.close();
    const series = receiver.series('/write');
    expect(series.map((s) => s.labels.__name__)).not.toContain('up');
    expect(series.map((s) => s.labels.__name__)).not.toContain('jobs_done_total');
    for (const shard of [0, 1]) {
      const output = series.find((s) => s.labels.team === `team-${shard}`);
      expect(output?.labels).toEqual({
        __name__: 'jobs_done_total:1h_by_team_total',
        team: `team-${shard}`,
        tier: 'aggregated',
      });
      expect(output?.lastValue).toBe(expectedTotal([shard]));
    }
  }, 30_000);
});
