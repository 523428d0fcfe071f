/**
 * The gateway half of the two-tier layout: splits a relabeled remote-write request into
 * one request per aggregator, each series going to the owner of its aggregation group.
 * A series that several rules select is sent once per rule, each copy to the owner of
 * that rule's group and marked with the rule ({@link TIER_RULE_LABEL}), so every group
 * is aggregated on exactly one member whatever the other rules do. Series no rule selects
 * are not routed (they are forwarded to the normal upstreams by the caller).
 *
 * A series is classified once (its groups computed with the aggregator's own code:
 * `match`, input relabeling, `drop_input_labels`, `by`/`without`) and remembered by a hash
 * of its label bytes; afterwards routing a series costs that hash and a map lookup.
 */
import {
  type InputRelabel,
  pushVarint,
  TIER_RULE_LABEL,
  writeClassification,
} from '../aggregation/classify.js';
import { readVarint, skipField } from '../delivery/shard.js';
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import { groupRoutingKey, type MemberRing } from './routing-key.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TAG_NAME = encoder.encode(TIER_RULE_LABEL);
/** Most series remembered; the cache is emptied when it is full. */
const ROUTE_CACHE_LIMIT = 1 << 20;
const CLASSIFY_SCRATCH_BYTES = 1 << 20;

/** Where the copies of one input series go: per rule, its group's routing key. */
interface SeriesRoutes {
  readonly rules: readonly number[];
  readonly keys: readonly number[];
  /** Rule named by the series' own mark (it came from another tier member), else -1. */
  readonly markedRule: number;
}

/** One routed request. */
export interface RoutedRequest {
  /** Per member (ring order), an uncompressed WriteRequest; empty when it gets nothing. */
  readonly parts: Uint8Array[];
  /** Series copies routed. */
  readonly copies: number;
  /**
   * With a previous ring: per member index, the names of the previous owners of the
   * groups it got that had another owner then.
   */
  readonly movedFrom: Map<number, Set<string>>;
}

export class GroupRouter {
  readonly #rules: readonly AggregationRule[];
  readonly #relabelInput: InputRelabel;
  readonly #cache = new Map<number, SeriesRoutes>();
  readonly #scratch = new Uint8Array(CLASSIFY_SCRATCH_BYTES);

  constructor(rules: readonly AggregationRule[], relabelInput?: InputRelabel) {
    this.#rules = rules;
    this.#relabelInput = relabelInput ?? ((_rule, labels) => labels);
  }

  /** Series remembered now. */
  get cachedSeries(): number {
    return this.#cache.size;
  }

  /**
   * Splits `request` (an uncompressed WriteRequest) over `ring`. With `previous`, also
   * reports where groups moved from (see {@link RoutedRequest.movedFrom}).
   */
  route(request: Uint8Array, ring: MemberRing, previous?: MemberRing): RoutedRequest {
    const chunks: Uint8Array[][] = ring.names.map(() => []);
    const movedFrom = new Map<number, Set<string>>();
    let copies = 0;
    let offset = 0;
    while (offset < request.length) {
      const [tag, afterTag] = readVarint(request, offset);
      const end = skipField(request, afterTag, tag & 7);
      if (end > request.length) throw new Error('field overruns the request');
      if (tag === 0x0a) {
        const [, seriesStart] = readVarint(request, afterTag);
        const routes = this.#routesOf(request.subarray(seriesStart, end));
        for (let index = 0; index < routes.rules.length; index++) {
          const owner = ring.ownerIndex(routes.keys[index]!);
          if (owner < 0) throw new Error('no aggregation members to route to');
          const rule = routes.rules[index]!;
          chunks[owner]!.push(
            routes.markedRule >= 0
              ? request.subarray(offset, end)
              : markedSeries(request.subarray(seriesStart, end), rule),
          );
          copies++;
          if (previous !== undefined) {
            const before = previous.owner(routes.keys[index]!);
            if (before !== undefined && before !== ring.names[owner]) {
              let from = movedFrom.get(owner);
              if (from === undefined) {
                from = new Set();
                movedFrom.set(owner, from);
              }
              from.add(before);
            }
          }
        }
      }
      offset = end;
    }
    return { parts: chunks.map(concat), copies, movedFrom };
  }

  #routesOf(series: Uint8Array): SeriesRoutes {
    const key = seriesKey(series);
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const routes = this.#classify(series);
    if (this.#cache.size >= ROUTE_CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(key, routes);
    return routes;
  }

