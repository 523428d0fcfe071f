import { compressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../proxy/pipeline/remote-write-fixtures.js';
import { type Sink, startSink } from './sink.js';

let sink: Sink | undefined;
afterEach(() => {
  sink?.close();
  sink = undefined;
});

function body(first: number, count: number, samplesEach: number): Buffer {
  const series = Array.from({ length: count }, (_, i) =>
    seriesWith(sortedLabels({ __name__: 'up', instance: `host-${first + i}` }), samplesEach),
  );
  return compressSync(Buffer.from(encodeRequest(writeRequest(series))));
}

async function post(url: string, payload: Uint8Array): Promise<number> {
  const response = await fetch(url, { method: 'POST', body: payload });
  await response.arrayBuffer();
  return response.status;
}

describe('sink', () => {
  it('counts series, samples, distinct series and bytes of what it receives', async () => {
    sink = await startSink();
    const first = body(0, 50, 2);
    const second = body(25, 50, 1);
    expect(await post(sink.url, first)).toBe(204);
    expect(await post(sink.url, second)).toBe(204);
    expect(sink.totals()).toEqual({
      requests: 2,
      badRequests: 0,
      bytes: first.length + second.length,
      series: 100,
      samples: 150,
      distinctSeries: 75,
    });
    sink.reset();
    expect(sink.totals().samples).toBe(0);
    expect(sink.totals().distinctSeries).toBe(0);
  });

  it('answers 400 to a body that is not snappy remote write, counting nothing', async () => {
    sink = await startSink({ countDistinctSeries: false });
    expect(await post(sink.url, Buffer.from('not snappy at all'))).toBe(400);
    expect(await post(sink.url, compressSync(Buffer.from([0x0a, 0x05, 0x0a])))).toBe(400);
    expect(sink.totals()).toMatchObject({ requests: 2, badRequests: 2, series: 0, samples: 0 });
  });
});
