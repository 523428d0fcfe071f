/**
 * The key that picks an aggregation group's owner in the two-tier layout, and the pick
 * itself. A gateway computes the key from a series' classification answer, an aggregator
 * handing groups off from the group's record; both see the same bytes (the rule index
 * and the group's encoded output label sets), so both pick the same owner.
 */
import { FNV_OFFSET, fnv1a, mix32, rendezvousPick, upstreamHash } from '../delivery/shard.js';

/**
 * Routing key of the group of rule `rule` whose output label sets are `blobs` (per output,
 * `u32 length` and the encoded Label fields, as in the classification answer and the
 * module's label arena).
 */
export function groupRoutingKey(rule: number, blobs: Uint8Array): number {
  const ruleBytes = new Uint8Array(4);
  new DataView(ruleBytes.buffer).setUint32(0, rule, true);
  return mix32(fnv1a(blobs, 0, blobs.length, fnv1a(ruleBytes, 0, 4, FNV_OFFSET)));
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
