import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { SampleSchema } from '../../proto/gen/prometheus/types_pb.js';
import { ProtoReader, WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireError } from './proto-reader.js';
import { ProtoWriter } from './proto-writer.js';

describe('ProtoWriter and ProtoReader', () => {
  it.each([0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -2, -(2 ** 40)])(
    'int64 %d round-trips through protobuf-es',
    (value) => {
      const writer = new ProtoWriter();
      writer.tag(2, WIRE_VARINT);
      writer.varint(value);
      // Sample.timestamp is int64 field 2: protobuf-es reads what the writer wrote.
      expect(fromBinary(SampleSchema, writer.view()).timestamp).toBe(BigInt(value));
      // proto3 leaves a zero out of the encoding, so there is nothing to read back.
      if (value === 0) return;
      const reader = new ProtoReader(
        toBinary(SampleSchema, create(SampleSchema, { timestamp: BigInt(value) })),
      );
      expect(reader.next()).toBe(true);
      expect(reader.varint(true)).toBe(value);
    },
  );

  it.each([0, 1, -1, 63, -64, 2 ** 40, -(2 ** 40)])('zigzag %d round-trips', (value) => {
    const writer = new ProtoWriter();
    writer.zigzag(value);
    expect(new ProtoReader(writer.copy()).zigzag()).toBe(value);
  });

  it.each([0, 5, 127, 128, 20_000, 3_000_000])(
    'nested messages of %d bytes get minimal length prefixes',
    (size) => {
      const writer = new ProtoWriter();
      const outer = writer.beginMessage(1);
      const inner = writer.beginMessage(2);
      writer.raw(new Uint8Array(size).fill(7), 0, size);
      writer.endMessage(inner);
      writer.endMessage(outer);
      const reader = new ProtoReader(writer.copy());
      expect(reader.next()).toBe(true);
      expect(reader.wireType).toBe(WIRE_LEN);
      reader.lengthDelimited();
      const nested = new ProtoReader(reader.bytes, reader.start, reader.valueEnd);
      expect(nested.next()).toBe(true);
      nested.lengthDelimited();
      expect(nested.valueEnd - nested.start).toBe(size);
      expect(reader.pos).toBe(writer.length);
    },
  );

  it('reads nanosecond timestamps as exact milliseconds', () => {
    const writer = new ProtoWriter();
    const nanos = 1_732_000_000_123_999_999n;
    writer.fixed64Words(Number(nanos & 0xffff_ffffn), Number(nanos >> 32n));
    expect(new ProtoReader(writer.copy()).fixed64NanosToMillis()).toBe(1_732_000_000_123);
  });

  it('writes strings as UTF-8 with their byte length', () => {
    const writer = new ProtoWriter();
    writer.stringField(1, 'é'.repeat(100));
    const reader = new ProtoReader(writer.copy());
    reader.next();
    reader.lengthDelimited();
    expect(new TextDecoder().decode(reader.bytes.subarray(reader.start, reader.valueEnd))).toBe(
      'é'.repeat(100),
    );
  });

  it.each([
    ['a truncated varint', [0x08, 0x80]],
    ['a length past the end', [0x0a, 0x05, 0x00]],
    ['a truncated fixed64', [0x09, 0x00, 0x00]],
    ['wire type 3', [0x0b]],
  ])('refuses %s', (_name, bytes) => {
    const reader = new ProtoReader(new Uint8Array(bytes));
    expect(() => {
      while (reader.next()) {
        if (reader.wireType === WIRE_FIXED64) reader.double();
        else reader.skip();
      }
    }).toThrow(WireError);
  });
});
