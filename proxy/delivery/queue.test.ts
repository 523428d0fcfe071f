import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CURSOR_FILE, readCursor } from './cursor.js';
import { DurableQueue, type DurableQueueOptions, QueueFullError } from './queue.js';
import { encodeRecordHeader, RECORD_HEADER_BYTES, segmentFileName } from './segment.js';

const text = (payload: Uint8Array) => Buffer.from(payload).toString();
const bytes = (value: string) => new Uint8Array(Buffer.from(value));

describe('DurableQueue', () => {
  let dir: string;
  const opened: DurableQueue[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'phoenix-queue-'));
  });
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((queue) => queue.close()));
    await rm(dir, { recursive: true, force: true });
  });

  async function openQueue(options: Partial<DurableQueueOptions> = {}): Promise<DurableQueue> {
    const queue = await DurableQueue.open({
      dir,
      maxBytes: 1024 * 1024,
      fullPolicy: 'refuse',
      cursorPersistIntervalMs: 1,
      ...options,
    });
    opened.push(queue);
    return queue;
  }

  /** Takes every record waiting, acking each, as a sender would. */
  async function drain(queue: DurableQueue, maxBatchBytes = 1): Promise<string[]> {
    const seen: string[] = [];
    const stop = new AbortController();
    while (queue.oldestUnsentAppendedAtMs !== undefined) {
      const batch = await queue.nextBatch(maxBatchBytes, stop.signal);
      for (const record of batch) seen.push(text(record.payload));
      queue.ack(batch.at(-1)!.nextPosition);
    }
    return seen;
  }

  it('hands out appended records in order and forgets acknowledged ones', async () => {
    const queue = await openQueue();
    await Promise.all(['a', 'b', 'c'].map((value) => queue.append(bytes(value))));
    const batch = await queue.nextBatch(1024);
    expect(batch.map((record) => text(record.payload))).toEqual(['a', 'b', 'c']);
    queue.ack(batch[0]!.nextPosition);
    expect(text((await queue.nextBatch(1))[0]!.payload)).toBe('b');
  });

  it('group-commits concurrent appends: one fsync covers many', async () => {
    const queue = await openQueue();
    await Promise.all(Array.from({ length: 200 }, (_, index) => queue.append(bytes(`r${index}`))));
    expect(queue.syncCount).toBeGreaterThanOrEqual(1);
    expect(queue.syncCount).toBeLessThan(20);
    expect(await drain(queue, 1024 * 1024)).toHaveLength(200);
  });

  it('replays unacknowledged records after a restart, not acknowledged ones', async () => {
    const first = await openQueue();
    for (const value of ['one', 'two', 'three']) await first.append(bytes(value));
    const batch = await first.nextBatch(1);
    first.ack(batch[0]!.nextPosition);
    await first.close();
    const second = await openQueue();
    expect(await drain(second)).toEqual(['two', 'three']);
  });

  it('after a crash (no close) replays from the last persisted cursor: nothing lost', async () => {
    const first = await openQueue({ cursorPersistIntervalMs: 60_000 });
    for (const value of ['x', 'y']) await first.append(bytes(value));
    const batch = await first.nextBatch(1);
    first.ack(batch[0]!.nextPosition);
    // The process "dies" here: the cursor write was not due yet, so 'x' comes again
    // (at-least-once), and 'y', which was never acknowledged, is certainly there.
    opened.splice(opened.indexOf(first), 1);
    const second = await openQueue();
    expect(await drain(second)).toEqual(['x', 'y']);
  });

  it('cuts a torn final record on open and never hands it out', async () => {
    const first = await openQueue();
    for (const value of ['kept-1', 'kept-2']) await first.append(bytes(value));
    await first.close();
    opened.length = 0;
    const [segmentName] = (await readdir(dir)).filter((name) => name.endsWith('.seg'));
    const segmentPath = join(dir, segmentName!);
    const sizeBefore = (await stat(segmentPath)).size;
    // A crash in the middle of a write: a whole header, half of the payload.
    const payload = Buffer.from('the record that was being written');
    const partial = Buffer.concat([encodeRecordHeader(payload, Date.now()), payload]).subarray(
      0,
      RECORD_HEADER_BYTES + 10,
    );
    await appendFile(segmentPath, partial);
    const truncated: Array<[string, number]> = [];
    const second = await openQueue({
      onTruncated: (file, removedBytes) => truncated.push([file, removedBytes]),
    });
    expect(truncated).toEqual([[segmentName, partial.length]]);
    expect((await stat(segmentPath)).size).toBe(sizeBefore);
    expect(await drain(second)).toEqual(['kept-1', 'kept-2']);
    // New appends after the truncation are read back intact.
    await second.append(bytes('after'));
    expect(await drain(second)).toEqual(['after']);
  });

  it('persists the cursor atomically: a leftover temp file or a broken cursor loses nothing', async () => {
    const first = await openQueue();
    for (const value of ['p', 'q', 'r']) await first.append(bytes(value));
    const batch = await first.nextBatch(1);
    first.ack(batch[0]!.nextPosition);
    await first.close();
    opened.length = 0;
    const cursor = await readCursor(dir);
    expect(cursor).toEqual(batch[0]!.nextPosition);
    // A crash between writing the temp file and the rename leaves it behind: ignored.
    await writeFile(join(dir, `${CURSOR_FILE}.tmp`), '{"segmentId":99,"off');
    const second = await openQueue();
    const resumed = await second.nextBatch(1024);
    expect(resumed.map((record) => text(record.payload))).toEqual(['q', 'r']);
    await second.close();
    opened.length = 0;
    // A cursor that does not parse replays everything still on disk: more is sent again,
    // nothing is lost.
    await writeFile(join(dir, CURSOR_FILE), 'not json');
    const third = await openQueue();
    expect(await drain(third)).toEqual(['p', 'q', 'r']);
    await third.close();
    opened.length = 0;
    expect(JSON.parse(await readFile(join(dir, CURSOR_FILE), 'utf8'))).toHaveProperty('segmentId');
  });

  it('rolls segments and deletes them once delivered', async () => {
    const queue = await openQueue({ segmentMaxBytes: 64 });
    for (let index = 0; index < 10; index++) await queue.append(bytes(`record-number-${index}`));
    expect(queue.segmentCount).toBeGreaterThan(3);
    const delivered = await drain(queue, 1024);
    expect(delivered).toHaveLength(10);
    expect(queue.segmentCount).toBe(1);
    // Files of delivered segments are unlinked in the background.
    const segmentFiles = async () => (await readdir(dir)).filter((name) => name.endsWith('.seg'));
    for (let attempt = 0; attempt < 50 && (await segmentFiles()).length > 1; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await segmentFiles()).toHaveLength(1);
  });

  it('refuses appends past maxBytes under the refuse policy, keeping everything queued', async () => {
    const recordBytes = RECORD_HEADER_BYTES + 1000;
    const queue = await openQueue({ maxBytes: 64 * 1024, segmentMaxBytes: 8 * 1024 });
    let accepted = 0;
    await expect(
      (async () => {
        for (;;) {
          await queue.append(new Uint8Array(1000).fill(accepted % 256));
          accepted++;
        }
      })(),
    ).rejects.toBeInstanceOf(QueueFullError);
    expect(accepted).toBe(Math.floor((64 * 1024) / recordBytes));
    expect(queue.canAccept(1000)).toBe(false);
    const firstBatch = await queue.nextBatch(1);
    expect(firstBatch[0]!.payload[0]).toBe(0);
    // Delivering the backlog makes room again.
    await drain(queue, 1024 * 1024);
    expect(queue.canAccept(1000)).toBe(true);
  });

  it('drops the oldest segment under drop-oldest, and counts what it dropped', async () => {
    const drops: number[] = [];
    const queue = await openQueue({
      maxBytes: 64 * 1024,
      segmentMaxBytes: 8 * 1024,
      fullPolicy: 'drop-oldest',
      onDropped: (records) => drops.push(records),
    });
    const total = 200;
    for (let index = 0; index < total; index++) {
      await queue.append(bytes(`${String(index).padStart(4, '0')}${'x'.repeat(996)}`));
    }
    const kept = (await drain(queue, 1024 * 1024)).map((value) => Number(value.slice(0, 4)));
    const dropped = drops.reduce((sum, count) => sum + count, 0);
    expect(dropped).toBeGreaterThan(0);
    expect(kept.length + dropped).toBe(total);
    // What survives is the newest data, contiguous and in order.
    expect(kept.at(-1)).toBe(total - 1);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, index) => dropped + index));
  });

  it('never reuses a segment id below the persisted cursor', async () => {
    // A cursor pointing past every segment left on disk (they were delivered and deleted).
    await writeFile(join(dir, CURSOR_FILE), JSON.stringify({ segmentId: 40, offset: 1234 }));
    const first = await openQueue({ cursorPersistIntervalMs: 60_000 });
    await first.append(bytes('after-cursor'));
    // Crash before the cursor is written again: the next start must still find the record.
    opened.splice(opened.indexOf(first), 1);
    const second = await openQueue();
    expect(await drain(second)).toEqual(['after-cursor']);
  });

  it('keeps the segment files valid across many restarts', async () => {
    for (let round = 0; round < 3; round++) {
      const queue = await openQueue();
      await queue.append(bytes(`round-${round}`));
      await queue.close();
      opened.length = 0;
    }
    const queue = await openQueue();
    expect(await drain(queue)).toEqual(['round-0', 'round-1', 'round-2']);
    expect(segmentFileName(1)).toMatch(/\.seg$/);
  });
});
