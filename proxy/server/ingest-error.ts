/**
 * The closed set of reasons the proxy refuses or fails a remote-write request. Each maps
 * to exactly one HTTP status in {@link INGEST_ERROR_STATUS}, and each is a value of the
 * `reason` label of `phoenix_errors_total`.
 *
 * The status decides what the sender does next (remote-write spec): 400/413/415 are never
 * retried, so they are kept for requests that can never succeed; 429 and 5xx are retried,
 * so everything that may pass later (upstream trouble, shutdown) maps there.
 */
export type IngestErrorReason =
  | 'unsupported_media_type'
  | 'unsupported_encoding'
  | 'too_large'
  | 'snappy'
  | 'protobuf'
  | 'invalid_labels'
  | 'pipeline'
  | 'worker'
  | 'upstream_rejected'
  | 'upstream_rate_limited'
  | 'upstream_server_error'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'queue_full'
  | 'queue_write_failed'
  | 'shutting_down'
  | 'handoff_pending';

/** HTTP status answered for each {@link IngestErrorReason}. */
export const INGEST_ERROR_STATUS: Readonly<Record<IngestErrorReason, number>> = {
  unsupported_media_type: 415,
  unsupported_encoding: 415,
  too_large: 413,
  snappy: 400,
  protobuf: 400,
  invalid_labels: 400,
  // A rule program the module refused, or a regex result that did not fit: a fault of
  // the proxy, not of the request, so the sender keeps the data and retries.
  pipeline: 500,
  worker: 500,
  // The upstream said the data itself is bad (4xx other than 429): retrying cannot help.
  upstream_rejected: 400,
  upstream_rate_limited: 429,
  // 502: the gateway got an error answer; retried by every remote-write sender.
  upstream_server_error: 502,
  upstream_unreachable: 503,
  upstream_timeout: 503,
  // The delivery queue is at --max-queue-bytes (policy refuse): the sender keeps the data
  // and retries after Retry-After, by when the upstream may have drained it.
  queue_full: 429,
  // The disk refused the write (full, I/O error): nothing was acknowledged, retry later.
  queue_write_failed: 503,
  shutting_down: 503,
  // Two-tier aggregation: the series' group is moving here and its state has not arrived
  // from the previous owner yet (docs/aggregation-tier.md); the sender retries shortly.
  handoff_pending: 503,
};

/** Status lines for the codes the proxy answers; uWebSockets.js wants the whole line. */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** `"413 Content Too Large"` for `413`: the form `HttpResponse.writeStatus` takes. */
export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Unknown'}`;
}

/** A refused or failed request: why (a closed set) and a message for the sender. */
export class IngestError extends Error {
  override readonly name = 'IngestError';
  readonly reason: IngestErrorReason;
  /** Seconds the sender should wait, passed on from an upstream's `Retry-After` on 429. */
  readonly retryAfter: string | undefined;

  constructor(reason: IngestErrorReason, message: string, retryAfter?: string) {
    super(message);
    this.reason = reason;
    this.retryAfter = retryAfter;
  }

  /** The HTTP status the sender gets. */
  get status(): number {
    return INGEST_ERROR_STATUS[this.reason];
  }
}
