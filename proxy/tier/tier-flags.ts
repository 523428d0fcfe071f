/** The `phoenix proxy` flags of the two-tier aggregation layout, parsed into options. */
import { FlagValueError, parseDuration } from '../cli/flag-values.js';
import { MemberListError, parseMemberList } from '../membership/members.js';
import { type AggregationTierOptions, TIER_DEFAULTS, type TierRole } from './tier-options.js';

export const TIER_FLAGS = {
  'aggregation-tier': { type: 'string' },
  'aggregation-members': { type: 'string' },
  'aggregation-members-dns': { type: 'string' },
  'aggregation-members-k8s': { type: 'string' },
  'aggregation-dns-server': { type: 'string', multiple: true },
  'aggregation-members-refresh': {
    type: 'string',
    default: `${TIER_DEFAULTS.refreshIntervalMs / 1000}s`,
  },
  'aggregation-self': { type: 'string' },
  'aggregation-handoff-timeout': {
    type: 'string',
    default: `${TIER_DEFAULTS.handoffTimeoutMs / 1000}s`,
  },
} as const;

export const TIER_USAGE = [
  '  --aggregation-members N=URL,...  two-tier aggregation: route aggregated series by',
  '                                group to these aggregators (rendezvous hashing)',
  '  --aggregation-members-dns HOST:PORT  the same, members from DNS: A records of HOST on',
  '                                PORT, or SRV records when HOST starts with _',
  '  --aggregation-members-k8s NS/SERVICE  the same, members from EndpointSlices',
  '  --aggregation-dns-server IP[:PORT]  DNS server for --aggregation-members-dns (repeatable)',
  `  --aggregation-members-refresh DURATION  time between DNS lookups (default ${TIER_FLAGS['aggregation-members-refresh'].default})`,
  '  --aggregation-tier gateway|aggregator  role with a member list (default gateway)',
  '  --aggregation-self NAME       aggregator: its name in the member list',
  '                                (default LISTEN_HOST:PORT)',
  `  --aggregation-handoff-timeout DURATION  aggregator: longest wait for a moved group's`,
  `                                state (default ${TIER_FLAGS['aggregation-handoff-timeout'].default})`,
];

export interface TierFlagValues {
  readonly 'aggregation-tier'?: string | undefined;
  readonly 'aggregation-members'?: string | undefined;
  readonly 'aggregation-members-dns'?: string | undefined;
  readonly 'aggregation-members-k8s'?: string | undefined;
  readonly 'aggregation-dns-server'?: string[] | undefined;
  readonly 'aggregation-members-refresh': string;
  readonly 'aggregation-self'?: string | undefined;
  readonly 'aggregation-handoff-timeout': string;
}

/** The tier options the flags ask for; `undefined` when no member source is given. */
export function parseTierFlags(values: TierFlagValues): AggregationTierOptions | undefined {
  const members = values['aggregation-members'];
  const dnsAddress = values['aggregation-members-dns'];
  const k8s = values['aggregation-members-k8s'];
  const given = [members, dnsAddress, k8s].filter((value) => value !== undefined).length;
  if (given === 0) {
    if (values['aggregation-tier'] !== undefined) {
      throw new FlagValueError(
        '--aggregation-tier needs --aggregation-members, --aggregation-members-dns or --aggregation-members-k8s',
      );
    }
    return undefined;
  }
  if (given > 1) {
    throw new FlagValueError(
      '--aggregation-members, --aggregation-members-dns and --aggregation-members-k8s exclude each other',
    );
  }
  const role = values['aggregation-tier'] ?? 'gateway';
  if (role !== 'gateway' && role !== 'aggregator') {
    throw new FlagValueError(
      `--aggregation-tier ${JSON.stringify(role)} must be gateway or aggregator`,
    );
  }
  let kubernetes: AggregationTierOptions['kubernetes'];
  if (k8s !== undefined) {
    const [namespace, service, ...rest] = k8s.split('/');
    if (
      namespace === undefined ||
      namespace === '' ||
      service === undefined ||
      service === '' ||
      rest.length > 0
    ) {
      throw new FlagValueError(
        `--aggregation-members-k8s ${JSON.stringify(k8s)} must be namespace/service`,
      );
    }
    kubernetes = { namespace, service };
  }
  let staticMembers: AggregationTierOptions['members'];
  if (members !== undefined) {
    try {
      staticMembers = parseMemberList(members);
    } catch (error) {
      if (error instanceof MemberListError)
        throw new FlagValueError(`--aggregation-members: ${error.message}`);
      throw error;
    }
  }
  return {
    role: role satisfies TierRole,
    members: staticMembers,
    dnsAddress,
    dnsServers: values['aggregation-dns-server'] ?? [],
    kubernetes,
    refreshIntervalMs: parseDuration(
      '--aggregation-members-refresh',
      values['aggregation-members-refresh'],
    ),
    self: values['aggregation-self'],
    handoffTimeoutMs: parseDuration(
      '--aggregation-handoff-timeout',
      values['aggregation-handoff-timeout'],
    ),
  };
}
