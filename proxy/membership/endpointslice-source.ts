/**
 * Aggregator members from the Kubernetes API: the ready endpoints of one Service, read
 * from its EndpointSlices (`discovery.k8s.io/v1`, label
 * `kubernetes.io/service-name=<service>`) with an informer, so a gateway learns of a scale
 * up, a pod that stops being ready or a scale down as soon as the endpoints controller
 * writes it. A Service may have several slices; members are merged across all of them.
 * A burst of slice updates (a rollout touches many) becomes one member list, after
 * `debounceMs` of quiet or at the latest `maxDelayMs` after the first change.
 */
import {
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesObject,
  type V1EndpointSlice,
} from '@kubernetes/client-node';
import { type ResourceWatch, watchResource } from '../kube/resource-watch.js';
import type { Member, MemberSource } from './members.js';

/** The label the EndpointSlice controller puts on every slice of a Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface EndpointSliceSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** The Service (usually headless) in front of the aggregators. */
  readonly service: string;
  /**
   * The Service port whose number goes into each member's URL. May be left out when the
   * Service has exactly one port.
   */
  readonly portName?: string;
  /** Quiet time before a changed member list is reported; default 250 ms. */
  readonly debounceMs?: number;
  /** Longest a change waits during a continuous burst; default 2000 ms. */
  readonly maxDelayMs?: number;
  /** Restart delays of a failed watch; defaults 500 ms and 30 000 ms. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

/** The subset of an EndpointSlice this reads (client-node's model or plain watch JSON). */
type EndpointSlice = Pick<V1EndpointSlice, 'endpoints' | 'ports' | 'metadata' | 'addressType'>;

/**
 * The members in `slices`: every endpoint that is ready (an unset `ready` counts as ready,
 * as the API documents), named by its target (the pod) or hostname, at
 * `http://<first address>:<port>`. Slices without the port are skipped. Sorted by name;
 * an endpoint listed in two slices (while the controller moves it) appears once.
 */
export function membersFromSlices(
  slices: readonly EndpointSlice[],
  portName: string | undefined,
): Member[] {
  const byName = new Map<string, Member>();
  for (const slice of slices) {
    const ports = slice.ports ?? [];
    const port =
      portName === undefined
        ? ports.length === 1
          ? ports[0]
          : undefined
        : ports.find((candidate) => (candidate.name ?? '') === portName);
    if (port?.port === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      const address = endpoint.addresses[0];
      if (address === undefined) continue;
      const host = address.includes(':') ? `[${address}]` : address;
      const name = endpoint.targetRef?.name ?? endpoint.hostname ?? address;
      if (!byName.has(name)) byName.set(name, { name, url: `http://${host}:${port.port}` });
    }
  }
  return [...byName.values()].sort((left, right) =>
    left.name < right.name ? -1 : left.name > right.name ? 1 : 0,
  );
}

function sameMembers(left: readonly Member[], right: readonly Member[]): boolean {
  return (
    left.length === right.length &&
    left.every(
      (member, index) => member.name === right[index]!.name && member.url === right[index]!.url,
    )
  );
}

/** A {@link MemberSource} over the EndpointSlices of one Service. */
export class EndpointSliceMemberSource implements MemberSource {
  readonly #options: EndpointSliceSourceOptions;
  #watch: ResourceWatch<EndpointSlice & KubernetesObject> | undefined;
  #onChange: ((members: readonly Member[]) => void) | undefined;
  #reported: readonly Member[] | undefined;
  #debounceTimer: NodeJS.Timeout | undefined;
  #firstPendingAt: number | undefined;
  #closed = false;

  constructor(options: EndpointSliceSourceOptions) {
    this.#options = options;
  }

  /**
   * Starts the informer; resolves once the slices were listed and `onChange` was called
   * with the first member list (retrying the API with backoff until it answers).
   */
  async start(onChange: (members: readonly Member[]) => void): Promise<void> {
    if (this.#watch !== undefined) throw new Error('EndpointSliceMemberSource started twice');
    this.#onChange = onChange;
    const { kubeConfig, namespace, service } = this.#options;
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const labelSelector = `${SERVICE_NAME_LABEL}=${service}`;
    this.#watch = watchResource<EndpointSlice & KubernetesObject>({
      kubeConfig,
      path: `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
      list: () => discovery.listNamespacedEndpointSlice({ namespace, labelSelector }),
      labelSelector,
      description: `EndpointSlices of ${namespace}/${service}`,
      onChange: () => this.#changed(),
      ...(this.#options.retryMinMs === undefined ? {} : { retryMinMs: this.#options.retryMinMs }),
      ...(this.#options.retryMaxMs === undefined ? {} : { retryMaxMs: this.#options.retryMaxMs }),
    });
    await this.#watch.synced;
    if (!this.#closed) this.#report();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#debounceTimer !== undefined) clearTimeout(this.#debounceTimer);
    await this.#watch?.stop();
  }

  #changed(): void {
    // Until the first report, start() reports the complete first list itself.
    if (this.#closed || this.#reported === undefined) return;
    const now = Date.now();
    this.#firstPendingAt ??= now;
    if (this.#debounceTimer !== undefined) clearTimeout(this.#debounceTimer);
    const debounceMs = this.#options.debounceMs ?? 250;
    const maxDelayMs = this.#options.maxDelayMs ?? 2000;
    const delayMs = Math.max(0, Math.min(debounceMs, this.#firstPendingAt + maxDelayMs - now));
    this.#debounceTimer = setTimeout(() => this.#report(), delayMs);
  }

  #report(): void {
    if (this.#debounceTimer !== undefined) clearTimeout(this.#debounceTimer);
    this.#debounceTimer = undefined;
    this.#firstPendingAt = undefined;
    const members = membersFromSlices(
      this.#watch?.list(this.#options.namespace) ?? [],
      this.#options.portName,
    );
    if (this.#reported !== undefined && sameMembers(this.#reported, members)) return;
    this.#reported = members;
    this.#onChange?.(members);
  }
}
