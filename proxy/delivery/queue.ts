import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { comparePositions, type QueuePosition, readCursor, writeCursor } from './cursor.js';
import { RecordCache } from './record-cache.js';
import {
  encodeRecordHeader,
  parseSegmentFileName,
  RECORD_HEADER_BYTES,
  readRecordAt,
  scanSegment,
  segmentFileName,
} from './segment.js';

/** What to do with new data when a queue holds `maxBytes` already. */
export type QueueFullPolicy = 'refuse' | 'drop-oldest';

/** Options of {@link DurableQueue.open}. */
export interface DurableQueueOptions {
  /** The queue's own folder; created if missing. */
  readonly dir: string;
  /** Most bytes the queue's segment files may hold together. */
  readonly maxBytes: number;
  readonly fullPolicy: QueueFullPolicy;
  /** A segment is closed and a new one started once it reaches this size, in bytes. */
  readonly segmentMaxBytes?: number;
  /** Least time between two writes of the cursor file, in ms. Default 200. */
  readonly cursorPersistIntervalMs?: number;
  /** Told about records removed unsent by the drop-oldest policy. */
  readonly onDropped?: (records: number, bytes: number) => void;
  /** Told about a torn or corrupt tail cut off a segment when the queue opened. */
  readonly onTruncated?: (segmentFile: string, removedBytes: number) => void;
}

/** A record handed to a sender, with where the queue continues after it. */
export interface QueuedRecord {
  readonly position: QueuePosition;
  readonly nextPosition: QueuePosition;
  readonly appendedAtMs: number;
  readonly payload: Uint8Array;
}

/** Thrown by {@link DurableQueue.append} when the data cannot be taken now. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

interface Segment {
  readonly id: number;
  readonly path: string;
  /** Bytes of whole, written records. */
  bytes: number;
  /** Start offsets of the written records, ascending. */
  readonly recordOffsets: number[];
  /** Append time of each record, parallel to `recordOffsets`. */
  readonly appendedAtMs: number[];
}

interface PendingAppend {
  readonly header: Buffer;
  readonly payload: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const DEFAULT_CURSOR_PERSIST_INTERVAL_MS = 200;
/** Records appended by this process are kept in memory for the sender up to this size. */
const MEMORY_CACHE_MAX_BYTES = 64 * 1024 * 1024;

/**
 * One upstream's durable queue: append-only segment files with checksummed records, a
 * read cursor persisted atomically, replay from the cursor on open.
 *
 * Appends are group-committed: while one write+fsync runs, new appends collect, and the
 * next write covers all of them with one fsync, so the cost of durability is shared by
 * every request that arrived in the meantime. {@link append} resolves only once its record
 * is on disk.
 */
export class DurableQueue {
  readonly #options: DurableQueueOptions;
  readonly #segmentMaxBytes: number;
  readonly #segments: Segment[];
  #writer: FileHandle;
  #pending: PendingAppend[] = [];
  #pendingBytes = 0;
  #flushing: Promise<void> | undefined;
  /** Where the next record to deliver starts. */
  #delivered: QueuePosition;
  #persistedCursor: QueuePosition | undefined;
  #cursorTimer: NodeJS.Timeout | undefined;
  #cursorWrite: Promise<void> | undefined;
  #waiters: Array<() => void> = [];
  #closed = false;
  readonly #memory = new RecordCache(MEMORY_CACHE_MAX_BYTES);
  #syncCount = 0;

  private constructor(
    options: DurableQueueOptions,
    segments: Segment[],
    writer: FileHandle,
    delivered: QueuePosition,
  ) {
    this.#options = options;
    this.#segmentMaxBytes = options.segmentMaxBytes ?? defaultSegmentMaxBytes(options.maxBytes);
    this.#segments = segments;
    this.#writer = writer;
    this.#delivered = delivered;
    this.#persistedCursor = delivered;
  }

