import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  encodeRequest,
  labelRecord,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { rendezvousPick, SeriesSharder, upstreamHash } from './shard.js';

/** Pseudo-random but reproducible series hashes. */
function seriesHashes(count: number): number[] {
  let state = 12345;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) >>> 0;
  });
}

describe('rendezvousPick', () => {
  const hashes = seriesHashes(20_000);

  it('spreads series about evenly', () => {
    const upstreams = ['a', 'b', 'c', 'd'].map(upstreamHash);
    const counts = [0, 0, 0, 0];
    for (const hash of hashes) counts[rendezvousPick(hash, upstreams)]!++;
    for (const count of counts) expect(count / hashes.length).toBeCloseTo(0.25, 1);
  });

  const growth: Array<[string[], string]> = [
    [['a', 'b'], 'c'],
    [['a', 'b', 'c'], 'd'],
    [['mimir-0', 'mimir-1', 'mimir-2', 'mimir-3'], 'mimir-4'],
  ];
  for (const [before, added] of growth) {
    it(`adding ${added} to ${before.length} upstreams moves only ~1/${before.length + 1} of series, all to ${added}`, () => {
      const oldHashes = before.map(upstreamHash);
      const newNames = [...before, added];
      const newHashes = newNames.map(upstreamHash);
      let moved = 0;
      for (const hash of hashes) {
        const oldPick = before[rendezvousPick(hash, oldHashes)];
        const newPick = newNames[rendezvousPick(hash, newHashes)];
        if (oldPick !== newPick) {
          moved++;
          expect(newPick).toBe(added);
        }
      }
      const expected = 1 / newNames.length;
      expect(moved / hashes.length).toBeGreaterThan(expected * 0.85);
      expect(moved / hashes.length).toBeLessThan(expected * 1.15);
    });
  }

  it('does not depend on the order upstreams are listed in', () => {
    const names = ['x', 'y', 'z'];
    const reversed = [...names].reverse();
    for (const hash of hashes.slice(0, 1000)) {
      expect(names[rendezvousPick(hash, names.map(upstreamHash))]).toBe(
        reversed[rendezvousPick(hash, reversed.map(upstreamHash))],
      );
    }
  });
});

describe('SeriesSharder.split', () => {
  const pods = Array.from({ length: 60 }, (_, index) =>
    sortedLabels({ __name__: 'http_requests_total', pod: `api-${index}`, namespace: 'shop' }),
  );

  it('puts every series in exactly one shard, in order, with the metadata in each', () => {
    const sharder = new SeriesSharder(['a', 'b', 'c']);
    const request = encodeRequest(
      writeRequest(
        pods.map((labels) => seriesWith(labels, 2)),
        2,
      ),
    );
    const shards = sharder.split(request).map((bytes) => decodeRequest(bytes));
    const pods2 = shards.flatMap((shard) => shard.timeseries.map((s) => labelRecord(s)['pod']));
    expect(pods2.sort()).toEqual(
      pods.map((labels) => labels.find(([n]) => n === 'pod')![1]).sort(),
    );
    for (const shard of shards) {
      expect(shard.timeseries.length).toBeGreaterThan(5);
      expect(shard.metadata).toHaveLength(2);
      const indexes = shard.timeseries.map((s) => Number(labelRecord(s)['pod']!.slice(4)));
      expect(indexes).toEqual([...indexes].sort((x, y) => x - y));
      for (const series of shard.timeseries) expect(series.samples).toHaveLength(2);
    }
  });

  it('sends a series to the same shard in every request, whatever its samples', () => {
    const sharder = new SeriesSharder(['a', 'b']);
    const shardOf = (sampleCount: number) => {
      const shards = sharder.split(
        encodeRequest(writeRequest(pods.map((labels) => seriesWith(labels, sampleCount)))),
      );
      const owner = new Map<string, number>();
      shards.forEach((bytes, index) => {
        for (const s of decodeRequest(bytes).timeseries) owner.set(labelRecord(s)['pod']!, index);
      });
      return owner;
    };
    expect(shardOf(1)).toEqual(shardOf(3));
  });

  it('with shard labels, keeps series that share them together', () => {
    const sharder = new SeriesSharder(['a', 'b', 'c', 'd'], ['namespace']);
    const mixed = Array.from({ length: 40 }, (_, index) =>
      sortedLabels({ __name__: 'm', namespace: `ns-${index % 8}`, pod: `p-${index}` }),
    );
    const shards = sharder.split(encodeRequest(writeRequest(mixed.map((l) => seriesWith(l)))));
    const owner = new Map<string, number>();
    shards.forEach((bytes, index) => {
      if (bytes.length === 0) return;
      for (const s of decodeRequest(bytes).timeseries) {
        const namespace = labelRecord(s)['namespace']!;
        expect(owner.get(namespace) ?? index).toBe(index);
        owner.set(namespace, index);
      }
    });
    expect(owner.size).toBe(8);
  });

  it('gives an empty shard no bytes, and refuses a truncated request', () => {
    const sharder = new SeriesSharder(['only']);
    const request = encodeRequest(writeRequest([seriesWith(pods[0]!)]));
    expect(sharder.split(request)[0]).toEqual(request);
    expect(new SeriesSharder(['a', 'b']).split(new Uint8Array(0))).toEqual([
      new Uint8Array(0),
      new Uint8Array(0),
    ]);
    expect(() => sharder.split(request.subarray(0, request.length - 3))).toThrow();
  });
});
