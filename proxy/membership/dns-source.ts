import { Resolver } from 'node:dns/promises';
import { type Member, MemberListError, type MemberSource, sameMembers } from './members.js';

/** Options of {@link DnsMemberSource}. */
export interface DnsMemberSourceOptions {
  /**
   * `host:port`. A host starting with `_` (`_http._tcp.aggregators.ns.svc`) is looked up
   * as SRV records, each giving a target and a port (the `:port` is then ignored and may
   * be 0); any other host as A records, each address a member on `port`.
   */
  readonly address: string;
  /** Time between lookups, ms. */
  readonly refreshIntervalMs: number;
  /** DNS servers to ask (`ip` or `ip:port`); default the system's. */
  readonly servers?: readonly string[];
  /** Told about a failed lookup; the last good list stays in use. */
  readonly onError?: (message: string) => void;
}

/**
 * Members from DNS, as a headless Kubernetes Service publishes them: one A record per
 * ready pod, or SRV records with ports. Re-resolved every `refreshIntervalMs`; `onChange`
 * hears only real changes. A failed or empty answer keeps the last good list: a DNS
 * hiccup must not look like every aggregator leaving at once.
 */
export class DnsMemberSource implements MemberSource {
  readonly #options: DnsMemberSourceOptions;
  readonly #host: string;
  readonly #port: number;
  readonly #resolver = new Resolver({ timeout: 2_000, tries: 2 });
  #timer: NodeJS.Timeout | undefined;
  #current: readonly Member[] = [];
  #closed = false;

  constructor(options: DnsMemberSourceOptions) {
    this.#options = options;
    const colon = options.address.lastIndexOf(':');
    const port = Number(options.address.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new MemberListError(
        `DNS member address ${JSON.stringify(options.address)} must be host:port`,
      );
    }
    this.#host = options.address.slice(0, colon);
    this.#port = port;
    if (!this.#isSrv() && port === 0) {
      throw new MemberListError(
        `DNS member address ${options.address}: A records need a port other than 0`,
      );
    }
    if (options.servers !== undefined && options.servers.length > 0) {
      this.#resolver.setServers([...options.servers]);
    }
  }

  async start(onChange: (members: readonly Member[]) => void): Promise<void> {
    const refresh = async (): Promise<void> => {
      try {
        const members = await this.lookup();
        if (this.#closed) return;
        if (members.length === 0) {
          this.#options.onError?.(`no members found for ${this.#host}`);
        } else if (!sameMembers(members, this.#current)) {
          this.#current = members;
          onChange(members);
        }
      } catch (error) {
        this.#options.onError?.(
          `lookup of ${this.#host} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    };
    await refresh();
    const loop = (): void => {
      this.#timer = setTimeout(() => {
        void refresh().finally(() => {
          if (!this.#closed) loop();
        });
      }, this.#options.refreshIntervalMs);
      this.#timer.unref();
    };
    loop();
  }

  /** One lookup, without reporting it. */
  async lookup(): Promise<Member[]> {
    if (this.#isSrv()) {
      const records = await this.#resolver.resolveSrv(this.#host);
      return records.map((record) => {
        const name = `${record.name}:${record.port}`;
        return { name, url: `http://${name}/api/v1/write` };
      });
    }
    const addresses = await this.#resolver.resolve4(this.#host);
    return addresses.map((address) => {
      const name = `${address}:${this.#port}`;
      return { name, url: `http://${name}/api/v1/write` };
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#resolver.cancel();
  }

  #isSrv(): boolean {
    return this.#host.startsWith('_');
  }
}
