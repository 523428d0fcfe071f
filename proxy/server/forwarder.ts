import { Pool } from 'undici';
import { describeNetworkError, readUpstreamReason } from '../delivery/upstream-reason.js';
import { type UpstreamProtocol, UpstreamProtocolState } from '../rw2/upstream-protocol.js';
import { IngestError } from './ingest-error.js';

/** How much of an upstream's error body is quoted back to the sender, in bytes. */
export { UPSTREAM_REASON_MAX_BYTES } from '../delivery/upstream-reason.js';

/** Options of {@link Forwarder}. */
export interface ForwarderOptions {
  /** The remote-write endpoint; user and password in it become basic auth. */
  readonly upstreamUrl: URL;
  /** Whole-request budget, from sending to the end of the response body, in ms. */
  readonly timeoutMs: number;
  /** Keep-alive connections kept open to the upstream. */
  readonly connections: number;
  /** `User-Agent` sent upstream, `phoenix/<version>`. */
  readonly userAgent: string;
  /**
   * Remote-write version sent (default `rw1`); `rw2` falls back to 1.0 for good after the
   * upstream's first 415.
   */
  readonly protocol?: UpstreamProtocol;
  /**
   * Told about every upstream attempt: the status code as text, or `network` / `timeout`,
   * and how long it took in seconds.
   */
  readonly onAttempt?: (outcome: string, durationSeconds: number) => void;
}

/**
 * Sends remote-write payloads to one upstream over a keep-alive connection pool and turns
 * its answer into what the original sender must hear: success, or an {@link IngestError}
 * whose status tells the sender whether to retry.
 */
export class Forwarder {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  readonly #options: ForwarderOptions;
  readonly #protocol: UpstreamProtocolState;

  constructor(options: ForwarderOptions) {
    this.#options = options;
    const url = options.upstreamUrl;
    this.#pool = new Pool(url.origin, {
      connections: options.connections,
      keepAliveTimeout: 60_000,
      // The overall deadline is enforced with an abort signal; these only keep undici's
      // own shorter defaults from firing first.
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    this.#path = `${url.pathname}${url.search}`;
    this.#headers = { 'user-agent': options.userAgent };
    this.#protocol = new UpstreamProtocolState(options.protocol ?? 'rw1', url.host);
    if (url.username !== '' || url.password !== '') {
      const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      this.#headers['authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
  }

  /**
   * POSTs one snappy-compressed 1.0 WriteRequest (converted to 2.0 for a `rw2`
   * upstream, resent as 1.0 within the same timeout after a 415). Resolves when the
   * upstream answered 2xx; rejects with an {@link IngestError} otherwise.
   */
  async send(payload: Uint8Array): Promise<void> {
    const startedAt = performance.now();
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    let outcome = 'network';
    try {
      let write = this.#protocol.encode(payload);
      let response = await this.#post(write.body, write.headers, signal);
      if (this.#protocol.shouldFallBack(write.version, response.statusCode)) {
        await response.body.dump();
        write = this.#protocol.encode(payload);
        response = await this.#post(write.body, write.headers, signal);
      }
      outcome = String(response.statusCode);
      const status = response.statusCode;
      if (status >= 200 && status < 300) {
        await response.body.dump();
        return;
      }
      const reason = await readUpstreamReason(response.body);
      if (status === 429) {
        const retryAfter = response.headers['retry-after'];
        throw new IngestError(
          'upstream_rate_limited',
          `upstream rate-limited the request: ${reason}`,
          Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        );
      }
      if (status >= 400 && status < 500) {
        throw new IngestError(
          'upstream_rejected',
          `upstream rejected the request (${status}): ${reason}`,
        );
      }
      throw new IngestError('upstream_server_error', `upstream answered ${status}: ${reason}`);
    } catch (error) {
      if (error instanceof IngestError) throw error;
      if (signal.aborted) {
        outcome = 'timeout';
        throw new IngestError(
          'upstream_timeout',
          `upstream did not answer within ${this.#options.timeoutMs} ms`,
        );
      }
      const message = describeNetworkError(error);
      throw new IngestError('upstream_unreachable', `upstream unreachable: ${message}`);
    } finally {
      this.#options.onAttempt?.(outcome, (performance.now() - startedAt) / 1000);
    }
  }

  #post(body: Uint8Array, versionHeaders: Readonly<Record<string, string>>, signal: AbortSignal) {
    return this.#pool.request({
      method: 'POST',
      path: this.#path,
      headers: {
        ...this.#headers,
        ...versionHeaders,
        'content-length': String(body.byteLength),
      },
      body,
      signal,
    });
  }

  /** Closes the keep-alive connections once their requests have finished. */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}
