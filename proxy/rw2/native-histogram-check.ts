/**
 * Consistency checks of a native histogram message (the same field numbers in remote write
 * 1.0 and 2.0): a receiver would refuse one whose spans and bucket counts disagree, so a
 * request carrying one is answered 400 here, with where, rather than failing upstream.
 */

import {
  type ProtoReader,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
  WireError,
} from '../wire/proto-reader.js';

/** A histogram that is valid protobuf but not a valid native histogram. */
export class HistogramFormatError extends Error {
  override readonly name = 'HistogramFormatError';
}

const COUNT_INT = 1;
const COUNT_FLOAT = 2;
const ZERO_COUNT_INT = 6;
const ZERO_COUNT_FLOAT = 7;
const SCHEMA = 4;
const NEGATIVE_SPANS = 8;
const NEGATIVE_DELTAS = 9;
const NEGATIVE_COUNTS = 10;
const POSITIVE_SPANS = 11;
const POSITIVE_DELTAS = 12;
const POSITIVE_COUNTS = 13;
const RESET_HINT = 14;
const CUSTOM_VALUES = 16;
/** `ResetHint` values: UNSPECIFIED, YES, NO, GAUGE. */
const MAX_RESET_HINT = 3;
const SPAN_LENGTH = 2;

/** Schema of custom bucket boundaries (`custom_values`). */
const CUSTOM_BUCKETS_SCHEMA = -53;
const MIN_EXPONENTIAL_SCHEMA = -4;
const MAX_EXPONENTIAL_SCHEMA = 8;

/**
 * Reads the histogram in `reader` (positioned on its bytes) and throws
 * {@link HistogramFormatError} naming `where` when its schema is unknown, its span lengths
 * do not add up to its number of bucket counts, or it mixes deltas and absolute counts.
 */
export function checkNativeHistogram(reader: ProtoReader, where: string): void {
  let schema = 0;
  let negativeSpanBuckets = 0;
  let positiveSpanBuckets = 0;
  let negativeDeltas = 0;
  let negativeCounts = 0;
  let positiveDeltas = 0;
  let positiveCounts = 0;
  let customValues = 0;
  let count = 0;
  let zeroCount = 0;
  buckets.observations = 0;
  buckets.negative = false;
  previousBucket[0] = 0;
  previousBucket[1] = 0;
  while (reader.next()) {
    switch (reader.field) {
      case COUNT_INT:
      case ZERO_COUNT_INT: {
        reader.expect(WIRE_VARINT, where);
        const value = reader.varint();
        if (reader.field === COUNT_INT) count = value;
        else zeroCount = value;
        break;
      }
      case COUNT_FLOAT:
      case ZERO_COUNT_FLOAT: {
        reader.expect(WIRE_FIXED64, where);
        const value = reader.double();
        if (reader.field === COUNT_FLOAT) count = value;
        else zeroCount = value;
        break;
      }
      case SCHEMA:
        reader.expect(WIRE_VARINT, `${where}.schema`);
        schema = reader.zigzag();
        break;
      case NEGATIVE_SPANS:
        negativeSpanBuckets += spanLength(reader, `${where}.negative_spans`);
        break;
      case POSITIVE_SPANS:
        positiveSpanBuckets += spanLength(reader, `${where}.positive_spans`);
        break;
      case NEGATIVE_DELTAS:
        negativeDeltas += sumDeltas(reader, `${where}.negative_deltas`, 0);
        break;
      case POSITIVE_DELTAS:
        positiveDeltas += sumDeltas(reader, `${where}.positive_deltas`, 1);
        break;
      case NEGATIVE_COUNTS:
        negativeCounts += sumDoubles(reader, `${where}.negative_counts`, true);
        break;
      case POSITIVE_COUNTS:
        positiveCounts += sumDoubles(reader, `${where}.positive_counts`, true);
        break;
      case RESET_HINT: {
        reader.expect(WIRE_VARINT, `${where}.reset_hint`);
        const hint = reader.varint32();
        if (hint > MAX_RESET_HINT) {
          throw new HistogramFormatError(`${where}.reset_hint: unknown value ${hint}`);
        }
        break;
      }
      case CUSTOM_VALUES:
        customValues += sumDoubles(reader, `${where}.custom_values`, false);
        break;
      default:
        reader.skip();
    }
  }
  if (
    schema !== CUSTOM_BUCKETS_SCHEMA &&
    (schema < MIN_EXPONENTIAL_SCHEMA || schema > MAX_EXPONENTIAL_SCHEMA)
  ) {
    throw new HistogramFormatError(`${where}: unknown schema ${schema}`);
  }
  checkSide(where, 'negative', negativeSpanBuckets, negativeDeltas, negativeCounts);
  checkSide(where, 'positive', positiveSpanBuckets, positiveDeltas, positiveCounts);
  if (schema === CUSTOM_BUCKETS_SCHEMA && customValues === 0 && positiveSpanBuckets > 0) {
    throw new HistogramFormatError(`${where}: custom-bucket schema without custom_values`);
  }
  if (buckets.negative) {
    throw new HistogramFormatError(`${where}: a bucket count is negative`);
  }
  const observed = buckets.observations + zeroCount;
  // The count may exceed the buckets (NaN observations are in no bucket), never fall short.
  if (observed > count * (1 + 1e-12) && !Number.isNaN(count)) {
    throw new HistogramFormatError(
      `${where}: ${observed} observations in the buckets but count is ${count}`,
    );
  }
}

