import type { QueuePosition } from './cursor.js';

/**
 * Payloads a queue appended in this process and has not delivered yet, so a healthy
 * sender takes them from memory instead of reading back what was just written. Bounded:
 * past `maxBytes` new records are not kept and the sender reads them from disk.
 */
export class RecordCache {
  readonly #maxBytes: number;
  /** By segment id, then offset; both maps iterate in append order, i.e. position order. */
  readonly #records = new Map<number, Map<number, Uint8Array>>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes of payload held. */
  get bytes(): number {
    return this.#bytes;
  }

  remember(segmentId: number, offset: number, payload: Uint8Array): void {
    if (this.#bytes + payload.byteLength > this.#maxBytes) return;
    let records = this.#records.get(segmentId);
    if (records === undefined) {
      records = new Map();
      this.#records.set(segmentId, records);
    }
    records.set(offset, payload);
    this.#bytes += payload.byteLength;
  }

  get(position: QueuePosition): Uint8Array | undefined {
    return this.#records.get(position.segmentId)?.get(position.offset);
  }

  forget(segmentId: number, offset: number): void {
    const records = this.#records.get(segmentId);
    const payload = records?.get(offset);
    if (records === undefined || payload === undefined) return;
    records.delete(offset);
    if (records.size === 0) this.#records.delete(segmentId);
    this.#bytes -= payload.byteLength;
  }

  /** Drops every payload before `position` (delivered). */
  forgetBefore(position: QueuePosition): void {
    for (const [segmentId, records] of this.#records) {
      if (segmentId > position.segmentId) return;
      for (const offset of records.keys()) {
        if (segmentId === position.segmentId && offset >= position.offset) return;
        this.forget(segmentId, offset);
      }
    }
  }
}
