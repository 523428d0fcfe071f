/**
 * Test entry for the snappy codec: the codec's exports plus a bump allocator, so tests can
 * place buffers in the module's memory the same way the host does.
 */

export {
  snappyCompress,
  snappyDecodedLength,
  snappyDecompress,
  snappyMaxCompressedLength,
} from '../assembly/snappy';

/** Reserves `byteLength` bytes in the module's memory and returns their address. */
export function allocate(byteLength: u32): usize {
  return heap.alloc(<usize>byteLength);
}

/** Forgets every allocation, so each test case starts from an empty heap. */
export function resetHeap(): void {
  heap.reset();
}
