/**
 * Which remote-write version one upstream receives, and the switch to 1.0 when a 2.0
 * upstream answers 415. The pipeline (and a durable queue record) always holds 1.0 bytes;
 * an upstream configured with `protocol: rw2` gets them converted at send time.
 */

import { logEvent } from '../server/log.js';
import { RW2_FALLBACK_STATUS, RW2_REQUEST_HEADERS, Rw1ToRw2Converter } from './rw1-to-rw2.js';

/** Remote-write versions an upstream can be configured for. */
export const UPSTREAM_PROTOCOLS = ['rw1', 'rw2'] as const;

/** `rw1` (the default) sends remote write 1.0; `rw2` sends 2.0 and falls back on 415. */
export type UpstreamProtocol = (typeof UPSTREAM_PROTOCOLS)[number];

/** Request headers of a remote write 1.0 POST. */
export const RW1_REQUEST_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
};

/**
 * Most bytes one 1.0 payload may decompress to before conversion; a joined backlog
 * request is at most a snappy block, whose length header is a u32.
 */
const MAX_CONVERTED_UNCOMPRESSED_BYTES = 0xffff_ffff;

/** One request body and its version headers. */
export interface EncodedWrite {
  readonly version: UpstreamProtocol;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Picks the body of each request to one upstream. After the first 415 to a 2.0 request
 * the upstream is taken to speak only 1.0 for the life of the process (the spec's
 * fallback), logged once, so later sends skip the doomed 2.0 attempt.
 */
export class UpstreamProtocolState {
  readonly #upstreamName: string;
  #protocol: UpstreamProtocol;
  /** One per upstream: a durable lane converts one request at a time. */
  readonly #converter = new Rw1ToRw2Converter();

  constructor(protocol: UpstreamProtocol, upstreamName: string) {
    this.#protocol = protocol;
    this.#upstreamName = upstreamName;
  }

  /** The version the next request goes out in. */
  get protocol(): UpstreamProtocol {
    return this.#protocol;
  }

  /** The request for a snappy 1.0 payload, in the upstream's current version. */
  encode(rw1Snappy: Uint8Array): EncodedWrite {
    if (this.#protocol === 'rw1') {
      return { version: 'rw1', body: rw1Snappy, headers: RW1_REQUEST_HEADERS };
    }
    return {
      version: 'rw2',
      body: this.#converter.convertSnappy(rw1Snappy, MAX_CONVERTED_UNCOMPRESSED_BYTES),
      headers: RW2_REQUEST_HEADERS,
    };
  }

  /**
   * True when the answer `status` to a request sent as `sent` means: resend it as 1.0
   * now. Switches the upstream to 1.0 the first time.
   */
  shouldFallBack(sent: UpstreamProtocol, status: number): boolean {
    if (sent !== 'rw2' || status !== RW2_FALLBACK_STATUS) return false;
    if (this.#protocol === 'rw2') {
      this.#protocol = 'rw1';
      logEvent('warn', 'upstream_rw2_fallback', {
        upstream: this.#upstreamName,
        status,
        detail: 'upstream refused remote write 2.0; sending 1.0 from now on',
      });
    }
    return true;
  }
}