  /**
   * Opens (or creates) the queue in `options.dir`: cuts torn tails off the segments,
   * deletes fully delivered ones, and positions the reader at the persisted cursor.
   */
  static async open(options: DurableQueueOptions): Promise<DurableQueue> {
    await mkdir(options.dir, { recursive: true });
    const names = await readdir(options.dir);
    const ids = names
      .map(parseSegmentFileName)
      .filter((id): id is number => id !== undefined)
      .sort((a, b) => a - b);
    const cursor = await readCursor(options.dir);
    const segments: Segment[] = [];
    for (const id of ids) {
      const path = join(options.dir, segmentFileName(id));
      if (cursor !== undefined && id < cursor.segmentId) {
        await unlink(path);
        continue;
      }
      const scan = await scanSegment(path);
      if (scan.validBytes < scan.fileBytes) {
        await truncate(path, scan.validBytes);
        options.onTruncated?.(segmentFileName(id), scan.fileBytes - scan.validBytes);
      }
      if (scan.validBytes === 0) {
        await unlink(path);
        continue;
      }
      segments.push({
        id,
        path,
        bytes: scan.validBytes,
        recordOffsets: scan.recordOffsets,
        appendedAtMs: scan.recordAppendedAtMs,
      });
    }
    // Ids only grow, past the cursor's too: a reused id below a stale cursor would have
    // its new records skipped (or deleted) at the next start.
    const nextId = Math.max(ids.at(-1) ?? 0, cursor?.segmentId ?? 0) + 1;
    const active = await createSegment(options.dir, nextId);
    segments.push(active.segment);
    const first = segments[0]!;
    let delivered: QueuePosition = { segmentId: first.id, offset: 0 };
    if (cursor !== undefined && cursor.segmentId === first.id) {
      // A cursor inside a record (it never is, unless the file was edited) moves to the
      // next record boundary: nothing is delivered half.
      const offset = first.recordOffsets.find((start) => start >= cursor.offset) ?? first.bytes;
      delivered = { segmentId: first.id, offset };
    }
    return new DurableQueue(options, segments, active.file, delivered);
  }

