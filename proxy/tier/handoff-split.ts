/**
 * Splits the module's hand-off export (wasm/ABI.md, "Hand-off between replicas") by new
 * owner: each group this replica no longer owns goes, with its input series, to the
 * member that owns it now. The parts are in the same format, group ids renumbered from 0.
 */
import { groupRoutingKey, type MemberRing } from './routing-key.js';

/** "PHH1", the module's HANDOFF_MAGIC. */
export const HANDOFF_MAGIC = 0x31484850;
const HEADER_BYTES = 12;
const GROUP_RECORD_BYTES = 28;
const SERIES_RECORD_BYTES = 32;

export interface HandoffSplit {
  /** Hand-off bytes per new owner (only owners that get at least one group). */
  readonly parts: Map<string, Uint8Array>;
  /** Hashes of the groups given away, to remove from the local state. */
  readonly givenAway: BigUint64Array;
}

interface GroupRecord {
  readonly start: number;
  readonly end: number;
  readonly owner: string;
  newId: number;
  readonly hash: bigint;
}

/** Splits `exported` for `ring`; groups whose owner is `self` (or no one) stay. */
export function splitHandoff(exported: Uint8Array, ring: MemberRing, self: string): HandoffSplit {
  const view = new DataView(exported.buffer, exported.byteOffset, exported.byteLength);
  if (exported.length < HEADER_BYTES || view.getUint32(0, true) !== HANDOFF_MAGIC) {
    throw new Error('not an aggregation hand-off export');
  }
  const groupCount = view.getUint32(4, true);
  const seriesCount = view.getUint32(8, true);
  const groups = new Map<number, GroupRecord>();
  const perOwner = new Map<string, GroupRecord[]>();
  let position = HEADER_BYTES;
  for (let index = 0; index < groupCount; index++) {
    const id = view.getUint32(position, true);
    const rule = view.getUint32(position + 4, true);
    const blobBytes = view.getUint32(position + 24, true);
    const end = position + GROUP_RECORD_BYTES + blobBytes;
    const blobs = exported.subarray(position + GROUP_RECORD_BYTES, end);
    const owner = ring.owner(groupRoutingKey(rule, blobs));
    if (owner !== undefined && owner !== self) {
      const owned = perOwner.get(owner) ?? [];
      const record: GroupRecord = {
        start: position,
        end,
        owner,
        newId: owned.length,
        hash: view.getBigUint64(position + 8, true),
      };
      owned.push(record);
      perOwner.set(owner, owned);
      groups.set(id, record);
    }
    position = end;
  }
  const seriesByOwner = new Map<string, Array<[number, number]>>();
  for (let index = 0; index < seriesCount; index++) {
    const start = position + index * SERIES_RECORD_BYTES;
    const group = groups.get(view.getUint32(start, true));
    if (group === undefined) continue;
    const list = seriesByOwner.get(group.owner) ?? [];
    list.push([start, group.newId]);
    seriesByOwner.set(group.owner, list);
  }
  const parts = new Map<string, Uint8Array>();
  for (const [owner, owned] of perOwner) {
    const series = seriesByOwner.get(owner) ?? [];
    let size = HEADER_BYTES + series.length * SERIES_RECORD_BYTES;
    for (const group of owned) size += group.end - group.start;
    const out = new Uint8Array(size);
    const outView = new DataView(out.buffer);
    outView.setUint32(0, HANDOFF_MAGIC, true);
    outView.setUint32(4, owned.length, true);
    outView.setUint32(8, series.length, true);
    let at = HEADER_BYTES;
    for (const group of owned) {
      out.set(exported.subarray(group.start, group.end), at);
      outView.setUint32(at, group.newId, true);
      at += group.end - group.start;
    }
    for (const [start, newId] of series) {
      out.set(exported.subarray(start, start + SERIES_RECORD_BYTES), at);
      outView.setUint32(at, newId, true);
      at += SERIES_RECORD_BYTES;
    }
    parts.set(owner, out);
  }
  const givenAway = new BigUint64Array([...groups.values()].map((group) => group.hash));
  return { parts, givenAway };
}

/** Groups and input series in hand-off bytes, for logs. */
export function handoffCounts(bytes: Uint8Array): { groups: number; series: number } {
  if (bytes.length < HEADER_BYTES) return { groups: 0, series: 0 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { groups: view.getUint32(4, true), series: view.getUint32(8, true) };
}
