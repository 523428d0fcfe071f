import { fromBinary } from '@bufbuild/protobuf';
import { compressSync, uncompressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestSchema } from '../../proto/gen/io/prometheus/write/v2/types_pb.js';
import { parseUpstreamsFile, UpstreamClient } from '../delivery/upstream.js';
import { Forwarder } from '../server/forwarder.js';
import {
  type RecordedRequest,
  ServerScope,
  startRecordingUpstream,
} from '../server/test-support.js';
import { afterRw1Trip, goldenRw2Request, resolveRw2Request } from './rw2-fixtures.js';
import { type Rw2ConversionStats, Rw2ToRw1Converter } from './rw2-to-rw1.js';

const RW2_CONTENT_TYPE = 'application/x-protobuf;proto=io.prometheus.write.v2.Request';

const scope = new ServerScope();
afterEach(() => scope.closeAll());

/** The golden 2.0 request as Phoenix's pipeline holds it: snappy remote write 1.0. */
function goldenAsRw1Snappy(baseMs: number) {
  const golden = goldenRw2Request(baseMs);
  const stats: Rw2ConversionStats = {
    series: 0,
    samples: 0,
    histograms: 0,
    exemplars: 0,
    metadata: 0,
    createdTimestamps: 0,
  };
  const rw1 = new Rw2ToRw1Converter().convert(golden.bytes(), stats).slice();
  return { golden, rw1Snappy: new Uint8Array(compressSync(Buffer.from(rw1))) };
}

/** Answers 415 to 2.0, like a receiver that only takes 1.0, and 204 to 1.0. */
function onlyRw1(request: RecordedRequest) {
  return request.headers['content-type'] === RW2_CONTENT_TYPE
    ? { status: 415, body: 'unsupported content type' }
    : { status: 204 };
}

function versions(requests: readonly RecordedRequest[]) {
  return requests.map((request) => [
    request.headers['content-type'],
    request.headers['x-prometheus-remote-write-version'],
  ]);
}

const RW1 = ['application/x-protobuf', '0.1.0'];
const RW2 = [RW2_CONTENT_TYPE, '2.0.0'];

function rw2Client(url: string, protocol: 'rw1' | 'rw2') {
  const [config] = parseUpstreamsFile(
    `upstreams:\n  - url: ${url}\n    name: sink\n    protocol: ${protocol}\n`,
    'upstreams.yaml',
    5000,
  );
  return scope.add(new UpstreamClient(config!, 1, 'phoenix/test'));
}

describe('UpstreamClient with protocol rw2', () => {
  it('sends remote write 2.0 that decodes to everything the 1.0 payload carried', async () => {
    const sink = scope.add(await startRecordingUpstream());
    const client = rw2Client(sink.url, 'rw2');
    const { golden, rw1Snappy } = goldenAsRw1Snappy(1_700_000_000_000);

    const outcome = await client.send(rw1Snappy);

    expect(outcome.verdict).toBe('delivered');
    expect(versions(sink.requests)).toEqual([RW2]);
    expect(sink.requests[0]!.headers['content-encoding']).toBe('snappy');
    const sent = fromBinary(RequestSchema, uncompressSync(sink.requests[0]!.body) as Buffer);
    expect(resolveRw2Request(sent)).toEqual(afterRw1Trip(resolveRw2Request(golden.build())));
    expect(client.protocol).toBe('rw2');
  });

  it('falls back to 1.0 on 415 and keeps sending 1.0 afterwards', async () => {
    const sink = scope.add(await startRecordingUpstream());
    sink.reply(onlyRw1);
    const client = rw2Client(sink.url, 'rw2');
    const { rw1Snappy } = goldenAsRw1Snappy(1_700_000_000_000);

    expect((await client.send(rw1Snappy)).verdict).toBe('delivered');
    expect((await client.send(rw1Snappy)).verdict).toBe('delivered');

    expect(versions(sink.requests)).toEqual([RW2, RW1, RW1]);
    expect(sink.requests[1]!.body.equals(Buffer.from(rw1Snappy))).toBe(true);
    expect(sink.requests[2]!.body.equals(Buffer.from(rw1Snappy))).toBe(true);
    expect(client.protocol).toBe('rw1');
  });

  it('keeps 1.0 by default, and treats 415 to 1.0 as a rejection', async () => {
    const sink = scope.add(await startRecordingUpstream({ status: 415 }));
    const client = rw2Client(sink.url, 'rw1');
    const { rw1Snappy } = goldenAsRw1Snappy(1_700_000_000_000);

    const outcome = await client.send(rw1Snappy);

    expect(outcome.verdict).toBe('reject');
    expect(outcome.code).toBe('415');
    expect(versions(sink.requests)).toEqual([RW1]);
  });
});

describe('Forwarder with protocol rw2', () => {
  function forwarder(url: string) {
    return scope.add(
      new Forwarder({
        upstreamUrl: new URL(url),
        timeoutMs: 5000,
        connections: 1,
        userAgent: 'phoenix/test',
        protocol: 'rw2',
      }),
    );
  }

  it('sends 2.0 to an upstream that takes it', async () => {
    const sink = scope.add(await startRecordingUpstream());
    const { golden, rw1Snappy } = goldenAsRw1Snappy(1_700_000_000_000);

    await forwarder(sink.url).send(rw1Snappy);

    expect(versions(sink.requests)).toEqual([RW2]);
    const sent = fromBinary(RequestSchema, uncompressSync(sink.requests[0]!.body) as Buffer);
    expect(resolveRw2Request(sent)).toEqual(afterRw1Trip(resolveRw2Request(golden.build())));
  });

  it('falls back to 1.0 on 415 within the same send, then sends 1.0 only', async () => {
    const sink = scope.add(await startRecordingUpstream());
    sink.reply(onlyRw1);
    const sender = forwarder(sink.url);
    const { rw1Snappy } = goldenAsRw1Snappy(1_700_000_000_000);

    await sender.send(rw1Snappy);
    await sender.send(rw1Snappy);

    expect(versions(sink.requests)).toEqual([RW2, RW1, RW1]);
    expect(sink.requests[1]!.body.equals(Buffer.from(rw1Snappy))).toBe(true);
  });
});
