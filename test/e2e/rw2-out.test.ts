/**
 * Remote write 2.0 out: a golden 2.0 request covering every field goes into `phoenix
 * proxy` (durable delivery) and out to three capture sinks at once: one on the default
 * 1.0, one with `protocol: rw2` that takes 2.0, and one with `protocol: rw2` that answers
 * 415 to 2.0, so Phoenix falls back to 1.0 for it (and logs that once).
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { compressSync, uncompressSync } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestSchema } from '../../proto/gen/io/prometheus/write/v2/types_pb.js';
import { afterRw1Trip, goldenRw2Request, resolveRw2Request } from '../../proxy/rw2/rw2-fixtures.js';
import { Rw2ToRw1Converter } from '../../proxy/rw2/rw2-to-rw1.js';
import {
  type RecordedRequest,
  type RecordingUpstream,
  startRecordingUpstream,
} from '../../proxy/server/test-support.js';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import { pollUntil } from '../helpers/poll.js';

const RW2_CONTENT_TYPE = 'application/x-protobuf;proto=io.prometheus.write.v2.Request';

function postRw2(url: string, body: Uint8Array) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': RW2_CONTENT_TYPE,
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '2.0.0',
    },
    body: compressSync(Buffer.from(body)),
  });
}

function contentTypes(requests: readonly RecordedRequest[]) {
  return requests.map((request) => request.headers['content-type']);
}

describe('remote write 2.0 out of phoenix to capture sinks', () => {
  let rw1Sink: RecordingUpstream;
  let rw2Sink: RecordingUpstream;
  let rw1OnlySink: RecordingUpstream;
  let phoenix: RunningPhoenix;
  let workDir: string;

  beforeAll(async () => {
    rw1Sink = await startRecordingUpstream();
    rw2Sink = await startRecordingUpstream();
    rw1OnlySink = await startRecordingUpstream();
    rw1OnlySink.reply((request) =>
      request.headers['content-type'] === RW2_CONTENT_TYPE ? { status: 415 } : { status: 204 },
    );
    workDir = await mkdtemp(join(tmpdir(), 'phoenix-rw2-out-'));
    const upstreamsFile = join(workDir, 'upstreams.yaml');
    await writeFile(
      upstreamsFile,
      [
        'upstreams:',
        `  - url: ${rw2Sink.url}`,
        '    name: rw2',
        '    protocol: rw2',
        `  - url: ${rw1OnlySink.url}`,
        '    name: rw1-only',
        '    protocol: rw2',
      ].join('\n'),
    );
    phoenix = await startPhoenix({
      upstreamUrl: rw1Sink.url,
      extraArgs: ['--upstreams-file', upstreamsFile],
    });
  });

  afterAll(async () => {
    await phoenix?.stop();
    await Promise.allSettled([rw1Sink?.close(), rw2Sink?.close(), rw1OnlySink?.close()]);
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  it('round-trips a golden 2.0 request as 2.0, and as 1.0 where 1.0 is configured or forced', async () => {
    const golden = goldenRw2Request(Date.now() - 5_000);
    const first = await postRw2(phoenix.remoteWriteUrl, golden.bytes());
    expect(first.status, await first.text()).toBe(204);
    await pollUntil(
      async () =>
        rw1Sink.requests.length >= 1 &&
        rw2Sink.requests.length >= 1 &&
        rw1OnlySink.requests.length >= 2
          ? true
          : undefined,
      { description: 'the first request at all three sinks', timeoutMs: 20_000 },
    );
    const second = await postRw2(phoenix.remoteWriteUrl, golden.bytes());
    expect(second.status).toBe(204);
    await pollUntil(
      async () =>
        rw1Sink.requests.length >= 2 &&
        rw2Sink.requests.length >= 2 &&
        rw1OnlySink.requests.length >= 3
          ? true
          : undefined,
      { description: 'the second request at all three sinks', timeoutMs: 20_000 },
    );

    const expected = afterRw1Trip(resolveRw2Request(golden.build()));
    // Start (created) timestamps come out as sent, through the 1.0 pipeline and queue.
    expect(expected.filter((series) => series.createdTimestamp !== 0n)).toHaveLength(2);
    expect(contentTypes(rw2Sink.requests)).toEqual([RW2_CONTENT_TYPE, RW2_CONTENT_TYPE]);
    for (const request of rw2Sink.requests) {
      expect(request.headers['x-prometheus-remote-write-version']).toBe('2.0.0');
      const sent = fromBinary(RequestSchema, uncompressSync(request.body) as Buffer);
      expect(resolveRw2Request(sent)).toEqual(expected);
    }

    // The 1.0 sinks got what the pipeline made of the 2.0 request, byte for byte the same.
    expect(contentTypes(rw1Sink.requests)).toEqual([
      'application/x-protobuf',
      'application/x-protobuf',
    ]);
    expect(rw1Sink.requests[1]!.body.equals(rw1Sink.requests[0]!.body)).toBe(true);
    expect(contentTypes(rw1OnlySink.requests)).toEqual([
      RW2_CONTENT_TYPE,
      'application/x-protobuf',
      'application/x-protobuf',
    ]);
    expect(rw1OnlySink.requests[1]!.body.equals(rw1Sink.requests[0]!.body)).toBe(true);
    const stats = {
      series: 0,
      samples: 0,
      histograms: 0,
      exemplars: 0,
      metadata: 0,
      createdTimestamps: 0,
    };
    expect(uncompressSync(rw1Sink.requests[0]!.body)).toEqual(
      Buffer.from(new Rw2ToRw1Converter().convert(golden.bytes(), stats)),
    );
    const fallbackLines = phoenix.process
      .log()
      .split('\n')
      .filter((line) => line.includes('"event":"upstream_rw2_fallback"'));
    expect(fallbackLines).toHaveLength(1);
    expect(fallbackLines[0]).toContain('"upstream":"rw1-only"');
  });
});
