/**
 * The delivery subsystem inside a running proxy: real sockets to a recording upstream,
 * real queue files in a temp folder.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync, uncompressSync } from 'snappy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeRequest,
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import type { ProxyOptionsInput } from '../server/options.js';
import { type RunningProxy, startProxy } from '../server/proxy.js';
import {
  type RecordingUpstream,
  ServerScope,
  startRecordingUpstream,
} from '../server/test-support.js';
import { upstreamFromUrl } from './upstream.js';

const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' };

function payload(job: string): Uint8Array {
  const labels = sortedLabels({ __name__: 'up', job });
  return compressSync(Buffer.from(encodeRequest(writeRequest([seriesWith(labels)])))) as Uint8Array;
}

async function post(proxy: RunningProxy, body: Uint8Array) {
  const response = await fetch(`http://127.0.0.1:${proxy.port}/api/v1/write`, {
    method: 'POST',
    headers: HEADERS,
    body,
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    text: await response.text(),
  };
}

async function metric(proxy: RunningProxy, series: string): Promise<number> {
  const text = (await proxy.metrics.render()).text;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('durable delivery', () => {
  const scope = new ServerScope();
  let dataDir: string;
  let upstream: RecordingUpstream;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'phoenix-delivery-'));
    scope.add({ close: () => rm(dataDir, { recursive: true, force: true }) });
    upstream = scope.add(await startRecordingUpstream());
  });
  afterEach(() => scope.closeAll());

  async function proxyWith(options: Partial<ProxyOptionsInput> = {}): Promise<RunningProxy> {
    return scope.add(
      await startProxy({
        upstreamUrl: upstream.url,
        listenPort: 0,
        workers: 1,
        dataDir,
        retryMinBackoffMs: 50,
        retryMaxBackoffMs: 200,
        ...options,
      }),
    );
  }

  const name = () => upstreamFromUrl(upstream.url, 1000).name;

  it('answers 204 once queued and delivers at once while the upstream is healthy', async () => {
    const proxy = await proxyWith();
    const body = payload('fast');
    expect((await post(proxy, body)).status).toBe(204);
    await until(() => upstream.requests.length === 1);
    expect(upstream.requests[0]!.body.equals(Buffer.from(body))).toBe(true);
    expect(await metric(proxy, `phoenix_queue_delivered_records_total{upstream="${name()}"}`)).toBe(
      1,
    );
  });

  it('resends after 500 until the upstream answers 200', async () => {
    let calls = 0;
    upstream.reply(() => (++calls <= 2 ? { status: 500, body: 'db locked' } : { status: 200 }));
    const proxy = await proxyWith();
    expect((await post(proxy, payload('retry'))).status).toBe(204);
    await until(() => upstream.requests.length === 3);
    const bodies = upstream.requests.map((request) => request.body.toString('base64'));
    expect(new Set(bodies).size).toBe(1);
    expect(
      await metric(proxy, `phoenix_upstream_retries_total{upstream="${name()}",reason="500"}`),
    ).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(upstream.requests).toHaveLength(3);
  });

  it('does not resend after 400, and counts it by status', async () => {
    upstream.reply({ status: 400, body: 'out of order sample' });
    const proxy = await proxyWith();
    expect((await post(proxy, payload('bad'))).status).toBe(204);
    await until(() => upstream.requests.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(upstream.requests).toHaveLength(1);
    const dropped = `phoenix_upstream_dropped_requests_total{upstream="${name()}",reason="rejected_400"}`;
    expect(await metric(proxy, dropped)).toBe(1);
    // The next request goes out normally.
    upstream.reply({ status: 204 });
    expect((await post(proxy, payload('good'))).status).toBe(204);
    await until(() => upstream.requests.length === 2);
  });

  it('after a 400 on a joined backlog request, sends its records one by one and drops only the bad one', async () => {
    upstream.reply({ status: 503 });
    const first = await proxyWith();
    for (const job of ['a', 'poison', 'c'])
      expect((await post(first, payload(job))).status).toBe(204);
    await first.close();
    const jobsOf = (body: Buffer) =>
      decodeRequest(uncompressSync(body) as Uint8Array).timeseries.map(
        (series) => series.labels.find((label) => label.name === 'job')?.value,
      );
    const accepted: string[] = [];
    upstream.reply((request) => {
      const jobs = jobsOf(request.body);
      if (jobs.includes('poison')) return { status: 400, body: 'bad sample' };
      accepted.push(...(jobs as string[]));
      return { status: 204 };
    });
    const second = await proxyWith();
    const dropped = `phoenix_upstream_dropped_requests_total{upstream="${name()}",reason="rejected_400"}`;
    await until(async () => (await metric(second, dropped)) === 1);
    await until(() => accepted.length === 2);
    expect(accepted).toEqual(['a', 'c']);
    // The backlog did go out joined first.
    const joined = upstream.requests.map((request) => jobsOf(request.body).join(','));
    expect(joined).toContain('a,poison,c');
  });

  it('waits for Retry-After on 429', async () => {
    const times: number[] = [];
    upstream.reply(() => {
      times.push(performance.now());
      return times.length === 1
        ? { status: 429, headers: { 'retry-after': '2' } }
        : { status: 204 };
    });
    const proxy = await proxyWith();
    expect((await post(proxy, payload('slow'))).status).toBe(204);
    await until(() => upstream.requests.length === 2, 10_000);
    const waitedMs = times[1]! - times[0]!;
    expect(waitedMs).toBeGreaterThanOrEqual(1900);
    expect(waitedMs).toBeLessThan(3500);
  });

  it('refuses with 429 and Retry-After when the queue is full under refuse', async () => {
    upstream.reply({ status: 503 });
    const proxy = await proxyWith({
      maxQueueBytes: 64 * 1024,
      retryMinBackoffMs: 1000,
      retryMaxBackoffMs: 1000,
    });
    const statuses: number[] = [];
    let refused: { status: number; retryAfter: string | null; text: string } | undefined;
    for (let index = 0; index < 2000 && refused === undefined; index++) {
      const answer = await post(proxy, payload(`job-${index}-${randomBytes(100).toString('hex')}`));
      statuses.push(answer.status);
      if (answer.status !== 204) refused = answer;
    }
    expect(refused?.status).toBe(429);
    expect(refused?.retryAfter).toBe('1');
    expect(refused?.text).toMatch(/queue of upstream .* is full/);
    expect(statuses.filter((status) => status === 204).length).toBeGreaterThan(10);
    // Everything acknowledged is delivered once the upstream recovers.
    const accepted = statuses.filter((status) => status === 204).length;
    upstream.reply({ status: 204 });
    await until(
      async () =>
        (await metric(proxy, `phoenix_queue_delivered_records_total{upstream="${name()}"}`)) ===
        accepted,
      15_000,
    );
  });

  it('drops the oldest data and counts it when the queue is full under drop-oldest', async () => {
    upstream.reply({ status: 503 });
    const proxy = await proxyWith({
      maxQueueBytes: 64 * 1024,
      queueFullPolicy: 'drop-oldest',
      retryMinBackoffMs: 1000,
      retryMaxBackoffMs: 1000,
    });
    for (let index = 0; index < 400; index++) {
      expect(
        (await post(proxy, payload(`job-${index}-${randomBytes(100).toString('hex')}`))).status,
      ).toBe(204);
    }
    const droppedRecords = await metric(
      proxy,
      `phoenix_queue_dropped_records_total{upstream="${name()}",reason="queue_full"}`,
    );
    expect(droppedRecords).toBeGreaterThan(0);
    expect(await metric(proxy, `phoenix_queue_bytes{upstream="${name()}"}`)).toBeLessThanOrEqual(
      64 * 1024,
    );
  });

  it('replicates to every upstream', async () => {
    const second = scope.add(await startRecordingUpstream());
    const proxy = await proxyWith({
      upstreams: [upstreamFromUrl(upstream.url, 5000), upstreamFromUrl(second.url, 5000, 'second')],
    });
    expect((await post(proxy, payload('both'))).status).toBe(204);
    await until(() => upstream.requests.length === 1 && second.requests.length === 1);
    expect(second.requests[0]!.body.equals(upstream.requests[0]!.body)).toBe(true);
  });

  it('spreads series over the upstreams with --shard-by-series, each series always to one', async () => {
    const second = scope.add(await startRecordingUpstream());
    const proxy = await proxyWith({
      upstreams: [
        upstreamFromUrl(upstream.url, 5000, 'first'),
        upstreamFromUrl(second.url, 5000, 'second'),
      ],
      shardBySeries: true,
    });
    const pods = Array.from({ length: 40 }, (_, index) =>
      sortedLabels({ __name__: 'up', pod: `p-${index}` }),
    );
    const request = compressSync(
      Buffer.from(encodeRequest(writeRequest(pods.map((labels) => seriesWith(labels))))),
    ) as Uint8Array;
    for (let round = 0; round < 2; round++) expect((await post(proxy, request)).status).toBe(204);
    await until(() => upstream.requests.length >= 1 && second.requests.length >= 1);
    await until(
      async () =>
        (await metric(proxy, 'phoenix_queue_delivered_records_total{upstream="first"}')) +
          (await metric(proxy, 'phoenix_queue_delivered_records_total{upstream="second"}')) ===
        4,
    );
    const podsAt = (target: RecordingUpstream) =>
      target.requests.flatMap((received) =>
        decodeRequest(uncompressSync(received.body) as Uint8Array).timeseries.map(
          (series) => series.labels.find((label) => label.name === 'pod')!.value,
        ),
      );
    const first = podsAt(upstream);
    const other = podsAt(second);
    // Each round sent every series once, to exactly one upstream.
    expect([...first, ...other].sort()).toEqual([...pods, ...pods].map((l) => l[1]![1]).sort());
    expect(first.filter((pod) => other.includes(pod))).toEqual([]);
    expect(first.length).toBeGreaterThan(10);
    expect(other.length).toBeGreaterThan(10);
  });

  it('keeps undelivered data across a restart and delivers it then', async () => {
    upstream.reply({ status: 503 });
    const first = await proxyWith();
    for (const job of ['a', 'b', 'c']) expect((await post(first, payload(job))).status).toBe(204);
    await first.close();
    const delivered: Buffer[] = [];
    upstream.reply((request) => {
      delivered.push(request.body);
      return { status: 204 };
    });
    await proxyWith();
    await until(() => delivered.length > 0);
    // The backlog goes out joined into one request, in order.
    const jobs = delivered.flatMap((body) =>
      decodeRequest(uncompressSync(body) as Uint8Array).timeseries.map(
        (series) => series.labels.find((label) => label.name === 'job')?.value,
      ),
    );
    expect(jobs).toEqual(['a', 'b', 'c']);
  });
});
