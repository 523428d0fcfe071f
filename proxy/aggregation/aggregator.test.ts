import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { compressSync, uncompressSync } from 'snappy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SampleSchema } from '../../proto/gen/prometheus/types_pb.js';
import { parseAggregationRules } from '../pipeline/aggregation-config.js';
import {
  decodeRequest,
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { Aggregator, nextBoundaryMs } from './aggregator.js';
import { snapshotPath } from './snapshot-file.js';

const RULES = parseAggregationRules(
  [{ match: 'req_total', interval: '1s', without: ['pod'], outputs: ['total', 'count_series'] }],
  'test.yaml',
);

function request(values: number[], timestampMs: number): Uint8Array {
  const series = values.map((value, pod) => {
    const s = seriesWith(sortedLabels({ __name__: 'req_total', job: 'api', pod: `p${pod}` }), 0);
    s.samples = [create(SampleSchema, { value, timestamp: BigInt(timestampMs) })];
    return s;
  });
  return new Uint8Array(compressSync(Buffer.from(encodeRequest(writeRequest(series)))));
}

function outputs(payloads: Uint8Array[]): Map<string, number>[] {
  return payloads.map((payload) => {
    const decoded = decodeRequest(new Uint8Array(uncompressSync(Buffer.from(payload)) as Buffer));
    return new Map(
      decoded.timeseries.map((series) => [
        series.labels.find((label) => label.name === '__name__')!.value,
        series.samples[0]!.value,
      ]),
    );
  });
}

describe('Aggregator', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'phoenix-aggregator-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('flushes at wall-clock boundaries of the interval', async () => {
    const flushed: Uint8Array[] = [];
    const aggregator = await Aggregator.start({
      rules: RULES,
      dataDir: undefined,
      onOutput: (payload) => flushed.push(payload),
    });
    const now = Date.now();
    aggregator.ingest(request([1, 2], now));
    aggregator.ingest(request([4, 6], now + 1));
    await new Promise((resolve) =>
      setTimeout(resolve, nextBoundaryMs(Date.now(), 1000) - Date.now() + 200),
    );
    await aggregator.close();
    expect(flushed.length).toBeGreaterThanOrEqual(1);
    const first = decodeRequest(new Uint8Array(uncompressSync(Buffer.from(flushed[0]!)) as Buffer));
    const timestampMs = Number(first.timeseries[0]!.samples[0]!.timestamp);
    expect(timestampMs % 1000).toBe(0);
    expect(outputs(flushed)[0]!.get('req_total:1s_without_pod_total')).toBe(7);
  });

  it('survives a restart through the snapshot: no drop, no spike', async () => {
    const flushed: Uint8Array[] = [];
    const start = () =>
      Aggregator.start({ rules: RULES, dataDir, onOutput: (payload) => flushed.push(payload) });
    const first = await start();
    const now = Date.now();
    first.ingest(request([10, 100], now));
    first.ingest(request([15, 120], now + 1));
    first.flushRule(0, now + 2);
    await first.close();
    await expect(readFile(snapshotPath(dataDir))).resolves.toBeDefined();

    const second = await start();
    expect(second.stats().seriesTracked).toBe(2);
    // The baselines survived: 15 → 18 and 120 → 121 add 4, not 139.
    second.ingest(request([18, 121], now + 3));
    second.flushRule(0, now + 4);
    await second.close();
    const totals = outputs(flushed).map((flush) => flush.get('req_total:1s_without_pod_total'));
    expect(totals[0]).toBe(25);
    expect(totals.at(-1)).toBe(29);
  });

  it('ignores a snapshot written for other rules, and a corrupt one', async () => {
    const events: string[] = [];
    const first = await Aggregator.start({ rules: RULES, dataDir, onOutput: () => {} });
    first.ingest(request([1], Date.now()));
    await first.close();
    const otherRules = parseAggregationRules(
      [{ match: 'req_total', interval: '2s', outputs: ['total'] }],
      'test.yaml',
    );
    const second = await Aggregator.start({
      rules: otherRules,
      dataDir,
      onOutput: () => {},
      onEvent: (_level, event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
    });
    expect(second.stats().seriesTracked).toBe(0);
    await second.close();
    expect(events).toContain(
      'aggregation_snapshot_ignored {"reason":"written for different aggregation rules"}',
    );

    const bytes = await readFile(snapshotPath(dataDir));
    await writeFile(snapshotPath(dataDir), bytes.subarray(0, bytes.length - 7));
    const third = await Aggregator.start({
      rules: otherRules,
      dataDir,
      onOutput: () => {},
      onEvent: (_level, event, fields) => events.push(`${event} ${JSON.stringify(fields)}`),
    });
    expect(third.stats().seriesTracked).toBe(0);
    await third.close();
    expect(events).toContain('aggregation_snapshot_ignored {"reason":"corrupt"}');
  });

  it('snapshots periodically, not only on close', async () => {
    const aggregator = await Aggregator.start({
      rules: RULES,
      dataDir,
      snapshotIntervalMs: 100,
      onOutput: () => {},
    });
    aggregator.ingest(request([1, 2], Date.now()));
    let written: Buffer | undefined;
    for (let attempt = 0; attempt < 50 && written === undefined; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      written = await readFile(snapshotPath(dataDir)).catch(() => undefined);
    }
    expect(written?.length).toBeGreaterThan(40);
    await aggregator.close();
  });

  it('counts a malformed request as refused and keeps going', async () => {
    const aggregator = await Aggregator.start({
      rules: RULES,
      dataDir: undefined,
      onOutput: () => {},
    });
    aggregator.ingest(new Uint8Array([0xff, 0xff, 0xff]));
    aggregator.ingest(request([1], Date.now()));
    expect(aggregator.refusedRequests).toBe(1);
    expect(aggregator.stats().seriesTracked).toBe(1);
    await aggregator.close();
  });
});
