/**
 * `--shard-by-series`: spreads series across upstreams with rendezvous (highest random
 * weight) hashing. Each series goes to the upstream whose `mix(seriesHash, upstreamHash)`
 * is highest, so the choice depends only on the series' labels and the set of upstream
 * names: adding or removing one of n upstreams moves only the ~1/n of series that it wins
 * or held, and every proxy replica picks the same upstream for a series.
 *
 * The split works on an uncompressed remote-write 1.0 `WriteRequest` by walking its
 * protobuf fields: each `timeseries` (field 1) is copied byte for byte to its shard's
 * request; the label bytes are hashed where they lie, with no per-sample objects. Other
 * fields (metadata) go to every shard: they are small and each upstream needs them.
 */

export const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Separators hashed between a label's name and value, and after the value. */
const NAME_END = 0xff;
const VALUE_END = 0xfe;

/** FNV-1a over `bytes[start, end)`, continuing from `hash`. */
export function fnv1a(bytes: Uint8Array, start: number, end: number, hash: number): number {
  let state = hash;
  for (let index = start; index < end; index++) {
    state = Math.imul(state ^ bytes[index]!, FNV_PRIME);
  }
  return state >>> 0;
}

/** murmur3's finaliser: spreads every input bit over the whole word. */
export function mix32(value: number): number {
  let state = value;
  state = Math.imul(state ^ (state >>> 16), 0x85ebca6b);
  state = Math.imul(state ^ (state >>> 13), 0xc2b2ae35);
  return (state ^ (state >>> 16)) >>> 0;
}

/** Hash of an upstream's name, the "seed" of its weights. */
export function upstreamHash(name: string): number {
  const bytes = new TextEncoder().encode(name);
  return mix32(fnv1a(bytes, 0, bytes.length, FNV_OFFSET));
}

/** Index of the upstream that wins `seriesHash` among `upstreamHashes`. */
export function rendezvousPick(seriesHash: number, upstreamHashes: readonly number[]): number {
  let best = 0;
  let bestWeight = -1;
  for (let index = 0; index < upstreamHashes.length; index++) {
    const weight = mix32((seriesHash ^ upstreamHashes[index]!) >>> 0);
    if (weight > bestWeight) {
      bestWeight = weight;
      best = index;
    }
  }
  return best;
}

/** Reads a varint at `offset`; returns the value and the offset after it. */
export function readVarint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let position = offset;
  for (let shift = 0; shift < 64; shift += 7) {
    if (position >= bytes.length) throw new Error('truncated varint');
    const byte = bytes[position++]!;
    if (shift < 49) value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, position];
  }
  throw new Error('varint too long');
}

