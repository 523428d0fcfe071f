// The aggregation state: open-addressing tables keyed by 64-bit hashes, plus a slab of
// output groups, all at offsets inside growable regions so a snapshot is a plain copy of
// bytes. Linear probing with backward-shift deletion keeps lookups short without
// tombstones.

// biome-ignore lint/style/useImportType: AssemblyScript has no type-only imports
import { newRegion, Region } from './buffers';

// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const MUL_A: u64 = 0xff51afd7ed558ccd;
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const MUL_B: u64 = 0xc4ceb9fe1a85ec53;
// biome-ignore lint/correctness/noPrecisionLoss: a u64 in AssemblyScript, exact
const SEED: u64 = 0x9e3779b97f4a7c15;

/** 64-bit hash of `len` bytes folded into `h`; never returns 0 (0 marks an empty slot). */
export function hash64(h: u64, ptr: usize, len: usize): u64 {
  h ^= SEED ^ (<u64>len * MUL_B);
  let end = ptr + len;
  while (ptr + 8 <= end) {
    h = (h ^ load<u64>(ptr)) * MUL_A;
    h ^= h >> 32;
    ptr += 8;
  }
  while (ptr < end) {
    h = (h ^ <u64>load<u8>(ptr)) * MUL_B;
    h ^= h >> 29;
    ptr++;
  }
  return finish64(h);
}

/** Mixes a small integer into a hash; never returns 0. */
export function mix64(h: u64, value: u64): u64 {
  return finish64((h ^ (value + 1)) * MUL_A);
}

function finish64(h: u64): u64 {
  h ^= h >> 33;
  h *= MUL_B;
  h ^= h >> 29;
  h *= MUL_A;
  h ^= h >> 32;
  return h === 0 ? 1 : h;
}

/**
 * An open-addressing table of fixed-size entries whose first 8 bytes are the u64 key
 * (0 = empty). Capacity is a power of two; it grows at 7/8 load: most lookups find their
 * key (a few probes even that full), misses happen once per new series, and memory per
 * tracked series is what bounds how many series one proxy can aggregate.
 */
@unmanaged
export class HashTable {
  region: Region = changetype<Region>(0);
  scratch: Region = changetype<Region>(0);
  entryBytes: usize = 0;
  capacity: u32 = 0;
  count: u32 = 0;

  /** Byte size of the entries array. */
  bytes(): usize {
    return <usize>this.capacity * this.entryBytes;
  }

  entryAt(index: u32): usize {
    return this.region.ptr + <usize>index * this.entryBytes;
  }

  /** Empties the table, keeping `initialCapacity` slots. */
  clear(initialCapacity: u32): void {
    this.capacity = initialCapacity;
    this.count = 0;
    let bytes = this.bytes();
    this.region.ensure(bytes, 0);
    memory.fill(this.region.ptr, 0, bytes);
  }

  /** The entry for `key`, or 0. */
  find(key: u64): usize {
    let mask = this.capacity - 1;
    let index = <u32>key & mask;
    while (true) {
      let entry = this.entryAt(index);
      let stored = load<u64>(entry);
      if (stored === key) return entry;
      if (stored === 0) return 0;
      index = (index + 1) & mask;
    }
  }

  /** The entry for `key`, inserted zeroed (but for the key) when absent. Sets {@link inserted}. */
  findOrInsert(key: u64): usize {
    if ((this.count + 1) * 8 > this.capacity * 7) this.grow();
    let mask = this.capacity - 1;
    let index = <u32>key & mask;
    while (true) {
      let entry = this.entryAt(index);
      let stored = load<u64>(entry);
      if (stored === key) {
        inserted = false;
        return entry;
      }
      if (stored === 0) {
        store<u64>(entry, key);
        this.count++;
        inserted = true;
        return entry;
      }
      index = (index + 1) & mask;
    }
  }

  /** Removes the entry at slot `index` and shifts back the run that follows it. */
  removeAt(index: u32): void {
    let mask = this.capacity - 1;
    let hole = index;
    let next = (hole + 1) & mask;
    while (true) {
      let entry = this.entryAt(next);
      let key = load<u64>(entry);
      if (key === 0) break;
      let home = <u32>key & mask;
      // The entry may move into the hole when its home is not in (hole, next].
      let distanceToNext = (next - home) & mask;
      let distanceToHole = (hole - home) & mask;
      if (distanceToHole < distanceToNext) {
        memory.copy(this.entryAt(hole), entry, this.entryBytes);
        hole = next;
      }
      next = (next + 1) & mask;
    }
    memory.fill(this.entryAt(hole), 0, this.entryBytes);
    this.count--;
  }

  private grow(): void {
    let oldBytes = this.bytes();
    let oldCapacity = this.capacity;
    this.scratch.ensure(oldBytes, 0);
    memory.copy(this.scratch.ptr, this.region.ptr, oldBytes);
    this.capacity = oldCapacity << 1;
    let bytes = this.bytes();
    this.region.ensure(bytes, 0);
    memory.fill(this.region.ptr, 0, bytes);
    let mask = this.capacity - 1;
    for (let i: u32 = 0; i < oldCapacity; i++) {
      let source = this.scratch.ptr + <usize>i * this.entryBytes;
      let key = load<u64>(source);
      if (key === 0) continue;
      let index = <u32>key & mask;
      while (load<u64>(this.entryAt(index)) !== 0) index = (index + 1) & mask;
      memory.copy(this.entryAt(index), source, this.entryBytes);
    }
  }
}

/** Set by {@link HashTable.findOrInsert}: whether the entry was new. */
export let inserted: bool = false;

export function newHashTable(entryBytes: usize, initialCapacity: u32): HashTable {
  let table = changetype<HashTable>(heap.alloc(offsetof<HashTable>()));
  table.region = newRegion();
  table.scratch = newRegion();
  table.entryBytes = entryBytes;
  table.clear(initialCapacity);
  return table;
}