  #classify(series: Uint8Array): SeriesRoutes {
    const labels = decodeLabels(series);
    const mark = labels.get(TIER_RULE_LABEL);
    labels.delete(TIER_RULE_LABEL);
    const markedRule = mark === undefined ? -1 : Number(mark);
    if (
      mark !== undefined &&
      !(Number.isInteger(markedRule) && markedRule >= 0 && markedRule < this.#rules.length)
    ) {
      throw new Error(`${TIER_RULE_LABEL}="${mark}" names no aggregation rule`);
    }
    const written = writeClassification(
      this.#rules,
      labels,
      this.#scratch,
      this.#relabelInput,
      markedRule >= 0 ? markedRule : undefined,
    );
    if (written < 0) throw new Error('a series has too many output labels to route');
    const view = new DataView(this.#scratch.buffer, 0, written);
    const matches = view.getUint32(0, true);
    const rules: number[] = [];
    const keys: number[] = [];
    let position = 4;
    for (let index = 0; index < matches; index++) {
      const rule = view.getUint32(position, true);
      const blobBytes = view.getUint32(position + 4, true);
      position += 8;
      rules.push(rule);
      keys.push(groupRoutingKey(rule, this.#scratch.subarray(position, position + blobBytes)));
      position += blobBytes;
    }
    return { rules, keys, markedRule };
  }
}

/**
 * A TimeSeries field (tag 1) holding `series` with the label `TIER_RULE_LABEL="rule"`
 * inserted where it sorts, so label names stay in the order receivers require.
 */
function markedSeries(series: Uint8Array, rule: number): Uint8Array {
  const value = encoder.encode(String(rule));
  const label = [0x0a, TAG_NAME.length, ...TAG_NAME, 0x12, value.length, ...value];
  const field = Uint8Array.from([0x0a, label.length, ...label]);
  let insertAt = series.length;
  let offset = 0;
  while (offset < series.length) {
    const [tag, afterTag] = readVarint(series, offset);
    const end = skipField(series, afterTag, tag & 7);
    if (tag !== 0x0a) {
      // Samples follow the labels; the mark goes before them at the latest.
      insertAt = Math.min(insertAt, offset);
      break;
    }
    const [, labelStart] = readVarint(series, afterTag);
    if (compareBytes(labelName(series, labelStart, end), TAG_NAME) > 0) {
      insertAt = offset;
      break;
    }
    offset = end;
  }
  const payloadLength = series.length + field.length;
  const header = [0x0a];
  pushVarint(header, payloadLength);
  const out = new Uint8Array(header.length + payloadLength);
  out.set(header, 0);
  out.set(series.subarray(0, insertAt), header.length);
  out.set(field, header.length + insertAt);
  out.set(series.subarray(insertAt), header.length + insertAt + field.length);
  return out;
}

function labelName(bytes: Uint8Array, start: number, end: number): Uint8Array {
  let position = start;
  while (position < end) {
    const [tag, afterTag] = readVarint(bytes, position);
    if (tag === 0x0a) {
      const [length, nameStart] = readVarint(bytes, afterTag);
      return bytes.subarray(nameStart, nameStart + length);
    }
    position = skipField(bytes, afterTag, tag & 7);
  }
  return new Uint8Array(0);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    if (a[index] !== b[index]) return a[index]! - b[index]!;
  }
  return a.length - b.length;
}

/** Labels of a TimeSeries payload. */
function decodeLabels(series: Uint8Array): Map<string, string> {
  const labels = new Map<string, string>();
  let offset = 0;
  while (offset < series.length) {
    const [tag, afterTag] = readVarint(series, offset);
    const end = skipField(series, afterTag, tag & 7);
    if (tag === 0x0a) {
      const [, labelStart] = readVarint(series, afterTag);
      let name = '';
      let value = '';
      let position = labelStart;
      while (position < end) {
        const [fieldTag, afterFieldTag] = readVarint(series, position);
        const fieldEnd = skipField(series, afterFieldTag, fieldTag & 7);
        if (fieldTag === 0x0a || fieldTag === 0x12) {
          const [, textStart] = readVarint(series, afterFieldTag);
          const text = decoder.decode(series.subarray(textStart, fieldEnd));
          if (fieldTag === 0x0a) name = text;
          else value = text;
        }
        position = fieldEnd;
      }
      labels.set(name, value);
    }
    offset = end;
  }
  return labels;
}

/**
 * A 53-bit key of a series' label fields: two independent 32-bit hashes, so distinct
 * series of one gateway practically never share a key (a shared key would route one of
 * them by the other's groups).
 */
function seriesKey(series: Uint8Array): number {
  let first = 0x811c9dc5;
  let second = 0x01000193;
  let offset = 0;
  while (offset < series.length) {
    const [tag, afterTag] = readVarint(series, offset);
    const end = skipField(series, afterTag, tag & 7);
    if (tag === 0x0a) {
      for (let index = offset; index < end; index++) {
        const byte = series[index]!;
        first = Math.imul(first ^ byte, 0x01000193);
        second = Math.imul(second + byte, 0x5bd1e995) ^ (second >>> 15);
      }
    }
    offset = end;
  }
  return (first >>> 0) * 0x200000 + ((second >>> 0) & 0x1fffff);
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const out = new Uint8Array(total);
  let position = 0;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}
