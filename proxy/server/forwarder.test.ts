import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Forwarder, UPSTREAM_REASON_MAX_BYTES } from './forwarder.js';
import { IngestError } from './ingest-error.js';
import { ServerScope, startRecordingUpstream } from './test-support.js';

const scope = new ServerScope();
afterEach(() => scope.closeAll());

function forwarderTo(url: string, timeoutMs = 5000, attempts: string[] = []): Forwarder {
  return scope.add(
    new Forwarder({
      upstreamUrl: new URL(url),
      timeoutMs,
      // One connection, so reuse shows as one client port across requests.
      connections: 1,
      userAgent: 'phoenix/test',
      onAttempt: (outcome) => attempts.push(outcome),
    }),
  );
}

async function sendError(
  forwarder: Forwarder,
  payload = new Uint8Array([1]),
): Promise<IngestError> {
  const error = await forwarder.send(payload).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(IngestError);
  return error as IngestError;
}

describe('Forwarder', () => {
  it('posts the payload with the remote-write headers over one kept-alive connection', async () => {
    const upstream = scope.add(await startRecordingUpstream({ status: 200, body: 'ok' }));
    const attempts: string[] = [];
    const forwarder = forwarderTo(`${upstream.url}?tenant=a`, 5000, attempts);
    await forwarder.send(new Uint8Array([1, 2, 3]));
    await forwarder.send(new Uint8Array([4, 5]));
    expect(upstream.requests).toHaveLength(2);
    const [first, second] = upstream.requests;
    expect(first?.method).toBe('POST');
    expect(first?.url).toBe('/api/v1/write?tenant=a');
    expect([...(first?.body ?? [])]).toEqual([1, 2, 3]);
    expect(first?.headers).toMatchObject({
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': 'phoenix/test',
      'content-length': '3',
    });
    expect(second?.remotePort).toBe(first?.remotePort);
    expect(attempts).toEqual(['200', '200']);
  });

  it('sends basic auth from the URL', async () => {
    const upstream = scope.add(await startRecordingUpstream());
    const url = new URL(upstream.url);
    url.username = 'user';
    url.password = 'p@ss';
    await forwarderTo(url.href).send(new Uint8Array([1]));
    const expected = `Basic ${Buffer.from('user:p@ss').toString('base64')}`;
    expect(upstream.requests[0]?.headers['authorization']).toBe(expected);
  });

  const mappings: Array<[number, Record<string, string>, string, string, number]> = [
    [400, {}, 'bad sample: out of order', 'upstream_rejected', 400],
    [404, {}, 'no such path', 'upstream_rejected', 400],
    [429, { 'retry-after': '7' }, 'slow down', 'upstream_rate_limited', 429],
    [500, {}, 'tsdb on fire', 'upstream_server_error', 502],
    [503, {}, 'overloaded', 'upstream_server_error', 502],
  ];
  for (const [status, headers, body, reason, answered] of mappings) {
    it(`maps upstream ${status} to ${answered}`, async () => {
      const upstream = scope.add(await startRecordingUpstream({ status, headers, body }));
      const error = await sendError(forwarderTo(upstream.url));
      expect(error.reason).toBe(reason);
      expect(error.status).toBe(answered);
      expect(error.message).toContain(body);
      expect(error.retryAfter).toBe(headers['retry-after']);
    });
  }

  it('quotes at most the start of a long error body', async () => {
    const body = 'x'.repeat(UPSTREAM_REASON_MAX_BYTES) + 'TAIL'.repeat(100);
    const upstream = scope.add(await startRecordingUpstream({ status: 400, body }));
    const error = await sendError(forwarderTo(upstream.url));
    expect(error.message).toContain('x'.repeat(UPSTREAM_REASON_MAX_BYTES));
    expect(error.message).not.toContain('TAIL');
  });

  it('maps a refused connection to 503', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const attempts: string[] = [];
    const error = await sendError(forwarderTo(`http://127.0.0.1:${port}/w`, 5000, attempts));
    expect(error.reason).toBe('upstream_unreachable');
    expect(error.status).toBe(503);
    expect(error.message).toContain('ECONNREFUSED');
    expect(attempts).toEqual(['network']);
  });

  it('maps a timeout to 503', async () => {
    const upstream = scope.add(await startRecordingUpstream({ status: 204, delayMs: 2000 }));
    const attempts: string[] = [];
    const error = await sendError(forwarderTo(upstream.url, 200, attempts));
    expect(error.reason).toBe('upstream_timeout');
    expect(error.status).toBe(503);
    expect(attempts).toEqual(['timeout']);
  });
});
