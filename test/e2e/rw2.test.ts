/**
 * Remote write 2.0 in: golden 2.0 requests covering every field go through `phoenix proxy`
 * into a real Prometheus 2.42 (which only speaks 1.0); PromQL and the exemplar API must
 * show what the 2.0 request said. Bad requests get 400 with what and where, and leave the
 * proxy serving.
 */
import { create } from '@bufbuild/protobuf';
import { compressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeSeriesSchema } from '../../proto/gen/io/prometheus/write/v2/types_pb.js';
import { goldenRw2Request, Rw2RequestBuilder } from '../../proxy/rw2/rw2-fixtures.js';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { pollUntil } from '../helpers/poll.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';

const RW2_CONTENT_TYPE = 'application/x-protobuf;proto=io.prometheus.write.v2.Request';

function postRw2(url: string, body: Uint8Array, contentType = RW2_CONTENT_TYPE) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '2.0.0',
    },
    body: compressSync(Buffer.from(body)),
  });
}

describe('remote write 2.0 through phoenix into Prometheus 2.42', () => {
  let receiver: RunningPrometheus;
  let phoenix: RunningPhoenix;

  beforeAll(async () => {
    receiver = await startPrometheus({
      name: 'receiver',
      config: { global: { scrape_interval: '1h' } },
      remoteWriteReceiver: true,
      extraArgs: ['--enable-feature=native-histograms,exemplar-storage'],
    });
    phoenix = await startPhoenix({
      upstreamUrl: receiver.remoteWriteUrl,
      // A rule, so the converted request also goes through relabeling.
      config: { relabel_configs: [{ action: 'labeldrop', regex: 'instance' }] },
    });
  });

  afterAll(async () => {
    await phoenix?.stop();
    await receiver?.stop();
  });

  it('delivers every sample, histogram and exemplar, with the written counts in the answer', async () => {
    const baseMs = Date.now() - 5_000;
    const golden = goldenRw2Request(baseMs, { customBuckets: false });
    const response = await postRw2(phoenix.remoteWriteUrl, golden.bytes());
    expect(response.status, await response.text()).toBe(204);
    expect(response.headers.get('x-prometheus-remote-write-samples-written')).toBe('3');
    expect(response.headers.get('x-prometheus-remote-write-histograms-written')).toBe('2');
    expect(response.headers.get('x-prometheus-remote-write-exemplars-written')).toBe('1');

    const requests = await pollUntil(
      async () => {
        const found = await receiver.query('http_requests_total');
        return found.length > 0 ? found : undefined;
      },
      { description: 'http_requests_total on the receiver', timeoutMs: 20_000 },
    );
    // `instance` was dropped by the pipeline; the rest is the 2.0 request's labels.
    expect(requests).toEqual([
      {
        metric: { __name__: 'http_requests_total', job: 'api', method: 'GET' },
        value: '42.5',
      },
    ]);
    expect(await receiver.query('queue_depth')).toEqual([
      { metric: { __name__: 'queue_depth', job: 'api', queue: 'émails' }, value: '-3.25' },
    ]);
    // The latest native histogram is the float one: count 7.5, sum 10.25.
    expect(await receiver.query('histogram_count(request_seconds)')).toEqual([
      { metric: { job: 'api' }, value: '7.5' },
    ]);
    expect(await receiver.query('histogram_sum(request_seconds)')).toEqual([
      { metric: { job: 'api' }, value: '10.25' },
    ]);
    // The first, integer histogram is there too (one sample earlier).
    const counts = await receiver.query(
      `histogram_count(request_seconds @ ${(baseMs / 1000).toFixed(3)})`,
    );
    expect(counts.map((sample) => sample.value)).toEqual(['15']);

    const exemplars = (await (
      await fetch(
        `${receiver.url}/api/v1/query_exemplars?query=http_requests_total&start=${(baseMs - 60_000) / 1000}&end=${(baseMs + 60_000) / 1000}`,
      )
    ).json()) as {
      data: { exemplars: { labels: Record<string, string>; value: string }[] }[];
    };
    expect(exemplars.data.flatMap((series) => series.exemplars)).toEqual([
      expect.objectContaining({ labels: { span_id: 'def', trace_id: 'abc123' }, value: '1.5' }),
    ]);
  });

  it('answers bad requests with 400 saying what and where, and keeps serving', async () => {
    const odd = new Rw2RequestBuilder();
    odd.add(
      create(TimeSeriesSchema, {
        labelsRefs: [...odd.labelRefs({ __name__: 'ok_metric' }), odd.ref('dangling')],
        samples: [{ value: 1, timestamp: BigInt(Date.now()) }],
      }),
    );
    const oddResponse = await postRw2(phoenix.remoteWriteUrl, odd.bytes());
    expect(oddResponse.status).toBe(400);
    expect(await oddResponse.text()).toMatch(/timeseries\[0\]: labels_refs has odd length 3/);

    const outOfRange = new Rw2RequestBuilder();
    outOfRange.add(create(TimeSeriesSchema, { labelsRefs: [outOfRange.ref('__name__'), 42] }));
    const rangeResponse = await postRw2(phoenix.remoteWriteUrl, outOfRange.bytes());
    expect(rangeResponse.status).toBe(400);
    expect(await rangeResponse.text()).toMatch(/labels_refs\[1\] = 42 is out of range/);

    const garbage = await postRw2(phoenix.remoteWriteUrl, new Uint8Array([0x2a, 0x7f, 0x01]));
    expect(garbage.status).toBe(400);
    expect(await garbage.text()).toMatch(/malformed remote write 2.0 Request/);

    const unknown = await postRw2(
      phoenix.remoteWriteUrl,
      new Uint8Array(),
      'application/x-protobuf;proto=io.prometheus.write.v3.Request',
    );
    expect(unknown.status).toBe(415);

    const good = new Rw2RequestBuilder();
    good.add(
      create(TimeSeriesSchema, {
        labelsRefs: good.labelRefs({ __name__: 'after_errors', job: 'api' }),
        samples: [{ value: 7, timestamp: BigInt(Date.now()) }],
      }),
    );
    const goodResponse = await postRw2(phoenix.remoteWriteUrl, good.bytes());
    expect(goodResponse.status).toBe(204);
    const after = await pollUntil(
      async () => {
        const found = await receiver.query('after_errors');
        return found.length > 0 ? found : undefined;
      },
      { description: 'after_errors on the receiver', timeoutMs: 20_000 },
    );
    expect(after.map((sample) => sample.value)).toEqual(['7']);
  });
});
