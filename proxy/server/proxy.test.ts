import { request as httpRequest } from 'node:http';
import { compressSync, uncompressSync } from 'snappy';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parsePipelineConfig } from '../pipeline/load.js';
import {
  decodeRequest,
  encodeRequest,
  type LabelPairs,
  labelRecord,
  richSeries,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import type { ProxyOptionsInput } from './options.js';
import { type RunningProxy, startProxy } from './proxy.js';
import { type RecordingUpstream, ServerScope, startRecordingUpstream } from './test-support.js';

const REMOTE_WRITE_HEADERS = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
};

/** A snappy-compressed WriteRequest body with one series per label set. */
function body(...labelSets: LabelPairs[]): Uint8Array {
  return compressSync(
    Buffer.from(encodeRequest(writeRequest(labelSets.map((l) => seriesWith(l))))),
  ) as Uint8Array;
}

/** Snappy block claiming 16 bytes whose first element copies from before the start. */
const CORRUPT_SNAPPY = new Uint8Array([0x10, 0xfe, 0xff, 0xff, 0xff, 0x00]);

const HTTP_REQUESTS = sortedLabels({ __name__: 'http_requests_total', job: 'api', pod: 'api-1' });

async function post(
  proxy: RunningProxy,
  payload: Uint8Array | string,
  headers: Record<string, string> = REMOTE_WRITE_HEADERS,
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`http://127.0.0.1:${proxy.port}/api/v1/write`, {
    method: 'POST',
    headers,
    body: payload,
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

async function metricValue(proxy: RunningProxy, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proxy.port}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('proxy with the empty pipeline', () => {
  const scope = new ServerScope();
  let upstream: RecordingUpstream;
  let proxy: RunningProxy;

  beforeAll(async () => {
    upstream = scope.add(await startRecordingUpstream());
    proxy = scope.add(
      await startProxy({
        upstreamUrl: upstream.url,
        listenPort: 0,
        workers: 2,
        maxRequestBytes: 64 * 1024,
      }),
    );
  });
  afterAll(() => scope.closeAll());
  afterEach(() => {
    upstream.requests.length = 0;
    upstream.reply({ status: 204 });
  });

  it('forwards the original bytes when nothing changes', async () => {
    const sent = compressSync(
      Buffer.from(encodeRequest(writeRequest([richSeries(HTTP_REQUESTS, 3)], 2))),
    );
    const answer = await post(proxy, sent);
    expect(answer.status).toBe(204);
    expect(upstream.requests).toHaveLength(1);
    const received = upstream.requests[0]!;
    expect(received.body.equals(sent)).toBe(true);
    expect(received.headers).toMatchObject({
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
    });
    expect(received.headers['user-agent']).toMatch(/^phoenix\/\d+\.\d+\.\d+/);
  });

  it('accepts a chunked body', async () => {
    const sent = body(HTTP_REQUESTS);
    const response = await fetch(`http://127.0.0.1:${proxy.port}/api/v1/write`, {
      method: 'POST',
      headers: REMOTE_WRITE_HEADERS,
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(sent.subarray(0, 10));
          controller.enqueue(sent.subarray(10));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(204);
    expect(upstream.requests[0]?.body.equals(sent)).toBe(true);
  });

  const badInput: Array<[string, () => Uint8Array, Record<string, string>, number, RegExp]> = [
    ['corrupt snappy', () => CORRUPT_SNAPPY, REMOTE_WRITE_HEADERS, 400, /snappy/],
    [
      'truncated protobuf',
      () => {
        const encoded = encodeRequest(writeRequest([seriesWith(HTTP_REQUESTS)]));
        return compressSync(Buffer.from(encoded.subarray(0, encoded.length - 3))) as Uint8Array;
      },
      REMOTE_WRITE_HEADERS,
      400,
      /protobuf/,
    ],
    [
      'unsorted labels',
      () =>
        body([
          ['job', 'a'],
          ['__name__', 'up'],
        ]),
      REMOTE_WRITE_HEADERS,
      400,
      /ascending order/,
    ],
    [
      'duplicate labels',
      () =>
        body([
          ['__name__', 'up'],
          ['job', 'a'],
          ['job', 'b'],
        ]),
      REMOTE_WRITE_HEADERS,
      400,
      /duplicate label name "job"/,
    ],
    [
      'empty label name',
      () =>
        body([
          ['', 'x'],
          ['__name__', 'up'],
        ]),
      REMOTE_WRITE_HEADERS,
      400,
      /empty label name/,
    ],
    [
      'wrong Content-Type',
      () => body(HTTP_REQUESTS),
      { ...REMOTE_WRITE_HEADERS, 'content-type': 'application/json' },
      415,
      /Content-Type/,
    ],
    [
      'an unknown remote-write message type',
      () => body(HTTP_REQUESTS),
      {
        ...REMOTE_WRITE_HEADERS,
        'content-type': 'application/x-protobuf;proto=io.prometheus.write.v3.Request',
      },
      415,
      /unsupported remote-write message "io.prometheus.write.v3.Request"/,
    ],
    [
      'wrong Content-Encoding',
      () => body(HTTP_REQUESTS),
      { ...REMOTE_WRITE_HEADERS, 'content-encoding': 'gzip' },
      415,
      /Content-Encoding/,
    ],
    [
      'body over the limit',
      () => new Uint8Array(64 * 1024 + 1),
      REMOTE_WRITE_HEADERS,
      413,
      /exceeds the limit of 65536 bytes/,
    ],
  ];
  for (const [name, makeBody, headers, status, message] of badInput) {
    it(`answers ${status} to ${name} without calling the upstream`, async () => {
      const answer = await post(proxy, makeBody(), headers);
      expect(answer.status).toBe(status);
      expect(answer.text).toMatch(message);
      expect(upstream.requests).toHaveLength(0);
    });
  }

  it('answers 413 from Content-Length before the body is sent', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest({
        host: '127.0.0.1',
        port: proxy.port,
        method: 'POST',
        path: '/api/v1/write',
        headers: { ...REMOTE_WRITE_HEADERS, 'content-length': String(100 * 1024 * 1024) },
      });
      request.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
        request.destroy();
      });
      request.on('error', reject);
      request.flushHeaders();
    });
    expect(status).toBe(413);
  });

  it('answers 413 to a chunked body that grows past the limit', async () => {
    const piece = new Uint8Array(16 * 1024);
    const response = await fetch(`http://127.0.0.1:${proxy.port}/api/v1/write`, {
      method: 'POST',
      headers: REMOTE_WRITE_HEADERS,
      body: new ReadableStream({
        pull(controller) {
          controller.enqueue(piece);
        },
      }),
      duplex: 'half',
    } as RequestInit).catch((error: unknown) => error);
    // The proxy answers 413 and closes the connection while the client is still sending;
    // depending on timing the client sees the answer or a reset, never a success.
    if (response instanceof Response) expect(response.status).toBe(413);
    expect(upstream.requests).toHaveLength(0);
    expect(
      await metricValue(proxy, 'phoenix_errors_total{reason="too_large"}'),
    ).toBeGreaterThanOrEqual(1);
  });

  const upstreamMappings: Array<
    [
      string,
      { status: number; headers?: Record<string, string>; body?: string },
      number,
      RegExp | undefined,
      string | undefined,
    ]
  > = [
    ['200', { status: 200, body: 'fine' }, 204, undefined, undefined],
    [
      '400 with its reason',
      { status: 400, body: 'out of order sample' },
      400,
      /out of order sample/,
      undefined,
    ],
    [
      '429 with Retry-After',
      { status: 429, headers: { 'retry-after': '12' }, body: 'slow down' },
      429,
      /slow down/,
      '12',
    ],
    [
      '500',
      { status: 500, body: 'tsdb broke' },
      502,
      /upstream answered 500: tsdb broke/,
      undefined,
    ],
  ];
  for (const [name, reply, status, message, retryAfter] of upstreamMappings) {
    it(`maps upstream ${name} to ${status}`, async () => {
      upstream.reply(reply);
      const answer = await post(proxy, body(HTTP_REQUESTS));
      expect(answer.status).toBe(status);
      if (message !== undefined) expect(answer.text).toMatch(message);
      expect(answer.headers.get('retry-after') ?? undefined).toBe(retryAfter);
      expect(upstream.requests).toHaveLength(1);
    });
  }

  it('keeps serving good requests in flight beside a bad one', async () => {
    upstream.reply({ status: 204, delayMs: 50 });
    const good = Array.from({ length: 12 }, (_, i) =>
      post(proxy, body(sortedLabels({ __name__: 'up', instance: `host-${i}` }))),
    );
    const bad = post(proxy, new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x80]));
    const answers = await Promise.all([...good, bad]);
    expect(answers.map((answer) => answer.status)).toEqual([...Array(12).fill(204), 400]);
    expect(upstream.requests).toHaveLength(12);
    const instances = upstream.requests.map(
      (request) =>
        labelRecord(decodeRequest(uncompressSync(request.body) as Uint8Array).timeseries[0]!)[
          'instance'
        ],
    );
    expect(new Set(instances).size).toBe(12);
  });

  it('counts requests, samples and bytes in /metrics', async () => {
    const requestsBefore = await metricValue(proxy, 'phoenix_requests_total{code="204"}');
    const samplesBefore = await metricValue(proxy, 'phoenix_samples_in_total');
    const snappyBefore = await metricValue(proxy, 'phoenix_errors_total{reason="snappy"}');
    const sent = body(HTTP_REQUESTS, sortedLabels({ __name__: 'up', job: 'b' }));
    const bytesBefore = await metricValue(proxy, 'phoenix_received_bytes_total');
    expect((await post(proxy, sent)).status).toBe(204);
    expect((await post(proxy, CORRUPT_SNAPPY)).status).toBe(400);
    expect(await metricValue(proxy, 'phoenix_requests_total{code="204"}')).toBe(requestsBefore + 1);
    expect(await metricValue(proxy, 'phoenix_samples_in_total')).toBe(samplesBefore + 2);
    expect(await metricValue(proxy, 'phoenix_errors_total{reason="snappy"}')).toBe(
      snappyBefore + 1,
    );
    expect(await metricValue(proxy, 'phoenix_received_bytes_total')).toBe(
      bytesBefore + sent.byteLength + CORRUPT_SNAPPY.byteLength,
    );
    expect(await metricValue(proxy, 'phoenix_workers')).toBe(2);
    expect(
      await metricValue(proxy, 'phoenix_upstream_request_duration_seconds_count{code="204"}'),
    ).toBeGreaterThan(0);
  });

  it('serves /healthz and /readyz', async () => {
    expect((await fetch(`http://127.0.0.1:${proxy.port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${proxy.port}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${proxy.port}/nothing-here`)).status).toBe(404);
  });
});

