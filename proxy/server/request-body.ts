/** First buffer size for a body of unknown length (chunked), in bytes; it doubles as needed. */
const INITIAL_CHUNKED_BYTES = 64 * 1024;

/**
 * Collects a request body out of uWebSockets.js' transient chunks into one buffer of its
 * own, so that buffer can later be transferred to a worker thread without another copy.
 * With a known `Content-Length` the buffer is allocated once at that size; a chunked body
 * grows by doubling. Either way no more than `maxBytes` is ever held.
 */
export class RequestBody {
  #buffer: Uint8Array<ArrayBuffer>;
  #length = 0;
  readonly #maxBytes: number;

  /**
   * @param expectedBytes the declared `Content-Length`, or `undefined` for a chunked body
   * @param maxBytes the most bytes accepted; the caller has already refused a larger
   *   declared length
   */
  constructor(expectedBytes: number | undefined, maxBytes: number) {
    this.#maxBytes = maxBytes;
    const initialBytes = expectedBytes ?? Math.min(INITIAL_CHUNKED_BYTES, maxBytes);
    this.#buffer = new Uint8Array(new ArrayBuffer(initialBytes));
  }

  /** Bytes received so far. */
  get length(): number {
    return this.#length;
  }

  /**
   * Copies a chunk in (uWebSockets.js neuters it after the callback returns). Returns
   * false, keeping nothing of the chunk, when the body would exceed `maxBytes`.
   */
  append(chunk: ArrayBuffer): boolean {
    const needed = this.#length + chunk.byteLength;
    if (needed > this.#maxBytes) return false;
    if (needed > this.#buffer.byteLength) this.#grow(needed);
    this.#buffer.set(new Uint8Array(chunk), this.#length);
    this.#length = needed;
    return true;
  }

  /**
   * The body received, as a view at offset 0 of a buffer that only it uses, ready to be
   * transferred.
   */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.#buffer.subarray(0, this.#length);
  }

  #grow(neededBytes: number): void {
    let capacity = Math.max(this.#buffer.byteLength, 1);
    while (capacity < neededBytes) capacity *= 2;
    const grown = new Uint8Array(new ArrayBuffer(Math.min(capacity, this.#maxBytes)));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }
}
