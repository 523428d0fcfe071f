/**
 * The key that picks an aggregation group's owner in the two-tier layout, and the pick
 * itself. A gateway computes the key from a series' classification answer, an aggregator
 * handing groups off from the group's record; both see the same bytes (the rule index
 * and the group's encoded output label sets), so both pick the same owner.
 */
import { rendezvousPick, upstreamHash } from '../delivery/shard.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over `bytes`, continuing from `hash`. */
export function fnv1a(bytes: Uint8Array, hash = FNV_OFFSET): number {
  let state = hash;
  for (let index = 0; index < bytes.length; index++) {
    state = Math.imul(state ^ bytes[index]!, FNV_PRIME);
  }
  return state >>> 0;
}

/** murmur3's finaliser: spreads every input bit over the whole word. */
function mix32(value: number): number {
  let state = value;
  state = Math.imul(state ^ (state >>> 16), 0x85ebca6b);
  state = Math.imul(state ^ (state >>> 13), 0xc2b2ae35);
  return (state ^ (state >>> 16)) >>> 0;
}

/**
 * Routing key of the group of rule `rule` whose output label sets are `blobs` (per output,
 * `u32 length` and the encoded Label fields, as in the classification answer and the
 * module's label arena).
 */
export function groupRoutingKey(rule: number, blobs: Uint8Array): number {
  const ruleBytes = new Uint8Array(4);
  new DataView(ruleBytes.buffer).setUint32(0, rule, true);
  return mix32(fnv1a(blobs, fnv1a(ruleBytes)));
}

/** Rendezvous candidates: the member names and their hashes, in a fixed order. */
export class MemberRing {
  readonly names: readonly string[];
  readonly #hashes: readonly number[];

  constructor(names: readonly string[]) {
    this.names = [...names];
    this.#hashes = this.names.map(upstreamHash);
  }

  /** Index in {@link names} of the owner of `routingKey`; -1 when there are no members. */
  ownerIndex(routingKey: number): number {
    if (this.#hashes.length === 0) return -1;
    return rendezvousPick(routingKey, this.#hashes);
  }

  /** Name of the owner of `routingKey`, or `undefined` when there are no members. */
  owner(routingKey: number): string | undefined {
    return this.names[this.ownerIndex(routingKey)];
  }
}