/** Offset after the field whose tag ended at `offset`; throws on a malformed field. */
export function skipField(bytes: Uint8Array, offset: number, wireType: number): number {
  switch (wireType) {
    case 0:
      return readVarint(bytes, offset)[1];
    case 1:
      return offset + 8;
    case 2: {
      const [length, start] = readVarint(bytes, offset);
      if (start + length > bytes.length) throw new Error('field overruns its message');
      return start + length;
    }
    case 5:
      return offset + 4;
    default:
      throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** Splits remote-write requests by series; see the module comment. */
export class SeriesSharder {
  readonly #upstreamHashes: number[];
  /** UTF-8 bytes of the labels that decide the shard; empty means all labels. */
  readonly #shardLabels: Uint8Array[];

  constructor(upstreamNames: readonly string[], shardLabels: readonly string[] = []) {
    this.#upstreamHashes = upstreamNames.map(upstreamHash);
    const encoder = new TextEncoder();
    this.#shardLabels = shardLabels.map((name) => encoder.encode(name));
  }

  get shardCount(): number {
    return this.#upstreamHashes.length;
  }

  /**
   * Hash of one encoded `TimeSeries` message (`bytes[start, end)`): its labels (or the
   * shard labels among them), name and value with separators.
   */
  seriesHash(bytes: Uint8Array, start: number, end: number): number {
    let hash = FNV_OFFSET;
    let offset = start;
    while (offset < end) {
      const [tag, afterTag] = readVarint(bytes, offset);
      if (tag !== 0x0a) {
        offset = skipField(bytes, afterTag, tag & 7);
        continue;
      }
      const [labelLength, labelStart] = readVarint(bytes, afterTag);
      const labelEnd = labelStart + labelLength;
      let nameStart = labelStart;
      let nameEnd = labelStart;
      let valueStart = labelStart;
      let valueEnd = labelStart;
      let position = labelStart;
      while (position < labelEnd) {
        const [fieldTag, afterFieldTag] = readVarint(bytes, position);
        if (fieldTag === 0x0a || fieldTag === 0x12) {
          const [length, fieldStart] = readVarint(bytes, afterFieldTag);
          if (fieldTag === 0x0a) [nameStart, nameEnd] = [fieldStart, fieldStart + length];
          else [valueStart, valueEnd] = [fieldStart, fieldStart + length];
          position = fieldStart + length;
        } else {
          position = skipField(bytes, afterFieldTag, fieldTag & 7);
        }
      }
      if (this.#counts(bytes, nameStart, nameEnd)) {
        hash = fnv1a(bytes, nameStart, nameEnd, hash);
        hash = Math.imul(hash ^ NAME_END, FNV_PRIME) >>> 0;
        hash = fnv1a(bytes, valueStart, valueEnd, hash);
        hash = Math.imul(hash ^ VALUE_END, FNV_PRIME) >>> 0;
      }
      offset = labelEnd;
    }
    if (offset !== end) throw new Error('time series overruns its length');
    return mix32(hash);
  }

  /**
   * One uncompressed `WriteRequest` per upstream, in upstream order; a shard that got no
   * series is an empty array (nothing to send it).
   */
  split(request: Uint8Array): Uint8Array[] {
    const seriesRanges: number[][] = this.#upstreamHashes.map(() => []);
    const sharedRanges: number[] = [];
    let offset = 0;
    while (offset < request.length) {
      const fieldStart = offset;
      const [tag, afterTag] = readVarint(request, offset);
      const end = skipField(request, afterTag, tag & 7);
      if (end > request.length) throw new Error('field overruns the request');
      if (tag === 0x0a) {
        const [, seriesStart] = readVarint(request, afterTag);
        const shard = rendezvousPick(
          this.seriesHash(request, seriesStart, end),
          this.#upstreamHashes,
        );
        seriesRanges[shard]!.push(fieldStart, end);
      } else {
        sharedRanges.push(fieldStart, end);
      }
      offset = end;
    }
    return seriesRanges.map((ranges) =>
      ranges.length === 0 ? new Uint8Array(0) : gather(request, [...ranges, ...sharedRanges]),
    );
  }

  #counts(bytes: Uint8Array, nameStart: number, nameEnd: number): boolean {
    if (this.#shardLabels.length === 0) return true;
    const length = nameEnd - nameStart;
    return this.#shardLabels.some((name) => {
      if (name.length !== length) return false;
      for (let index = 0; index < length; index++) {
        if (name[index] !== bytes[nameStart + index]) return false;
      }
      return true;
    });
  }
}

/** Copies the `[start, end)` pairs of `ranges` out of `bytes`, in order, into one array. */
function gather(bytes: Uint8Array, ranges: readonly number[]): Uint8Array {
  let total = 0;
  for (let index = 0; index < ranges.length; index += 2)
    total += ranges[index + 1]! - ranges[index]!;
  const out = new Uint8Array(total);
  let position = 0;
  for (let index = 0; index < ranges.length; index += 2) {
    const piece = bytes.subarray(ranges[index]!, ranges[index + 1]!);
    out.set(piece, position);
    position += piece.length;
  }
  return out;
}
