// Growable memory regions. The module runs with the `stub` runtime: nothing is ever freed
// except the most recent block, so regions grow geometrically and are reused across requests.

/** Largest single block the stub allocator hands out. */
const MAX_BLOCK_BYTES: usize = (1 << 30) - 64;

/** A block of linear memory owned by one buffer of the module. */
@unmanaged
export class Region {
  ptr: usize = 0;
  capacity: usize = 0;

  /**
   * Makes room for at least `needBytes` bytes and returns the (possibly moved) address.
   * With `keepBytes` > 0 the first `keepBytes` bytes survive a move; otherwise the content
   * is undefined after growth, which saves a copy for buffers that are rewritten anyway.
   * Returns 0 when the request exceeds what one block can hold.
   */
  ensure(needBytes: usize, keepBytes: usize): usize {
    if (needBytes <= this.capacity && this.ptr !== 0) return this.ptr;
    if (needBytes > MAX_BLOCK_BYTES) return 0;
    let newCapacity: usize = max<usize>(this.capacity << 1, 256);
    while (newCapacity < needBytes) newCapacity <<= 1;
    if (newCapacity > MAX_BLOCK_BYTES) newCapacity = needBytes;
    let newPtr: usize;
    if (this.ptr === 0) {
      newPtr = heap.alloc(newCapacity);
    } else if (keepBytes > 0) {
      newPtr = heap.realloc(this.ptr, newCapacity);
    } else {
      heap.free(this.ptr);
      newPtr = heap.alloc(newCapacity);
    }
    this.ptr = newPtr;
    this.capacity = newCapacity;
    return newPtr;
  }
}

/** Allocates an empty region descriptor; called once per buffer at module start. */
export function newRegion(): Region {
  let region = changetype<Region>(heap.alloc(offsetof<Region>()));
  region.ptr = 0;
  region.capacity = 0;
  return region;
}
