import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeRecord,
  encodeRecordHeader,
  parseSegmentFileName,
  RECORD_HEADER_BYTES,
  readRecordAt,
  scanSegment,
  segmentFileName,
} from './segment.js';

function record(text: string, appendedAtMs = 1_700_000_000_000): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([encodeRecordHeader(payload, appendedAtMs), payload]);
}

describe('segment records', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'phoenix-segment-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips payload and append time', () => {
    const bytes = record('hello', 1234.5);
    const decoded = decodeRecord(bytes, 0);
    expect(Buffer.from(decoded!.payload).toString()).toBe('hello');
    expect(decoded!.appendedAtMs).toBe(1234.5);
    expect(decoded!.nextOffset).toBe(RECORD_HEADER_BYTES + 5);
  });

  const damaged: Array<[string, (bytes: Buffer) => Buffer]> = [
    ['cut in the payload', (bytes) => bytes.subarray(0, bytes.length - 2)],
    ['cut in the header', (bytes) => bytes.subarray(0, 10)],
    [
      'a flipped payload bit',
      (bytes) => {
        const copy = Buffer.from(bytes);
        copy[copy.length - 1]! ^= 0x01;
        return copy;
      },
    ],
    [
      'a flipped timestamp bit',
      (bytes) => {
        const copy = Buffer.from(bytes);
        copy[9]! ^= 0x10;
        return copy;
      },
    ],
    ['zeroes (preallocated, never written)', (bytes) => Buffer.alloc(bytes.length)],
  ];
  for (const [name, damage] of damaged) {
    it(`refuses a record with ${name}`, () => {
      const bytes = damage(record('payload-bytes'));
      // An all-zero "record" of length 0 has crc32 of 8 zero bytes, not 0: still refused.
      expect(decodeRecord(bytes, 0)).toBeUndefined();
    });
  }

  it('scans to the end of the last whole record of a file with a torn tail', async () => {
    const whole = Buffer.concat([record('first'), record('second')]);
    const torn = record('third, cut short').subarray(0, 20);
    const path = join(dir, segmentFileName(1));
    await writeFile(path, Buffer.concat([whole, torn]));
    const scan = await scanSegment(path);
    expect(scan.recordOffsets).toEqual([0, RECORD_HEADER_BYTES + 5]);
    expect(scan.validBytes).toBe(whole.length);
    expect(scan.fileBytes).toBe(whole.length + 20);
  });

  it('reads one record at an offset, and nothing past the end', async () => {
    const first = record('first');
    const path = join(dir, segmentFileName(7));
    await writeFile(path, Buffer.concat([first, record('second')]));
    const second = await readRecordAt(path, first.length);
    expect(Buffer.from(second!.payload).toString()).toBe('second');
    expect(second!.offset).toBe(first.length);
    expect(await readRecordAt(path, second!.nextOffset)).toBeUndefined();
  });

  it('names segments so they sort by id', () => {
    expect(segmentFileName(42)).toBe('0000000000000042.seg');
    expect(parseSegmentFileName('0000000000000042.seg')).toBe(42);
    expect(parseSegmentFileName('cursor.json')).toBeUndefined();
    expect(segmentFileName(9) < segmentFileName(10)).toBe(true);
  });
});
