/**
 * Two-tier aggregation end to end, all on the loopback: two gateway proxies route
 * counters by aggregation group to three aggregator proxies, which write their outputs
 * to one receiver. Members come from DNS (SRV records served by a DNS server in this
 * test, re-resolved every 500 ms). Under load one aggregator is stopped (SIGTERM, removed
 * from DNS) and later a new one is added. Every output group's `total` must never go
 * down, and must end exactly at the sum of its inputs' increases: nothing dropped when
 * groups moved, nothing counted twice.
 */
import { createServer, type Server } from 'node:http';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { compressSync, uncompressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import {
  LabelSchema,
  SampleSchema,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';
import { startTestDnsServer, type TestDnsServer } from '../../proxy/membership/dns-test-server.js';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { LOOPBACK_HOST } from '../helpers/ports.js';

const METRIC = 'requests_total';
const INTERVAL_SECONDS = 3;
const BY_JOB = `${METRIC}:${INTERVAL_SECONDS}s_by_job_total`;
const WITHOUT_POD = `${METRIC}:${INTERVAL_SECONDS}s_without_pod_total`;
const SRV_NAME = '_phoenix._tcp.aggregators.test';
const JOBS = 8;
const INSTANCES = 2;
const PODS = 4;
const SEND_EVERY_MS = 250;

const CONFIG = {
  aggregations: [
    { match: METRIC, interval: `${INTERVAL_SECONDS}s`, by: ['job'], outputs: ['total'] },
    { match: METRIC, interval: `${INTERVAL_SECONDS}s`, without: ['pod'], outputs: ['total'] },
  ],
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Every sample of every series a path received, in arrival order. */
interface Receiver {
  readonly url: string;
  samples(path: string): Map<string, Array<[number, number]>>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const byPath = new Map<string, Map<string, Array<[number, number]>>>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://receiver').pathname;
      const decoded = fromBinary(
        WriteRequestSchema,
        uncompressSync(Buffer.concat(chunks)) as Buffer,
      );
      const mailbox = byPath.get(path) ?? new Map<string, Array<[number, number]>>();
      byPath.set(path, mailbox);
      for (const series of decoded.timeseries) {
        const key = series.labels.map((label) => `${label.name}=${label.value}`).join(',');
        const samples = mailbox.get(key) ?? [];
        for (const sample of series.samples) samples.push([Number(sample.timestamp), sample.value]);
        mailbox.set(key, samples);
      }
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK_HOST, () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://${LOOPBACK_HOST}:${address.port}`,
    samples: (path) => byPath.get(path) ?? new Map(),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface InputSeries {
  readonly job: string;
  readonly instance: string;
  readonly pod: string;
  value: number;
  /** Increases after the first sample, as an aggregator must count them. */
  increase: number;
  sent: number;
}

/**
 * Sends the counters like Prometheus shards do: one lane per gateway, each series always
 * through the same lane, one request at a time, the same request again after anything
 * but a 2xx. Counters grow by 1..5 per sample; a few reset once, early on.
 */
function startLoad(gateways: readonly RunningPhoenix[]) {
  const series: InputSeries[] = [];
  for (let job = 0; job < JOBS; job++) {
    for (let instance = 0; instance < INSTANCES; instance++) {
      for (let pod = 0; pod < PODS; pod++) {
        series.push({
          job: `job-${job}`,
          instance: `i-${instance}`,
          pod: `pod-${pod}`,
          value: 1000 * (pod + 1),
          increase: 0,
          sent: 0,
        });
      }
    }
  }
  let stopping = false;
  let round = 0;
  const failures = new Map<number, number>();
  const lane = async (index: number) => {
    const mine = series.filter((_, position) => position % gateways.length === index);
    let lastTimestamp = 0;
    while (!stopping) {
      const timestamp = Math.max(Date.now(), lastTimestamp + 1);
      lastTimestamp = timestamp;
      const resets = round >= 8 && round < 10;
      const values = mine.map((input, position) => {
        if (input.sent === 0) return input.value;
        const reset = resets && position % 7 === 0 && round === 8;
        return reset ? 1 + (position % 3) : input.value + 1 + ((round + position) % 5);
      });
      const body = compressSync(
        Buffer.from(
          toBinary(
            WriteRequestSchema,
            create(WriteRequestSchema, {
              timeseries: [
                ...mine.map((input, position) =>
                  create(TimeSeriesSchema, {
                    labels: [
                      create(LabelSchema, { name: '__name__', value: METRIC }),
                      create(LabelSchema, { name: 'instance', value: input.instance }),
                      create(LabelSchema, { name: 'job', value: input.job }),
                      create(LabelSchema, { name: 'pod', value: input.pod }),
                    ],
                    samples: [
                      create(SampleSchema, {
                        value: values[position]!,
                        timestamp: BigInt(timestamp),
                      }),
                    ],
                  }),
                ),
                create(TimeSeriesSchema, {
                  labels: [
                    create(LabelSchema, { name: '__name__', value: 'unaggregated_gauge' }),
                    create(LabelSchema, { name: 'lane', value: String(index) }),
                  ],
                  samples: [create(SampleSchema, { value: 1, timestamp: BigInt(timestamp) })],
                }),
              ],
            }),
          ),
        ),
      );
      for (;;) {
        try {
          const response = await fetch(gateways[index]!.remoteWriteUrl, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-protobuf',
              'content-encoding': 'snappy',
              'x-prometheus-remote-write-version': '0.1.0',
            },
            body,
          });
          await response.arrayBuffer();
          if (response.ok) break;
          failures.set(response.status, (failures.get(response.status) ?? 0) + 1);
        } catch {
          failures.set(0, (failures.get(0) ?? 0) + 1);
        }
        await sleep(100);
      }
      mine.forEach((input, position) => {
        const value = values[position]!;
        if (input.sent > 0) input.increase += value >= input.value ? value - input.value : value;
        input.value = value;
        input.sent++;
      });
      if (index === 0) round++;
      await sleep(SEND_EVERY_MS);
    }
  };
  const lanes = gateways.map((_, index) => lane(index));
  return {
    series,
    failures,
    async stop() {
      stopping = true;
      await Promise.all(lanes);
    },
  };
}

describe('two-tier aggregation: gateways route by group, aggregators hand groups off', () => {
  let dns: TestDnsServer;
  let receiver: Receiver;
  const aggregators = new Map<string, RunningPhoenix>();
  const gateways: RunningPhoenix[] = [];

  const memberName = (phoenix: RunningPhoenix) => new URL(phoenix.url).host;
  const publish = () =>
    dns.setSrv(
      SRV_NAME,
      [...aggregators.values()].map((phoenix) => ({
        target: LOOPBACK_HOST,
        port: Number(new URL(phoenix.url).port),
      })),
    );
  const tierArgs = () => [
    '--aggregation-members-dns',
    `${SRV_NAME}:0`,
    '--aggregation-dns-server',
    dns.address,
    '--aggregation-members-refresh',
    '500ms',
    '--retry-max-backoff',
    '500ms',
    '--otlp-grpc-listen',
    'off',
  ];
  const startAggregator = () =>
    startPhoenix({
      upstreamUrl: `${receiver.url}/out`,
      config: CONFIG,
      extraArgs: ['--aggregation-tier', 'aggregator', ...tierArgs()],
    });

  beforeAll(async () => {
    dns = await startTestDnsServer();
    receiver = await startReceiver();
    const started = await Promise.all([startAggregator(), startAggregator(), startAggregator()]);
    for (const phoenix of started) aggregators.set(memberName(phoenix), phoenix);
    publish();
    gateways.push(
      ...(await Promise.all(
        [0, 1].map(() =>
          startPhoenix({
            upstreamUrl: `${receiver.url}/raw`,
            config: CONFIG,
            extraArgs: tierArgs(),
          }),
        ),
      )),
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(
      [...gateways, ...aggregators.values()].map((phoenix) => phoenix.stop()),
    );
    await receiver?.close();
    await dns?.close();
  });

  it('keeps every summed counter output exact through a member leaving and one joining', async () => {
    const load = startLoad(gateways);
    await sleep(8_000);

    // Scale down: the member leaves DNS and gets SIGTERM, as a pod being deleted does.
    const [leavingName, leaving] = [...aggregators][0]!;
    aggregators.delete(leavingName);
    publish();
    await leaving.stop();
    expect(leaving.process.log()).toMatch(/"event":"tier_handoff_sent"/);
    await sleep(8_000);

    // Scale up: a new member starts, then appears in DNS.
    const joining = await startAggregator();
    aggregators.set(memberName(joining), joining);
    publish();
    await sleep(8_000);
    await load.stop();
    // Series go quiet; two more windows flush everything they sent.
    await sleep((2 * INTERVAL_SECONDS + 2) * 1000);

    const expected = new Map<string, number>();
    for (const input of load.series) {
      const byJob = `__name__=${BY_JOB},job=${input.job}`;
      const withoutPod = `__name__=${WITHOUT_POD},instance=${input.instance},job=${input.job}`;
      expected.set(byJob, (expected.get(byJob) ?? 0) + input.increase);
      expected.set(withoutPod, (expected.get(withoutPod) ?? 0) + input.increase);
    }
    const outputs = receiver.samples('/out');
    const problems: string[] = [];
    for (const [series, samples] of outputs) {
      const ordered = [...samples].sort((a, b) => a[0] - b[0]);
      for (let index = 1; index < ordered.length; index++) {
        const [previousTs, previous] = ordered[index - 1]!;
        const [timestamp, value] = ordered[index]!;
        if (timestamp === previousTs && value !== previous) {
          problems.push(`${series}: two members wrote ${previous} and ${value} at ${timestamp}`);
        } else if (value < previous) {
          problems.push(`${series}: dropped from ${previous} to ${value} at ${timestamp}`);
        }
      }
      const final = ordered.at(-1)![1];
      if (final !== expected.get(series)) {
        problems.push(`${series}: ended at ${final}, inputs increased by ${expected.get(series)}`);
      }
    }
    expect(problems).toEqual([]);
    // Each member aggregated a share; the joined one took groups over.
    expect(joining.process.log()).toMatch(/"event":"tier_handoff_received"/);
    // Series no rule selects went to the gateways' normal upstream, untouched.
    expect([...receiver.samples('/raw').keys()].sort()).toEqual([
      '__name__=unaggregated_gauge,lane=0',
      '__name__=unaggregated_gauge,lane=1',
    ]);
    expect(load.series.every((input) => input.sent > 50)).toBe(true);
  }, 90_000);
});
