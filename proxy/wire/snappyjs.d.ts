/** Types of the pure-JavaScript snappy block codec (the package ships none). */
declare module 'snappyjs' {
  /** Decompresses a snappy block; throws when it is corrupt or longer than `maxLength`. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  /** Compresses into one snappy block. */
  export function compress(uncompressed: Uint8Array): Uint8Array;
}
