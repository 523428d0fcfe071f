import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { uncompress } from 'snappyjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExportMetricsServiceRequestSchema } from '../../proto/gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { AggregationTemporality } from '../../proto/gen/opentelemetry/proto/metrics/v1/metrics_pb.js';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import { type DeltaAccumulation, deltaAccumulation } from './delta-accumulation.js';
import { deltaSnapshotPath } from './delta-snapshot.js';
import { OtlpConverter } from './otlp-converter.js';

const T0_MS = 1_700_000_000_000;

/** Delta series of one `requests` point, as a worker hands them over (a buffer of its own). */
function deltaSeries(startMs: number, endMs: number, value: number): Uint8Array {
  const message = create(ExportMetricsServiceRequestSchema, {
    resourceMetrics: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { value: { case: 'stringValue', value: 'api' } } },
          ],
        },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'requests',
                data: {
                  case: 'sum',
                  value: {
                    isMonotonic: true,
                    aggregationTemporality: AggregationTemporality.DELTA,
                    dataPoints: [
                      {
                        startTimeUnixNano: BigInt(startMs) * 1_000_000n,
                        timeUnixNano: BigInt(endMs) * 1_000_000n,
                        value: { case: 'asDouble', value },
                      },
                    ],
                  },
                },
              },
            ],
          },
        ],
      },
    ],
  });
  const converted = new OtlpConverter({ keepNames: false }).convert(
    toBinary(ExportMetricsServiceRequestSchema, message),
    false,
  );
  return converted.deltaRw1!.slice();
}

function totalOf(payload: Uint8Array | undefined): number | undefined {
  if (payload === undefined) return undefined;
  const request = fromBinary(WriteRequestSchema, uncompress(payload));
  return request.timeseries[0]?.samples[0]?.value;
}

describe('deltaAccumulation (the accumulator thread)', () => {
  let dataDir: string;
  const events: Array<[string, string, Record<string, unknown>]> = [];
  const started: DeltaAccumulation[] = [];
  const start = (dir: string | undefined) => {
    const accumulation = deltaAccumulation({
      dataDir: dir,
      onEvent: (level, event, fields) => events.push([level, event, fields]),
    });
    started.push(accumulation);
    return accumulation;
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'phoenix-delta-'));
    events.length = 0;
  });
  afterEach(async () => {
    await Promise.all(started.map((accumulation) => accumulation.close()));
    started.length = 0;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps running totals across a restart through its snapshot in the data dir', async () => {
    const first = start(dataDir);
    expect(totalOf((await first.accumulate(deltaSeries(T0_MS, T0_MS + 10_000, 5))).payload)).toBe(
      5,
    );
    expect(
      totalOf((await first.accumulate(deltaSeries(T0_MS + 10_000, T0_MS + 20_000, 2))).payload),
    ).toBe(7);
    await first.close();
    const snapshot = JSON.parse(await readFile(deltaSnapshotPath(dataDir), 'utf8'));
    expect(snapshot.series).toHaveLength(1);

    const second = start(dataDir);
    const next = await second.accumulate(deltaSeries(T0_MS + 20_000, T0_MS + 30_000, 1));
    expect(totalOf(next.payload)).toBe(8);
    expect(events.map(([, event, fields]) => [event, fields])).toContainEqual([
      'otlp_delta_state_restored',
      { series: 1 },
    ]);
    // A point the snapshot already holds is refused, not counted twice.
    const replay = await second.accumulate(deltaSeries(T0_MS + 10_000, T0_MS + 20_000, 2));
    expect(replay.payload).toBeUndefined();
    expect(replay.rejected).toBe(1);
  });

  it('starts empty, with a warning, from a snapshot it cannot read', async () => {
    await mkdir(path.dirname(deltaSnapshotPath(dataDir)), { recursive: true });
    await writeFile(deltaSnapshotPath(dataDir), '{"format":"something else"}');
    const accumulation = start(dataDir);
    const result = await accumulation.accumulate(deltaSeries(T0_MS, T0_MS + 10_000, 3));
    expect(totalOf(result.payload)).toBe(3);
    expect(events).toContainEqual([
      'warn',
      'otlp_delta_snapshot_ignored',
      { reason: 'not an OTLP delta snapshot' },
    ]);
  });

  it('keeps the totals in memory only without a data dir', async () => {
    const first = start(undefined);
    await first.accumulate(deltaSeries(T0_MS, T0_MS + 10_000, 4));
    await first.close();
    const second = start(undefined);
    const result = await second.accumulate(deltaSeries(T0_MS + 10_000, T0_MS + 20_000, 1));
    expect(totalOf(result.payload)).toBe(1);
    await expect(first.accumulate(deltaSeries(T0_MS, T0_MS + 1, 1))).rejects.toThrow(
      'delta accumulator is closed',
    );
  });
});
