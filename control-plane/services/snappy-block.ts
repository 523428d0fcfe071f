/**
 * Snappy block decompression, for previewing a remote-write body on the control plane
 * without a native module (the proxy's own decoder runs inside WebAssembly).
 */

/** A snappy block that cannot be decoded. */
export class SnappyError extends Error {
  override readonly name = 'SnappyError';
}

/** Decompresses one snappy block (the remote-write body format); refuses over `maxBytes`. */
export function uncompressSnappyBlock(input: Uint8Array, maxBytes: number): Uint8Array {
  let position = 0;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    if (position >= input.length || shift > 28) throw new SnappyError('bad length header');
    const byte = input[position++]!;
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (length > maxBytes) {
    throw new SnappyError(`decompressed length ${length} exceeds ${maxBytes} bytes`);
  }
  const output = new Uint8Array(length);
  let written = 0;
  while (position < input.length) {
    const tag = input[position++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let literalLength = tag >>> 2;
      if (literalLength >= 60) {
        const extraBytes = literalLength - 59;
        if (position + extraBytes > input.length) throw new SnappyError('truncated literal');
        literalLength = 0;
        for (let k = 0; k < extraBytes; k++) literalLength += input[position + k]! * 2 ** (8 * k);
        position += extraBytes;
      }
      literalLength += 1;
      if (position + literalLength > input.length || written + literalLength > length) {
        throw new SnappyError('literal runs past the end');
      }
      output.set(input.subarray(position, position + literalLength), written);
      position += literalLength;
      written += literalLength;
      continue;
    }
    let copyLength: number;
    let offset: number;
    if (kind === 1) {
      if (position >= input.length) throw new SnappyError('truncated copy');
      copyLength = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | input[position++]!;
    } else {
      const offsetBytes = kind === 2 ? 2 : 4;
      if (position + offsetBytes > input.length) throw new SnappyError('truncated copy');
      copyLength = (tag >>> 2) + 1;
      offset = 0;
      for (let k = 0; k < offsetBytes; k++) offset += input[position + k]! * 2 ** (8 * k);
      position += offsetBytes;
    }
    if (offset === 0 || offset > written || written + copyLength > length) {
      throw new SnappyError('copy out of range');
    }
    // Byte by byte: a copy may overlap what it writes (a run).
    for (let k = 0; k < copyLength; k++) {
      output[written] = output[written - offset]!;
      written++;
    }
  }
  if (written !== length) throw new SnappyError(`expected ${length} bytes, decoded ${written}`);
  return output;
}