/** Running totals of the bucket counts of the histogram being checked. */
const buckets = { observations: 0, negative: false };

function checkSide(
  where: string,
  side: string,
  spanBuckets: number,
  deltas: number,
  counts: number,
): void {
  if (deltas > 0 && counts > 0) {
    throw new HistogramFormatError(`${where}: both ${side}_deltas and ${side}_counts are set`);
  }
  const buckets = deltas + counts;
  if (buckets !== spanBuckets) {
    throw new HistogramFormatError(
      `${where}: ${side}_spans cover ${spanBuckets} buckets but ${buckets} bucket counts are given`,
    );
  }
}

function spanLength(reader: ProtoReader, where: string): number {
  reader.expect(WIRE_LEN, where);
  reader.lengthDelimited();
  const after = reader.pos;
  const outerEnd = reader.end;
  reader.reset(reader.start, reader.valueEnd);
  let length = 0;
  while (reader.next()) {
    if (reader.field === SPAN_LENGTH) {
      reader.expect(WIRE_VARINT, `${where}.length`);
      length = reader.varint32();
    } else {
      reader.skip();
    }
  }
  reader.reset(after, outerEnd);
  return length;
}

/**
 * Reads a repeated sint64 delta field (one unpacked value or a packed run), adds the bucket
 * counts it encodes to the running totals, and returns how many values it held.
 */
function sumDeltas(reader: ProtoReader, where: string, side: number): number {
  if (reader.wireType === WIRE_VARINT) {
    addBucket(side, reader.zigzag());
    return 1;
  }
  reader.expect(WIRE_LEN, where);
  reader.lengthDelimited();
  const after = reader.pos;
  const outerEnd = reader.end;
  reader.reset(reader.start, reader.valueEnd);
  let values = 0;
  while (reader.pos < reader.end) {
    addBucket(side, reader.zigzag());
    values++;
  }
  reader.reset(after, outerEnd);
  return values;
}

/**
 * Deltas run across all the spans of one side: each is the change from the previous
 * bucket of that side (index 0 negative, 1 positive).
 */
const previousBucket = [0, 0];
function addBucket(side: number, delta: number): void {
  const bucket = previousBucket[side]! + delta;
  previousBucket[side] = bucket;
  if (bucket < 0) buckets.negative = true;
  buckets.observations += bucket;
}

/** Reads a repeated double field; `counts` adds its values to the running totals. */
function sumDoubles(reader: ProtoReader, where: string, counts: boolean): number {
  if (reader.wireType === WIRE_FIXED64) {
    addCount(reader.double(), counts);
    return 1;
  }
  reader.expect(WIRE_LEN, where);
  reader.lengthDelimited();
  const bytes = reader.valueEnd - reader.start;
  if (bytes % 8 !== 0) throw new WireError(`${where}: packed doubles of ${bytes} bytes`);
  for (let at = reader.start; at < reader.valueEnd; at += 8) {
    addCount(reader.view.getFloat64(at, true), counts);
  }
  return bytes / 8;
}

function addCount(value: number, counts: boolean): void {
  if (!counts) return;
  if (value < 0) buckets.negative = true;
  buckets.observations += value;
}
