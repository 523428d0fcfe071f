import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { parse as parseYaml } from 'yaml';
import {
  UPSTREAM_PROTOCOLS,
  type UpstreamProtocol,
  UpstreamProtocolState,
} from '../rw2/upstream-protocol.js';
import { type AttemptVerdict, parseRetryAfterMs, verdictForStatus } from './retry.js';
import { describeNetworkError, readUpstreamReason } from './upstream-reason.js';

/** One upstream a proxy delivers to, fully resolved. */
export interface UpstreamConfig {
  /** Names its queue folder and the `upstream` label of the delivery metrics. */
  readonly name: string;
  /** Remote-write endpoint; user and password in it become basic auth. */
  readonly url: URL;
  /** Extra request headers, e.g. `X-Scope-OrgID` for a multi-tenant receiver. */
  readonly headers: Readonly<Record<string, string>>;
  /** `Authorization` value; derived from basic auth, a bearer token, or the URL. */
  readonly authorization: string | undefined;
  /** PEM CA bundle trusted for https, instead of the system's. */
  readonly caPem: string | undefined;
  /** PEM client certificate and key, for mutual TLS. */
  readonly clientCertPem: string | undefined;
  readonly clientKeyPem: string | undefined;
  /** Skip server certificate verification (test setups only). */
  readonly insecureSkipVerify: boolean;
  /** Budget of one request, from sending to the end of the response, in ms. */
  readonly timeoutMs: number;
  /** Remote-write version sent: `rw1` (default) or `rw2`, which falls back to 1.0 on 415. */
  readonly protocol: UpstreamProtocol;
}

/** Thrown for an upstream definition that cannot work; the message names the field. */
export class UpstreamConfigError extends Error {
  override readonly name = 'UpstreamConfigError';
}

/** An upstream given only by URL (`--upstream`), with the proxy-wide timeout. */
export function upstreamFromUrl(
  url: URL | string,
  timeoutMs: number,
  name?: string,
): UpstreamConfig {
  const parsed = checkedUrl(url, 'upstream');
  return {
    name: name ?? defaultUpstreamName(parsed),
    url: parsed,
    headers: {},
    authorization: urlBasicAuth(parsed),
    caPem: undefined,
    clientCertPem: undefined,
    clientKeyPem: undefined,
    insecureSkipVerify: false,
    timeoutMs,
    protocol: 'rw1',
  };
}

/**
 * Reads an upstreams file: `upstreams:` is a list of `{url, name, headers, basic_auth:
 * {username, password | password_file}, bearer_token | bearer_token_file, tls_config:
 * {ca_file, cert_file, key_file, insecure_skip_verify}, timeout, protocol: rw1 | rw2}` in
 * the shape of Prometheus' own `remote_write` entries. Files named in it are read now, so a missing
 * certificate stops the start rather than the first send.
 */
export function parseUpstreamsFile(
  text: string,
  source: string,
  defaultTimeoutMs: number,
): UpstreamConfig[] {
  const document = parseYaml(text) as { upstreams?: unknown } | null;
  const entries = document?.upstreams;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new UpstreamConfigError(`${source}: upstreams must be a non-empty list`);
  }
  return entries.map((entry: unknown, index) => {
    const where = `${source}: upstreams[${index}]`;
    if (typeof entry !== 'object' || entry === null) {
      throw new UpstreamConfigError(`${where} must be a mapping`);
    }
    const fields = entry as Record<string, unknown>;
    const url = checkedUrl(stringField(fields, 'url', where) ?? '', `${where}.url`);
    const headers: Record<string, string> = {};
    const headerFields = fields['headers'];
    if (headerFields !== undefined) {
      if (typeof headerFields !== 'object' || headerFields === null) {
        throw new UpstreamConfigError(`${where}.headers must be a mapping`);
      }
      for (const [name, value] of Object.entries(headerFields)) {
        headers[name.toLowerCase()] = String(value);
      }
    }
    const tls = (fields['tls_config'] ?? {}) as Record<string, unknown>;
    const timeoutText = stringField(fields, 'timeout', where);
    return {
      name: stringField(fields, 'name', where) ?? defaultUpstreamName(url),
      url,
      headers,
      authorization: authorization(fields, url, where),
      caPem: fileField(tls, 'ca_file', `${where}.tls_config`),
      clientCertPem: fileField(tls, 'cert_file', `${where}.tls_config`),
      clientKeyPem: fileField(tls, 'key_file', `${where}.tls_config`),
      insecureSkipVerify: tls['insecure_skip_verify'] === true,
      timeoutMs:
        timeoutText === undefined ? defaultTimeoutMs : durationMs(timeoutText, `${where}.timeout`),
      protocol: protocolField(fields, where),
    };
  });
}