describe('proxy with a pipeline', () => {
  const scope = new ServerScope();
  let upstream: RecordingUpstream;
  let proxy: RunningProxy;

  beforeAll(async () => {
    upstream = scope.add(await startRecordingUpstream());
    const pipeline = parsePipelineConfig(
      [
        'relabel_configs:',
        '  - action: labeldrop',
        '    regex: pod|instance',
        '  - source_labels: [__name__]',
        '    regex: go_.*',
        '    action: drop',
      ].join('\n'),
      'phoenix.yaml',
    );
    proxy = scope.add(
      await startProxy({ upstreamUrl: upstream.url, listenPort: 0, workers: 1, pipeline }),
    );
  });
  afterAll(() => scope.closeAll());
  afterEach(() => {
    upstream.requests.length = 0;
  });

  it('drops labels and series before forwarding', async () => {
    const sent = encodeRequest(
      writeRequest(
        [
          richSeries(
            sortedLabels({
              __name__: 'http_requests_total',
              instance: 'a:1',
              job: 'api',
              pod: 'p1',
            }),
            1,
          ),
          seriesWith(sortedLabels({ __name__: 'go_goroutines', job: 'api' })),
          seriesWith(sortedLabels({ __name__: 'up', job: 'api', pod: 'p2' })),
        ],
        1,
      ),
    );
    const answer = await post(proxy, compressSync(Buffer.from(sent)));
    expect(answer.status).toBe(204);
    expect(upstream.requests).toHaveLength(1);
    const forwarded = decodeRequest(uncompressSync(upstream.requests[0]!.body) as Uint8Array);
    expect(forwarded.timeseries.map(labelRecord)).toEqual([
      { __name__: 'http_requests_total', job: 'api' },
      { __name__: 'up', job: 'api' },
    ]);
    const original = decodeRequest(sent);
    expect(forwarded.timeseries[0]?.samples).toEqual(original.timeseries[0]?.samples);
    expect(forwarded.timeseries[0]?.exemplars).toEqual(original.timeseries[0]?.exemplars);
    expect(forwarded.timeseries[0]?.histograms).toEqual(original.timeseries[0]?.histograms);
    expect(forwarded.metadata).toEqual(original.metadata);
    expect(await metricValue(proxy, 'phoenix_series_dropped_total')).toBe(1);
    expect(await metricValue(proxy, 'phoenix_series_out_total')).toBe(2);
  });

  it('answers 204 without calling the upstream when every series is dropped', async () => {
    const answer = await post(proxy, body(sortedLabels({ __name__: 'go_gc_duration_seconds' })));
    expect(answer.status).toBe(204);
    expect(upstream.requests).toHaveLength(0);
  });

  it('counts series made identical by dropped labels', async () => {
    const before = await metricValue(proxy, 'phoenix_series_collisions_total');
    const answer = await post(
      proxy,
      body(sortedLabels({ __name__: 'up', pod: 'a' }), sortedLabels({ __name__: 'up', pod: 'b' })),
    );
    expect(answer.status).toBe(204);
    const forwarded = decodeRequest(uncompressSync(upstream.requests[0]!.body) as Uint8Array);
    expect(forwarded.timeseries.map(labelRecord)).toEqual([{ __name__: 'up' }, { __name__: 'up' }]);
    expect(await metricValue(proxy, 'phoenix_series_collisions_total')).toBe(before + 1);
  });
});

