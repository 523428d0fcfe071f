/**
 * Settings of the two-tier aggregation layout (docs/aggregation-tier.md), as
 * `ProxyOptions.aggregationTier` carries them, and the member source they select.
 */
import { hostname } from 'node:os';
import { DnsMemberSource } from '../membership/dns-source.js';
import type { Member, MemberSource } from '../membership/members.js';
import { StaticMemberSource } from '../membership/static-source.js';
import { logEvent } from '../server/log.js';

export type TierRole = 'gateway' | 'aggregator';

export interface AggregationTierOptions {
  /**
   * `gateway`: route each aggregated series to the member owning its group, aggregate
   * nothing locally. `aggregator`: aggregate the groups this member owns, hand groups
   * over when the member list changes or on shutdown.
   */
  readonly role: TierRole;
  /** A fixed member list (`--aggregation-members`). */
  readonly members: readonly Member[] | undefined;
  /** `host:port` looked up in DNS (`--aggregation-members-dns`). */
  readonly dnsAddress: string | undefined;
  /** DNS servers for `dnsAddress`; default the system's. */
  readonly dnsServers: readonly string[];
  /** `namespace/service` whose EndpointSlices list the members. */
  readonly kubernetes: { readonly namespace: string; readonly service: string } | undefined;
  /** Time between DNS lookups, ms. Default 10 000. */
  readonly refreshIntervalMs: number;
  /**
   * This aggregator's name in the member list; default `<listen host>:<bound port>`, or
   * the host name (the pod's name) with Kubernetes discovery.
   */
  readonly self: string | undefined;
  /**
   * Longest wait, ms, for the previous owner's state of a group that moved here before
   * the group is aggregated from scratch (the previous owner died). Default 15 000.
   */
  readonly handoffTimeoutMs: number;
}

export const TIER_DEFAULTS = { refreshIntervalMs: 10_000, handoffTimeoutMs: 15_000 } as const;

/** One-line description of the settings for the `proxy_started` log line. */
export function describeTier(tier: AggregationTierOptions): string {
  const source =
    tier.members !== undefined
      ? `static(${tier.members.map((member) => member.name).join(',')})`
      : tier.dnsAddress !== undefined
        ? `dns(${tier.dnsAddress})`
        : `kubernetes(${tier.kubernetes?.namespace}/${tier.kubernetes?.service})`;
  return `${tier.role} ${source}`;
}

/** Exactly one member source must be set; the message says what is wrong. */
export function checkTierSource(tier: AggregationTierOptions): string | undefined {
  const sources = [tier.members, tier.dnsAddress, tier.kubernetes].filter(
    (source) => source !== undefined,
  ).length;
  if (sources !== 1) {
    return `aggregation tier needs exactly one member source (static list, DNS or Kubernetes), got ${sources}`;
  }
  if (tier.role !== 'gateway' && tier.role !== 'aggregator') {
    return `aggregation tier role ${JSON.stringify(tier.role)} must be gateway or aggregator`;
  }
  return undefined;
}

/** The member source the settings name. */
export async function createMemberSource(tier: AggregationTierOptions): Promise<MemberSource> {
  if (tier.members !== undefined) return new StaticMemberSource(tier.members);
  if (tier.dnsAddress !== undefined) {
    return new DnsMemberSource({
      address: tier.dnsAddress,
      refreshIntervalMs: tier.refreshIntervalMs,
      servers: tier.dnsServers,
      onError: (message) => logEvent('warn', 'tier_members_lookup_failed', { message }),
    });
  }
  // Loaded only here: the Kubernetes client is tens of MiB of heap that a proxy without
  // Kubernetes discovery would otherwise carry for its whole life.
  const [{ KubeConfig }, { EndpointSliceMemberSource }] = await Promise.all([
    import('@kubernetes/client-node'),
    import('../membership/endpointslice-source.js'),
  ]);
  const kubeConfig = new KubeConfig();
  // In a pod: the service account; elsewhere: $KUBECONFIG or ~/.kube/config.
  kubeConfig.loadFromDefault();
  return new EndpointSliceMemberSource({
    kubeConfig,
    namespace: tier.kubernetes!.namespace,
    service: tier.kubernetes!.service,
  });
}

/**
 * This member's default name: with Kubernetes discovery members are named by pod, and a
 * pod's hostname is its name; otherwise `<listen host>:<port>`, as DNS names members.
 */
export function defaultSelfName(
  tier: AggregationTierOptions,
  listenHost: string,
  port: number,
): string {
  return tier.kubernetes !== undefined ? hostname() : `${listenHost}:${port}`;
}