/**
 * True when the upstream sets nothing beyond its URL and `protocol` (headers, auth other
 * than the URL's, TLS, its own timeout): the synchronous path honours only those two.
 */
export function hasOnlyUrlSettings(upstream: UpstreamConfig, timeoutMs: number): boolean {
  return (
    Object.keys(upstream.headers).length === 0 &&
    upstream.authorization === urlBasicAuth(upstream.url) &&
    upstream.caPem === undefined &&
    upstream.clientCertPem === undefined &&
    upstream.clientKeyPem === undefined &&
    !upstream.insecureSkipVerify &&
    upstream.timeoutMs === timeoutMs
  );
}

/** Checks that names (and so queue folders) are distinct. */
export function checkDistinctNames(upstreams: readonly UpstreamConfig[]): void {
  const seen = new Set<string>();
  for (const upstream of upstreams) {
    if (seen.has(upstream.name)) {
      throw new UpstreamConfigError(
        `two upstreams are named ${JSON.stringify(upstream.name)}; give them distinct names`,
      );
    }
    seen.add(upstream.name);
  }
}

/** `127.0.0.1_9090_api_v1_write`: stable while the URL is, safe as a folder name. */
export function defaultUpstreamName(url: URL): string {
  return `${url.host}${url.pathname}`.replace(/[^A-Za-z0-9.-]+/g, '_').replace(/^_+|_+$/g, '');
}

/** How one attempt ended. */
export interface AttemptOutcome {
  readonly verdict: AttemptVerdict;
  /** The status as text, or `network` / `timeout`: the `code` label of the metrics. */
  readonly code: string;
  /** The upstream's reason (start of its body) or the network error. */
  readonly reason: string;
  /** From `Retry-After`, in ms, when the upstream sent one. */
  readonly retryAfterMs: number | undefined;
  readonly durationSeconds: number;
}

/** Sends remote-write payloads to one upstream over keep-alive connections. */
export class UpstreamClient {
  readonly #config: UpstreamConfig;
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  readonly #protocol: UpstreamProtocolState;