describe('proxy upstream failures and shutdown', () => {
  const scope = new ServerScope();
  afterEach(() => scope.closeAll());

  async function proxyTo(upstreamUrl: string, extra: Partial<ProxyOptionsInput> = {}) {
    return scope.add(await startProxy({ upstreamUrl, listenPort: 0, workers: 1, ...extra }));
  }

  it('answers 503 when the upstream refuses connections', async () => {
    const upstream = await startRecordingUpstream();
    const deadUrl = upstream.url;
    await upstream.close();
    const proxy = await proxyTo(deadUrl);
    const answer = await post(proxy, body(HTTP_REQUESTS));
    expect(answer.status).toBe(503);
    expect(answer.text).toMatch(/ECONNREFUSED/);
  });

  it('answers 503 when the upstream is too slow', async () => {
    const upstream = scope.add(await startRecordingUpstream({ status: 204, delayMs: 3000 }));
    const proxy = await proxyTo(upstream.url, { upstreamTimeoutMs: 200 });
    const answer = await post(proxy, body(HTTP_REQUESTS));
    expect(answer.status).toBe(503);
    expect(answer.text).toMatch(/did not answer within 200 ms/);
  });

  it('finishes a request in flight on close and reports not ready while draining', async () => {
    const upstream = scope.add(await startRecordingUpstream({ status: 204, delayMs: 600 }));
    const proxy = await startProxy({ upstreamUrl: upstream.url, listenPort: 0, workers: 1 });
    const { Client } = await import('undici');
    const probe = new Client(`http://127.0.0.1:${proxy.port}`);
    try {
      expect((await probe.request({ method: 'GET', path: '/readyz' })).statusCode).toBe(200);
      const inFlight = post(proxy, body(HTTP_REQUESTS));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const closed = proxy.close();
      const readyz = await probe.request({ method: 'GET', path: '/readyz' });
      await readyz.body.dump();
      expect(readyz.statusCode).toBe(503);
      expect((await inFlight).status).toBe(204);
      await closed;
      expect(upstream.requests).toHaveLength(1);
      await expect(fetch(`http://127.0.0.1:${proxy.port}/healthz`)).rejects.toThrow();
    } finally {
      await probe.destroy();
      await proxy.close();
    }
  });
});