  /** Bytes the queue's segments hold, including appends waiting for their fsync. */
  get bytes(): number {
    let total = this.#pendingBytes;
    for (const segment of this.#segments) total += segment.bytes;
    return total;
  }

  /** Write+fsync rounds so far; each covers every append that waited for it. */
  get syncCount(): number {
    return this.#syncCount;
  }

  /** Segment files, the one being written included. */
  get segmentCount(): number {
    return this.#segments.length;
  }

  /** Append time of the oldest record not yet delivered, or `undefined` when none waits. */
  get oldestUnsentAppendedAtMs(): number | undefined {
    for (const segment of this.#segments) {
      if (segment.id < this.#delivered.segmentId) continue;
      const start = segment.id === this.#delivered.segmentId ? this.#delivered.offset : 0;
      const index = lowerBound(segment.recordOffsets, start);
      if (index < segment.recordOffsets.length) return segment.appendedAtMs[index];
    }
    return undefined;
  }

  /**
   * Whether {@link append} would take `payloadBytes` now. Lets a caller with several
   * queues refuse a request before writing it to any of them.
   */
  canAccept(payloadBytes: number): boolean {
    const recordBytes = RECORD_HEADER_BYTES + payloadBytes;
    if (recordBytes > this.#options.maxBytes) return false;
    if (this.bytes + recordBytes <= this.#options.maxBytes) return true;
    if (this.#options.fullPolicy === 'refuse') return false;
    return this.bytes - this.#droppableBytes() + recordBytes <= this.#options.maxBytes;
  }

  /**
   * Appends one payload; resolves once it is on disk (fsync). Rejects with
   * {@link QueueFullError} when the queue is full and the policy refuses, or the payload
   * alone is larger than the queue.
   */
  append(payload: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new QueueFullError('queue is closed'));
    const recordBytes = RECORD_HEADER_BYTES + payload.byteLength;
    if (!this.canAccept(payload.byteLength)) {
      return Promise.reject(
        new QueueFullError(
          `queue holds ${this.bytes} of ${this.#options.maxBytes} bytes; a record of ${recordBytes} bytes does not fit`,
        ),
      );
    }
    while (this.bytes + recordBytes > this.#options.maxBytes) this.#dropOldestSegment();
    return new Promise((resolve, reject) => {
      this.#pending.push({
        header: encodeRecordHeader(payload, Date.now()),
        payload,
        resolve,
        reject,
      });
      this.#pendingBytes += recordBytes;
      this.#flushing ??= this.#flushLoop();
    });
  }

  /**
   * Waits for at least one undelivered record, then returns it with the records right
   * behind it that are already on disk, up to `maxBatchBytes` of payload together.
   * Returns an empty list once the queue is closed or `signal` aborts.
   */
  async nextBatch(maxBatchBytes: number, signal?: AbortSignal): Promise<QueuedRecord[]> {
    for (;;) {
      if (this.#closed || signal?.aborted === true) return [];
      const batch: QueuedRecord[] = [];
      let position = this.#normalise(this.#delivered);
      let batchBytes = 0;
      while (batch.length === 0 || batchBytes < maxBatchBytes) {
        const record = await this.#readAt(position);
        if (record === undefined) break;
        if (batch.length > 0 && batchBytes + record.payload.byteLength > maxBatchBytes) break;
        batch.push(record);
        batchBytes += record.payload.byteLength;
        position = this.#normalise(record.nextPosition);
      }
      if (batch.length > 0) return batch;
      await new Promise<void>((resolve) => {
        const onAbort = () => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
  }

  /** Marks everything before `position` delivered (or deliberately dropped). */
  ack(position: QueuePosition): void {
    if (comparePositions(position, this.#delivered) <= 0) return;
    this.#memory.forgetBefore(position);
    this.#delivered = position;
    // Segments wholly delivered are deleted at once: a cursor file that still points into
    // one makes the next start begin at the following segment, which is what was left.
    while (
      this.#segments.length > 1 &&
      this.#segments[0]!.id < this.#normalise(position).segmentId
    ) {
      const segment = this.#segments.shift()!;
      unlink(segment.path).catch(() => {});
    }
    this.#scheduleCursorWrite();
  }

  /**
   * Stops the queue: waits for appends in progress to reach the disk, writes the cursor,
   * closes the files. Undelivered records stay for the next start.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of this.#waiters.splice(0)) wake();
    await this.#flushing;
    clearTimeout(this.#cursorTimer);
    await this.#cursorWrite;
    await this.#persistCursor();
    await this.#writer.close();
  }

  async #flushLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await this.#writeBatch(batch);
        for (const append of batch) append.resolve();
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        for (const append of batch) append.reject(failure);
      } finally {
        for (const append of batch)
          this.#pendingBytes -= RECORD_HEADER_BYTES + append.payload.byteLength;
      }
      for (const wake of this.#waiters.splice(0)) wake();
    }
    this.#flushing = undefined;
  }

  /** Writes records to the active segment (rolling when it is full) and syncs them. */
  async #writeBatch(batch: PendingAppend[]): Promise<void> {
    let start = 0;
    while (start < batch.length) {
      let active = this.#segments.at(-1)!;
      if (active.bytes >= this.#segmentMaxBytes) {
        await this.#writer.close();
        const next = await createSegment(this.#options.dir, active.id + 1);
        this.#writer = next.file;
        this.#segments.push(next.segment);
        active = next.segment;
      }
      const buffers: Uint8Array[] = [];
      const offsets: number[] = [];
      let bytes = active.bytes;
      let end = start;
      while (end < batch.length && (end === start || bytes < this.#segmentMaxBytes)) {
        const append = batch[end]!;
        offsets.push(bytes);
        buffers.push(append.header, append.payload);
        bytes += RECORD_HEADER_BYTES + append.payload.byteLength;
        end++;
      }
      try {
        // The segment is open with O_DSYNC: the write returns once the data is on disk,
        // one trip to the I/O thread pool instead of a write and an fdatasync.
        await this.#writer.writev(buffers, active.bytes);
        this.#syncCount++;
      } catch (error) {
        // Leave no partial record behind for the next append to follow.
        await this.#writer.truncate(active.bytes).catch(() => {});
        throw error;
      }
      for (let index = start; index < end; index++) {
        const append = batch[index]!;
        const offset = offsets[index - start]!;
        active.recordOffsets.push(offset);
        active.appendedAtMs.push(append.header.readDoubleLE(8));
        this.#memory.remember(active.id, offset, append.payload);
      }
      active.bytes = bytes;
      start = end;
    }
  }

  /** The record at `position`, or `undefined` when nothing was written there yet. */
  async #readAt(position: QueuePosition): Promise<QueuedRecord | undefined> {
    const segment = this.#segments.find((candidate) => candidate.id === position.segmentId);
    if (segment === undefined || position.offset >= segment.bytes) return undefined;
    const index = lowerBound(segment.recordOffsets, position.offset);
    const appendedAtMs = segment.appendedAtMs[index] ?? 0;
    const cached = this.#memory.get(position);
    const payload = cached ?? (await readRecordAt(segment.path, position.offset))?.payload;
    if (payload === undefined) return undefined;
    return {
      position,
      nextPosition: {
        segmentId: segment.id,
        offset: position.offset + RECORD_HEADER_BYTES + payload.byteLength,
      },
      appendedAtMs,
      payload,
    };
  }

  /**
   * Moves a position at the end of a closed segment, or in a segment deleted since, to the
   * start of the next segment there is.
   */
  #normalise(position: QueuePosition): QueuePosition {
    for (let index = 0; index < this.#segments.length; index++) {
      const segment = this.#segments[index]!;
      if (segment.id < position.segmentId) continue;
      if (segment.id > position.segmentId) return { segmentId: segment.id, offset: 0 };
      const isActive = index === this.#segments.length - 1;
      if (position.offset < segment.bytes || isActive) return position;
      return { segmentId: this.#segments[index + 1]!.id, offset: 0 };
    }
    return position;
  }

  /** Bytes the drop-oldest policy could free: every segment but the one being written. */
  #droppableBytes(): number {
    let total = 0;
    for (const segment of this.#segments.slice(0, -1)) total += segment.bytes;
    return total;
  }

  #dropOldestSegment(): void {
    const segment = this.#segments.shift()!;
    const deliveredFrom =
      segment.id < this.#delivered.segmentId
        ? segment.bytes
        : segment.id === this.#delivered.segmentId
          ? this.#delivered.offset
          : 0;
    const firstUnsent = lowerBound(segment.recordOffsets, deliveredFrom);
    const droppedRecords = segment.recordOffsets.length - firstUnsent;
    if (droppedRecords > 0) {
      this.#options.onDropped?.(droppedRecords, segment.bytes - deliveredFrom);
    }
    for (const offset of segment.recordOffsets) this.#memory.forget(segment.id, offset);
    if (comparePositions(this.#delivered, { segmentId: this.#segments[0]!.id, offset: 0 }) < 0) {
      this.#delivered = { segmentId: this.#segments[0]!.id, offset: 0 };
      this.#scheduleCursorWrite();
    }
    unlink(segment.path).catch(() => {});
  }

  #scheduleCursorWrite(): void {
    if (this.#cursorTimer !== undefined || this.#closed) return;
    const intervalMs = this.#options.cursorPersistIntervalMs ?? DEFAULT_CURSOR_PERSIST_INTERVAL_MS;
    this.#cursorTimer = setTimeout(() => {
      this.#cursorWrite = (this.#cursorWrite ?? Promise.resolve())
        .then(() => this.#persistCursor())
        .catch(() => {})
        .finally(() => {
          this.#cursorTimer = undefined;
          const persisted = this.#persistedCursor;
          if (persisted === undefined || comparePositions(this.#delivered, persisted) !== 0) {
            this.#scheduleCursorWrite();
          }
        });
    }, intervalMs);
  }

  async #persistCursor(): Promise<void> {
    const position = this.#delivered;
    if (
      this.#persistedCursor !== undefined &&
      comparePositions(position, this.#persistedCursor) === 0
    ) {
      return;
    }
    await writeCursor(this.#options.dir, position);
    this.#persistedCursor = position;
  }
}

/**
 * Segments of about a sixteenth of the queue, within 16 KiB..64 MiB and never more than a
 * quarter of it: small enough that drop-oldest frees little at a time (and always has a
 * closed segment to free), large enough that files stay few.
 */
function defaultSegmentMaxBytes(maxBytes: number): number {
  const sixteenth = Math.max(16 * 1024, Math.floor(maxBytes / 16));
  return Math.min(64 * 1024 * 1024, sixteenth, Math.floor(maxBytes / 4));
}

/** Create-only, write-only, and every write synced (data and the size needed to read it). */
const SEGMENT_OPEN_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC;

/** Creates an empty segment and syncs its folder, so the file survives a crash. */
async function createSegment(
  dir: string,
  id: number,
): Promise<{ segment: Segment; file: FileHandle }> {
  const path = join(dir, segmentFileName(id));
  const file = await open(path, SEGMENT_OPEN_FLAGS);
  await syncFolder(dir);
  return { segment: { id, path, bytes: 0, recordOffsets: [], appendedAtMs: [] }, file };
}

async function syncFolder(dir: string): Promise<void> {
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/** Index of the first element >= `value` in an ascending array. */
function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