  constructor(config: UpstreamConfig, connections: number, userAgent: string) {
    this.#config = config;
    const tls = {
      ...(config.caPem === undefined ? {} : { ca: config.caPem }),
      ...(config.clientCertPem === undefined ? {} : { cert: config.clientCertPem }),
      ...(config.clientKeyPem === undefined ? {} : { key: config.clientKeyPem }),
      rejectUnauthorized: !config.insecureSkipVerify,
    };
    this.#pool = new Pool(config.url.origin, {
      connections,
      keepAliveTimeout: 60_000,
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
      connect: tls,
    });
    this.#path = `${config.url.pathname}${config.url.search}`;
    this.#headers = { ...config.headers, 'user-agent': userAgent };
    this.#protocol = new UpstreamProtocolState(config.protocol, config.name);
    if (config.authorization !== undefined) this.#headers['authorization'] = config.authorization;
  }

  get config(): UpstreamConfig {
    return this.#config;
  }

  /** The version the next request goes out in (`rw1` once a 2.0 upstream answered 415). */
  get protocol(): UpstreamProtocol {
    return this.#protocol.protocol;
  }

  /**
   * POSTs one snappy-compressed 1.0 WriteRequest, converted to 2.0 for a `protocol: rw2`
   * upstream; a 415 to 2.0 is followed at once by the same data as 1.0, within the same
   * timeout. Never throws, the outcome says what happened.
   */
  async send(payload: Uint8Array): Promise<AttemptOutcome> {
    const startedAt = performance.now();
    const signal = AbortSignal.timeout(this.#config.timeoutMs);
    const seconds = () => (performance.now() - startedAt) / 1000;
    try {
      let write = this.#protocol.encode(payload);
      let response = await this.#post(write.body, write.headers, signal);
      if (this.#protocol.shouldFallBack(write.version, response.statusCode)) {
        await response.body.dump();
        write = this.#protocol.encode(payload);
        response = await this.#post(write.body, write.headers, signal);
      }
      const status = response.statusCode;
      const verdict = verdictForStatus(status);
      if (verdict === 'delivered') {
        await response.body.dump();
        return {
          verdict,
          code: String(status),
          reason: '',
          retryAfterMs: undefined,
          durationSeconds: seconds(),
        };
      }
      const retryAfter = response.headers['retry-after'];
      return {
        verdict,
        code: String(status),
        reason: await readUpstreamReason(response.body),
        retryAfterMs: parseRetryAfterMs(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
        durationSeconds: seconds(),
      };
    } catch (error) {
      const timedOut = signal.aborted;
      return {
        verdict: 'retry',
        code: timedOut ? 'timeout' : 'network',
        reason: timedOut
          ? `no answer within ${this.#config.timeoutMs} ms`
          : describeNetworkError(error),
        retryAfterMs: undefined,
        durationSeconds: seconds(),
      };
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

  /** Closes the connections once their requests have finished. */
  async close(): Promise<void> {
    await this.#pool.close();
  }
}

function protocolField(fields: Record<string, unknown>, where: string): UpstreamProtocol {
  const value = stringField(fields, 'protocol', where) ?? 'rw1';
  if (!(UPSTREAM_PROTOCOLS as readonly string[]).includes(value)) {
    throw new UpstreamConfigError(
      `${where}.protocol ${JSON.stringify(value)} must be one of ${UPSTREAM_PROTOCOLS.join(', ')}`,
    );
  }
  return value as UpstreamProtocol;
}

function checkedUrl(value: URL | string, where: string): URL {
  let url: URL;
  try {
    url = typeof value === 'string' ? new URL(value) : value;
  } catch {
    throw new UpstreamConfigError(`${where} ${JSON.stringify(value)} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UpstreamConfigError(`${where} ${url.href} must use http: or https:`);
  }
  return url;
}

function urlBasicAuth(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  return basic(decodeURIComponent(url.username), decodeURIComponent(url.password));
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function authorization(
  fields: Record<string, unknown>,
  url: URL,
  where: string,
): string | undefined {
  const basicAuth = fields['basic_auth'] as Record<string, unknown> | undefined;
  const token =
    stringField(fields, 'bearer_token', where) ?? fileField(fields, 'bearer_token_file', where);
  if (basicAuth !== undefined && token !== undefined) {
    throw new UpstreamConfigError(`${where}: basic_auth and bearer_token are mutually exclusive`);
  }
  if (token !== undefined) return `Bearer ${token.trim()}`;
  if (basicAuth !== undefined) {
    const username = stringField(basicAuth, 'username', `${where}.basic_auth`) ?? '';
    const password =
      stringField(basicAuth, 'password', `${where}.basic_auth`) ??
      fileField(basicAuth, 'password_file', `${where}.basic_auth`)?.trim() ??
      '';
    return basic(username, password);
  }
  return urlBasicAuth(url);
}

function stringField(
  fields: Record<string, unknown>,
  key: string,
  where: string,
): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new UpstreamConfigError(`${where}.${key} must be a string`);
  return value;
}

function fileField(
  fields: Record<string, unknown>,
  key: string,
  where: string,
): string | undefined {
  const path = stringField(fields, key, where);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UpstreamConfigError(`${where}.${key}: cannot read ${path}: ${reason}`);
  }
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string, where: string): number {
  const match = /^(\d+)(ms|s|m)$/.exec(text);
  if (match === null || Number(match[1]) === 0) {
    throw new UpstreamConfigError(`${where} ${JSON.stringify(text)} is not a duration like 30s`);
  }
  return Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
}
