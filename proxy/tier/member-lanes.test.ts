import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryMetrics } from '../delivery/delivery-metrics.js';
import { MemberLanes } from './member-lanes.js';

interface Member {
  readonly url: string;
  readonly bodies: string[];
  close(): Promise<void>;
}

/** A member that records bodies, or answers `status` without recording. */
async function startMember(status = 204): Promise<Member> {
  const bodies: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (status < 300) bodies.push(Buffer.concat(chunks).toString());
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}/api/v1/write`,
    bodies,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('MemberLanes', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'phoenix-lanes-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  function lanes(reroute: (payload: Uint8Array) => Promise<void>): MemberLanes {
    return new MemberLanes({
      dataDir,
      metrics: new DeliveryMetrics(new Registry(), () => new Map()),
      backoff: { minBackoffMs: 20, maxBackoffMs: 50 },
      connections: 2,
      userAgent: 'test',
      maxQueueBytes: 1024 * 1024,
      queueFullPolicy: 'refuse',
      maxBatchBytes: 1024,
      timeoutMs: 2_000,
      reroute,
    });
  }

  it('delivers to each member in order, and reroutes what a removed member still holds', async () => {
    const healthy = await startMember();
    const down = await startMember(503);
    const rerouted: string[] = [];
    let refusals = 1;
    const subject = lanes(async (payload) => {
      // The first attempt fails (a hand-off still pending): it must be tried again.
      if (refusals-- > 0) throw new Error('not yet');
      rerouted.push(Buffer.from(payload).toString());
    });
    let switched = 0;
    await subject.setMembers(
      [
        { name: 'healthy', url: healthy.url },
        { name: 'down', url: down.url },
      ],
      () => switched++,
    );
    expect(subject.names.sort()).toEqual(['down', 'healthy']);
    for (const text of ['one', 'two', 'three']) {
      await subject.enqueue('healthy', Buffer.from(text));
      await subject.enqueue('down', Buffer.from(`held ${text}`));
    }
    await until(() => healthy.bodies.length === 3);
    expect(healthy.bodies).toEqual(['one', 'two', 'three']);
    expect(existsSync(join(dataDir, 'tier', 'down'))).toBe(true);

    await subject.setMembers([{ name: 'healthy', url: healthy.url }], () => switched++);
    expect(switched).toBe(2);
    expect(rerouted).toEqual(['held one', 'held two', 'held three']);
    expect(subject.names).toEqual(['healthy']);
    expect(existsSync(join(dataDir, 'tier', 'down'))).toBe(false);
    await expect(subject.enqueue('down', Buffer.from('x'))).rejects.toThrow(
      'aggregation member down has no lane',
    );
    await subject.close();
    await healthy.close();
    await down.close();
  });
});
