import { create, toBinary } from '@bufbuild/protobuf';
import { compressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import { type RemoteWriteReceiver, startRemoteWriteReceiver } from './remote-write-receiver.js';

describe('startRemoteWriteReceiver', () => {
  let receiver: RemoteWriteReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
  });

  it('keeps each path’s series apart and records the latest sample', async () => {
    receiver = await startRemoteWriteReceiver();
    const body = toBinary(
      WriteRequestSchema,
      create(WriteRequestSchema, {
        timeseries: [
          {
            labels: [
              { name: '__name__', value: 'up' },
              { name: 'job', value: 'a' },
            ],
            samples: [
              { value: 1, timestamp: 1000n },
              { value: 0, timestamp: 2000n },
            ],
          },
        ],
      }),
    );
    const response = await fetch(`${receiver.url}/case/7`, {
      method: 'POST',
      headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf' },
      body: compressSync(Buffer.from(body)),
    });
    expect(response.status).toBe(204);
    expect(receiver.series('/case/7')).toEqual([
      { labels: { __name__: 'up', job: 'a' }, lastValue: 0, sampleCount: 2 },
    ]);
    expect(receiver.series('/case/8')).toEqual([]);
    expect(receiver.requestCount('/case/7')).toBe(1);
  });

  it('answers 400 and records the error for a body that is not snappy', async () => {
    receiver = await startRemoteWriteReceiver();
    const response = await fetch(`${receiver.url}/x`, { method: 'POST', body: 'not snappy' });
    expect(response.status).toBe(400);
    expect(receiver.decodeErrors).toHaveLength(1);
  });
});
