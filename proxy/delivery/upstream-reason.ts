/** How much of an upstream's error body is kept as its reason, in bytes. */
export const UPSTREAM_REASON_MAX_BYTES = 512;

/** How much of an error body is read and discarded past the reason, in bytes. */
const REASON_DISCARD_LIMIT_BYTES = 64 * 1024;

/**
 * Reads the start of an upstream's error body as text. The rest is read and discarded so the
 * connection can be reused, up to a bound past which the connection is dropped instead.
 */
export async function readUpstreamReason(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let keptBytes = 0;
  let seenBytes = 0;
  for await (const chunk of body) {
    if (keptBytes < UPSTREAM_REASON_MAX_BYTES) {
      const kept = chunk.subarray(0, UPSTREAM_REASON_MAX_BYTES - keptBytes);
      chunks.push(kept);
      keptBytes += kept.byteLength;
    }
    seenBytes += chunk.byteLength;
    if (seenBytes > REASON_DISCARD_LIMIT_BYTES) break;
  }
  const text = new TextDecoder().decode(Buffer.concat(chunks)).trim();
  return text === '' ? '(empty body)' : text;
}

/**
 * Describes a failed request. Node's connection errors carry the useful part
 * (`ECONNREFUSED 127.0.0.1:9`) in `code`, and undici wraps the socket error in `cause`.
 */
export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return typeof code === 'string' ? `${code} ${error.message}${cause}` : `${error.message}${cause}`;
}
