/**
 * The on-disk record format of the delivery queues. A queue is a folder of append-only
 * segment files; each record is
 *
 * ```
 * u32 LE payloadBytes | u32 LE crc32(appendedAtMs..payload) | f64 LE appendedAtMs | payload
 * ```
 *
 * The checksum covers the timestamp and the payload, so a record cut short by a crash, or
 * one whose bytes never reached the disk, fails the check and is never delivered half.
 */
import { open, readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

/** Bytes in front of every payload: length, checksum, append time. */
export const RECORD_HEADER_BYTES = 16;

/** Largest payload one record may carry (the ingest limit is 1 GiB at most). */
export const MAX_RECORD_PAYLOAD_BYTES = 0x4000_0000;

const SEGMENT_SUFFIX = '.seg';
const SEGMENT_ID_DIGITS = 16;

/** A record read back from a segment. */
export interface SegmentRecord {
  /** Byte offset of the record's header in its segment. */
  readonly offset: number;
  /** Offset just past the record: where the next one starts. */
  readonly nextOffset: number;
  /** When the record was appended, in ms since the epoch. */
  readonly appendedAtMs: number;
  readonly payload: Uint8Array;
}

/** The 16-byte header of a record holding `payload`, appended at `appendedAtMs`. */
export function encodeRecordHeader(payload: Uint8Array, appendedAtMs: number): Buffer {
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  header.writeUInt32LE(payload.byteLength, 0);
  header.writeDoubleLE(appendedAtMs, 8);
  const checksum = crc32(payload, crc32(header.subarray(8, 16)));
  header.writeUInt32LE(checksum, 4);
  return header;
}

/**
 * Decodes the record starting at `offset` of `bytes`, or returns `undefined` when the
 * bytes there do not hold a whole record with a matching checksum (the torn tail of a
 * crash, or the end of the data).
 */
export function decodeRecord(bytes: Uint8Array, offset: number): SegmentRecord | undefined {
  if (bytes.byteLength - offset < RECORD_HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, RECORD_HEADER_BYTES);
  const payloadBytes = view.getUint32(0, true);
  if (payloadBytes > MAX_RECORD_PAYLOAD_BYTES) return undefined;
  const nextOffset = offset + RECORD_HEADER_BYTES + payloadBytes;
  if (nextOffset > bytes.byteLength) return undefined;
  const expected = view.getUint32(4, true);
  const timestampBytes = bytes.subarray(offset + 8, offset + RECORD_HEADER_BYTES);
  const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, nextOffset);
  if (crc32(payload, crc32(timestampBytes)) !== expected) return undefined;
  return { offset, nextOffset, appendedAtMs: view.getFloat64(8, true), payload };
}

/** What a scan of one segment found. */
export interface SegmentScan {
  /** Offsets of the valid records, in order. */
  readonly recordOffsets: number[];
  /** End of the last valid record: everything after it is a torn or corrupt tail. */
  readonly validBytes: number;
  /** Size of the file as found. */
  readonly fileBytes: number;
  /** Append time of each valid record, parallel to `recordOffsets`, in ms since the epoch. */
  readonly recordAppendedAtMs: number[];
}

/** Reads a whole segment and finds where its valid records end. */
export async function scanSegment(path: string): Promise<SegmentScan> {
  const bytes = await readFile(path);
  const recordOffsets: number[] = [];
  let offset = 0;
  const recordAppendedAtMs: number[] = [];
  for (;;) {
    const record = decodeRecord(bytes, offset);
    if (record === undefined) break;
    recordAppendedAtMs.push(record.appendedAtMs);
    recordOffsets.push(offset);
    offset = record.nextOffset;
  }
  return { recordOffsets, validBytes: offset, fileBytes: bytes.byteLength, recordAppendedAtMs };
}

/**
 * Reads the record at `offset` of the segment at `path` without loading the rest of the
 * file. Returns `undefined` at the end of the data or on a checksum mismatch.
 */
export async function readRecordAt(
  path: string,
  offset: number,
): Promise<SegmentRecord | undefined> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    const { bytesRead } = await file.read(header, 0, RECORD_HEADER_BYTES, offset);
    if (bytesRead < RECORD_HEADER_BYTES) return undefined;
    const payloadBytes = header.readUInt32LE(0);
    if (payloadBytes > MAX_RECORD_PAYLOAD_BYTES) return undefined;
    const whole = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payloadBytes);
    header.copy(whole);
    const payloadRead = await file.read(whole, RECORD_HEADER_BYTES, payloadBytes, offset + 16);
    if (payloadRead.bytesRead < payloadBytes) return undefined;
    const record = decodeRecord(whole, 0);
    return record === undefined
      ? undefined
      : { ...record, offset, nextOffset: offset + record.nextOffset };
  } finally {
    await file.close();
  }
}

/** `0000000000000042.seg` for segment 42: names sort in the order segments were made. */
export function segmentFileName(segmentId: number): string {
  return `${String(segmentId).padStart(SEGMENT_ID_DIGITS, '0')}${SEGMENT_SUFFIX}`;
}

/** The id of a segment file name, or `undefined` for any other file. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = /^(\d{16})\.seg$/.exec(name);
  return match === null ? undefined : Number(match[1]);
}
