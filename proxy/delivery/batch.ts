/**
 * Joins queued remote-write payloads into one upstream request without decompressing
 * them. Two facts make this exact:
 *
 * - A raw snappy block is a varint of the uncompressed length followed by elements whose
 *   copies reach back only into output the same block produced. Appending the elements of
 *   block B after those of block A, under a header with the summed length, decodes to
 *   A's bytes followed by B's.
 * - Concatenated protobuf messages parse as one message whose repeated fields hold the
 *   elements of both, in order: two `WriteRequest`s joined are one with all their series
 *   and metadata.
 *
 * So a sender can clear a backlog in large requests while every series keeps its order.
 */

/** Most uncompressed bytes a joined request may claim (the snappy length is a u32). */
const MAX_JOINED_UNCOMPRESSED_BYTES = 0xffff_ffff;

/** The uncompressed length and the size of its varint at the start of a snappy block. */
export function snappyHeader(block: Uint8Array): {
  uncompressedBytes: number;
  headerBytes: number;
} {
  let value = 0;
  for (let index = 0; index < 5 && index < block.byteLength; index++) {
    const byte = block[index]!;
    value += (byte & 0x7f) * 2 ** (7 * index);
    if ((byte & 0x80) === 0) return { uncompressedBytes: value, headerBytes: index + 1 };
  }
  throw new Error('snappy block has no valid length header');
}

function encodeVarint(value: number): Uint8Array {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Uint8Array.from(bytes);
}

/**
 * One snappy block holding the concatenation of what `blocks` decompress to. A single
 * block is returned as it is.
 */
export function joinSnappyBlocks(blocks: readonly Uint8Array[]): Uint8Array {
  if (blocks.length === 1) return blocks[0]!;
  let uncompressedBytes = 0;
  let bodyBytes = 0;
  const headers = blocks.map((block) => {
    const header = snappyHeader(block);
    uncompressedBytes += header.uncompressedBytes;
    bodyBytes += block.byteLength - header.headerBytes;
    return header;
  });
  if (uncompressedBytes > MAX_JOINED_UNCOMPRESSED_BYTES) {
    throw new Error(`joined payload of ${uncompressedBytes} bytes exceeds the snappy limit`);
  }
  const lengthHeader = encodeVarint(uncompressedBytes);
  const joined = new Uint8Array(lengthHeader.byteLength + bodyBytes);
  joined.set(lengthHeader, 0);
  let offset = lengthHeader.byteLength;
  blocks.forEach((block, index) => {
    const body = block.subarray(headers[index]!.headerBytes);
    joined.set(body, offset);
    offset += body.byteLength;
  });
  return joined;
}
