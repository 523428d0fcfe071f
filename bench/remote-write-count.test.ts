import { describe, expect, it } from 'vitest';
import {
  encodeRequest,
  richSeries,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../proxy/pipeline/remote-write-fixtures.js';
import {
  countWriteRequest,
  MalformedWriteRequestError,
  type RemoteWriteCounts,
  SeriesHashSet,
} from './remote-write-count.js';

function labels(index: number) {
  return sortedLabels({ __name__: 'up', job: 'node', instance: `host-${index}:9100` });
}

describe('countWriteRequest', () => {
  const cases: Array<[string, Uint8Array, RemoteWriteCounts, number]> = [
    ['an empty request', encodeRequest(writeRequest([])), { series: 0, samples: 0 }, 0],
    [
      'one sample per series',
      encodeRequest(writeRequest([0, 1, 2].map((i) => seriesWith(labels(i))))),
      { series: 3, samples: 3 },
      3,
    ],
    [
      'several samples per series, repeated series, metadata',
      encodeRequest(
        writeRequest(
          [seriesWith(labels(0), 4), seriesWith(labels(1), 2), seriesWith(labels(0), 1)],
          3,
        ),
      ),
      { series: 3, samples: 7 },
      2,
    ],
    [
      'exemplars and native histograms are not samples',
      encodeRequest(writeRequest([richSeries(labels(0), 1), richSeries(labels(1), 2)])),
      // richSeries carries 1 + seed % 3 float samples.
      { series: 2, samples: 2 + 3 },
      2,
    ],
  ];
  for (const [name, bytes, expected, distinct] of cases) {
    it(name, () => {
      const counts: RemoteWriteCounts = { series: 0, samples: 0 };
      const hashes = new SeriesHashSet();
      countWriteRequest(bytes, counts, hashes);
      expect(counts).toEqual(expected);
      expect(hashes.size).toBe(distinct);
    });
  }

  it('counts distinct series past the table growing', () => {
    const hashes = new SeriesHashSet();
    for (let round = 0; round < 2; round++) {
      for (let first = 0; first < 5000; first += 500) {
        const series = Array.from({ length: 500 }, (_, i) => seriesWith(labels(first + i)));
        countWriteRequest(encodeRequest(writeRequest(series)), { series: 0, samples: 0 }, hashes);
      }
    }
    expect(hashes.size).toBe(5000);
  });

  it('adds to the totals it is given', () => {
    const counts: RemoteWriteCounts = { series: 10, samples: 20 };
    countWriteRequest(encodeRequest(writeRequest([seriesWith(labels(0), 2)])), counts);
    expect(counts).toEqual({ series: 11, samples: 22 });
  });

  it('refuses a truncated request', () => {
    const bytes = encodeRequest(writeRequest([seriesWith(labels(0), 2)]));
    expect(() =>
      countWriteRequest(bytes.subarray(0, bytes.length - 3), { series: 0, samples: 0 }),
    ).toThrow(MalformedWriteRequestError);
  });
});
