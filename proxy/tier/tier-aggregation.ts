/**
 * The two-tier aggregation layout in one proxy (docs/aggregation-tier.md).
 *
 * Gateway: every accepted request's output is routed by aggregation group over the
 * current members and made durable in each member's queue before the sender is answered;
 * nothing is aggregated here.
 *
 * Aggregator: the series of groups this member owns (in its own view of the members) are
 * aggregated; others are forwarded to their owners. When the view changes, the groups
 * now owned elsewhere are handed off (state POSTed to the new owner, then removed), and a
 * group that moved here is not aggregated until its previous owner's state has arrived
 * (its series are answered 503, so senders retry), or `handoffTimeoutMs` passed.
 */

import type uWS from 'uWebSockets.js';
import type { Registry } from 'prom-client';
import { aggregationMetrics } from '../aggregation/aggregation-metrics.js';
import {
  type AggregationThread,
  startAggregationThread,
} from '../aggregation/aggregation-thread.js';
import type { Delivery } from '../delivery/delivery.js';
import { type Member, type MemberSource, memberUrl } from '../membership/members.js';
import { IngestError } from '../server/ingest-error.js';
import { logEvent } from '../server/log.js';
import type { ProxyOptions } from '../server/options.js';
import { phoenixVersion } from '../server/version.js';
import type { ProcessResponse } from '../server/worker-protocol.js';
import { HANDOFF_FROM_HEADER, HANDOFF_PATH, registerHandoffRoute } from './handoff-route.js';
import { HANDOFF_MAGIC, handoffCounts } from './handoff-split.js';
import { MemberLanes } from './member-lanes.js';
import { type RouterThread, startRouterThread } from './router-client.js';
import {
  type AggregationTierOptions,
  createMemberSource,
  defaultSelfName,
} from './tier-options.js';

/** A proxy's part in the two-tier layout; it replaces local aggregation. */
export interface StartedTier {
  /**
   * Routes a successful response's aggregation input (see the module comment); resolves
   * with the response once every part is durable, rejects with an IngestError.
   */
  observe(response: ProcessResponse): Promise<ProcessResponse>;
  /** Adds the hand-off route to the ingest app (before it listens). */
  registerRoutes(app: uWS.TemplatedApp): void;
  /** Starts following the members once the ingest server listens on `port`. */
  listening(port: number): Promise<void>;
  /** Aggregator: hands every group to the other members, then stops. */
  close(): Promise<void>;
}

/** Hand-off bytes of no groups: sent so a member waiting for this one stops waiting. */
function emptyHandoff(): Uint8Array {
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setUint32(0, HANDOFF_MAGIC, true);
  return bytes;
}

export async function startTierAggregation(
  options: ProxyOptions,
  tier: AggregationTierOptions,
  forward: (payload: Uint8Array) => Promise<unknown>,
  registry: Registry,
  delivery: Delivery | undefined,
): Promise<StartedTier> {
  const rules = options.pipeline?.aggregations ?? [];
  if (options.dataDir === undefined || delivery === undefined) {
    throw new Error('the aggregation tier needs durable delivery (a data dir)');
  }
  if (rules.length === 0) throw new Error('the aggregation tier needs aggregation rules');
  const router = await startRouterThread(rules, options.maxDecompressedBytes);
  const state = new TierState(options, tier, router);
  const lanes = new MemberLanes({
    dataDir: options.dataDir,
    metrics: delivery.metrics,
    backoff: { minBackoffMs: options.retryMinBackoffMs, maxBackoffMs: options.retryMaxBackoffMs },
    connections: options.upstreamConnections,
    userAgent: `phoenix/${phoenixVersion()}`,
    maxQueueBytes: options.maxQueueBytes,
    queueFullPolicy: options.queueFullPolicy,
    maxBatchBytes: options.maxBatchBytes,
    timeoutMs: options.upstreamTimeoutMs,
    reroute: (payload) => state.dispatch(payload, false),
  });
  state.lanes = lanes;
  if (tier.role === 'aggregator') {
    state.thread = await startAggregationThread({
      rules,
      dataDir: options.dataDir,
      maxDecompressedBytes: options.maxDecompressedBytes,
      onOutput: (payload) => state.trackOutput(forward(payload)),
      onEvent: (level, event, fields) => logEvent(level, event, { ...fields }),
      onStats: aggregationMetrics(registry)(),
    });
  }
  let source: MemberSource;
  try {
    source = await createMemberSource(tier);
  } catch (error) {
    await state.thread?.close();
    await router.close();
    throw error;
  }
  return {
    async observe(response) {
      if (response.ok) await state.dispatch(response.aggregationInput ?? response.payload, true);
      return response;
    },
    registerRoutes(app: uWS.TemplatedApp) {
      if (tier.role === 'aggregator') {
        registerHandoffRoute(app, (from, bytes) => state.receiveHandoff(from, bytes));
      }
    },
    async listening(port: number) {
      state.self = tier.self ?? defaultSelfName(tier, options.listenHost, port);
      if (tier.role === 'aggregator') state.view = [state.self];
      // Not awaited: a source may retry for long (an API server that is not up yet), and
      // until it answers requests get 503 (no members), which senders retry.
      source
        .start((members) => {
          state.membersChanged(members).catch((error: unknown) => {
            logEvent('error', 'tier_members_change_failed', {
              message: error instanceof Error ? error.message : String(error),
            });
          });
        })
        .catch((error: unknown) => {
          logEvent('error', 'tier_members_source_failed', {
            message: error instanceof Error ? error.message : String(error),
          });
        });
    },
    async close() {
      await source.close();
      await state.leave();
      await state.thread?.close();
      await state.settleOutputs();
      if (tier.role === 'aggregator' && !(await lanes.drain(tier.handoffTimeoutMs))) {
        logEvent('warn', 'tier_forwarding_not_drained', {
          message: 'forwarded series not yet delivered stay in the data dir for the next start',
        });
      }
      await lanes.close();
      await router.close();
    },
  };
}

/** Member views, hand-off bookkeeping and the routing of one request. */
class TierState {
  readonly #options: ProxyOptions;
  readonly #tier: AggregationTierOptions;
  readonly #router: RouterThread;
  lanes: MemberLanes | undefined;
  thread: AggregationThread | undefined;
  self = '';
  /** Member names routed over now (an aggregator's includes itself). */
  view: readonly string[] = [];
  #urls = new Map<string, string>();
  #previous: readonly string[] | undefined;
  /**
   * Previous owners whose hand-off this member still waits for, with the time it gives
   * up: set when the first request waits for it (a member that joined may wait long for
   * the others to notice it, and must not give up before anything was held).
   */
  #pending = new Map<string, number | undefined>();
  /** When each member's last hand-off arrived, ms. */
  readonly #handoffArrivedAt = new Map<string, number>();
  readonly #outputs = new Set<Promise<unknown>>();
  #changes: Promise<void> = Promise.resolve();

  constructor(options: ProxyOptions, tier: AggregationTierOptions, router: RouterThread) {
    this.#options = options;
    this.#tier = tier;
    this.#router = router;
  }

  trackOutput(sent: Promise<unknown>): void {
    const tracked = sent.catch((error: unknown) => {
      logEvent('error', 'aggregation_forward_failed', {
        message: error instanceof Error ? error.message : String(error),
      });
    });
    this.#outputs.add(tracked);
    void tracked.finally(() => this.#outputs.delete(tracked));
  }

  async settleOutputs(): Promise<void> {
    await Promise.allSettled([...this.#outputs]);
  }

  /**
   * Routes one payload: parts for other members go to their queues, this member's part
   * (aggregator) to the local state. `fromSender`: a sender's request, which a pending
   * hand-off refuses; a rerouted queue record is never refused, only kept for later.
   */
  async dispatch(payload: Uint8Array, fromSender: boolean): Promise<void> {
    const view = this.view;
    if (view.length === 0) {
      throw new IngestError('upstream_unreachable', 'no aggregation members known yet', '1');
    }
    let routed: Awaited<ReturnType<RouterThread['route']>>;
    try {
      routed = await this.#router.route(payload, view, this.#previous);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new IngestError('protobuf', `cannot route the request to aggregators: ${message}`);
    }
    const selfIndex = view.indexOf(this.self);
    if (selfIndex >= 0 && (routed.parts[selfIndex]?.length ?? 0) > 0) {
      const waitingFor = (routed.movedFrom.get(selfIndex) ?? []).filter((name) =>
        this.#isPending(name),
      );
      if (waitingFor.length > 0) {
        const message = `aggregation state of moved groups not yet received from ${waitingFor.join(', ')}`;
        if (fromSender) throw new IngestError('handoff_pending', message, '1');
        throw new Error(message);
      }
    }
    await Promise.all(
      routed.parts.map((part, index) =>
        part.length === 0 || index === selfIndex
          ? undefined
          : this.lanes!.enqueue(view[index]!, part),
      ),
    );
    if (selfIndex >= 0 && routed.parts[selfIndex]!.length > 0) {
      this.thread!.ingest(routed.parts[selfIndex]!);
    }
  }

  #isPending(name: string): boolean {
    if (!this.#pending.has(name)) return false;
    const giveUpAt = this.#pending.get(name);
    if (giveUpAt === undefined) {
      this.#pending.set(name, Date.now() + this.#tier.handoffTimeoutMs);
      return true;
    }
    if (Date.now() < giveUpAt) return true;
    this.#pending.delete(name);
    logEvent('warn', 'tier_handoff_timeout', {
      from: name,
      message:
        'no aggregation state arrived from the previous owner; its groups start from zero here',
    });
    return false;
  }

  membersChanged(members: readonly Member[]): Promise<void> {
    this.#changes = this.#changes.then(() => this.#applyMembers(members));
    return this.#changes;
  }

  async #applyMembers(listed: readonly Member[]): Promise<void> {
    // A source may name a member by host and port only: writes go to the remote-write path.
    const members = listed.map((member) => ({
      name: member.name,
      url: memberUrl(member.url, member.name),
    }));
    const others = members.filter((member) => member.name !== this.self);
    const names = [...new Set(members.map((member) => member.name))];
    if (this.#tier.role === 'aggregator' && !names.includes(this.self)) names.push(this.self);
    names.sort();
    const before = this.view;
    if (names.join('\n') === before.join('\n')) return;
    this.#urls = new Map(members.map((member) => [member.name, member.url]));
    await this.lanes!.setMembers(others, () => {
      // New lanes exist now; from here requests route over the new view, and what the
      // removed lanes still hold is routed over it too.
      this.#previous = this.#firstView(before)
        ? names.filter((name) => name !== this.self)
        : before;
      if (this.#previous.length === 0) this.#previous = undefined;
      this.view = names;
      if (this.#tier.role === 'aggregator') this.#expectHandoffs();
    });
    logEvent('info', 'tier_members_changed', { members: names, previous: before });
    if (this.#tier.role === 'aggregator') await this.#handOff(names, others);
  }

  /** An aggregator's view before any list arrived is itself alone. */
  #firstView(before: readonly string[]): boolean {
    return before.length === 0 || (before.length === 1 && before[0] === this.self);
  }

  /** Marks the previous owners whose state this member must wait for. */
  #expectHandoffs(): void {
    const now = Date.now();
    // A hand-off that arrived shortly before this member saw the change belongs to it.
    const recentMs = 2 * this.#tier.refreshIntervalMs;
    this.#pending = new Map();
    for (const name of this.#previous ?? []) {
      if (name === this.self) continue;
      const arrived = this.#handoffArrivedAt.get(name);
      if (arrived !== undefined && now - arrived <= recentMs) continue;
      this.#pending.set(name, undefined);
    }
  }

  /** Gives away the groups other members own in `names`; tells every other member. */
  async #handOff(names: readonly string[], others: readonly Member[]): Promise<void> {
    const parts = await this.thread!.handoffExport(names, this.self);
    await Promise.all(
      others.map((member) => this.#sendHandoff(member, parts.get(member.name) ?? emptyHandoff())),
    );
  }

  /** On shutdown: every group goes to its owner among the other members. */
  async leave(): Promise<void> {
    if (this.#tier.role !== 'aggregator' || this.thread === undefined) return;
    await this.#changes.catch(() => {});
    const others = this.view
      .filter((name) => name !== this.self)
      .flatMap((name) => {
        const url = this.#urls.get(name);
        return url === undefined ? [] : [{ name, url }];
      });
    if (others.length === 0) {
      logEvent('info', 'tier_handoff_skipped', { reason: 'no other member to hand off to' });
      return;
    }
    const parts = await this.thread.handoffExport(
      others.map((member) => member.name),
      this.self,
    );
    await Promise.all(
      others.map((member) => this.#sendHandoff(member, parts.get(member.name) ?? emptyHandoff())),
    );
  }

  /** POSTs hand-off bytes until the member takes them or `handoffTimeoutMs` passes. */
  async #sendHandoff(member: Member, bytes: Uint8Array): Promise<void> {
    const url = new URL(HANDOFF_PATH, member.url);
    const giveUpAt = Date.now() + this.#tier.handoffTimeoutMs;
    const counts = handoffCounts(bytes);
    for (let attempt = 0; ; attempt++) {
      let failure: string;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { [HANDOFF_FROM_HEADER]: this.self, 'content-type': 'application/octet-stream' },
          body: bytes,
          signal: AbortSignal.timeout(this.#options.upstreamTimeoutMs),
        });
        const text = await response.text();
        if (response.ok) {
          if (counts.groups > 0) {
            logEvent('info', 'tier_handoff_sent', {
              to: member.name,
              ...counts,
              attempts: attempt + 1,
            });
          }
          return;
        }
        failure = `${response.status} ${text.trim()}`;
        if (response.status === 400) break;
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() >= giveUpAt) {
        logEvent('error', 'tier_handoff_failed', { to: member.name, ...counts, reason: failure });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * 2 ** attempt)));
    }
    logEvent('error', 'tier_handoff_failed', { to: member.name, ...counts, reason: 'refused' });
  }

  async receiveHandoff(from: string, bytes: Uint8Array): Promise<number> {
    if (this.thread === undefined) throw new Error('this member does not aggregate');
    const groups = await this.thread.handoffMerge(bytes);
    this.#handoffArrivedAt.set(from, Date.now());
    this.#pending.delete(from);
    const counts = handoffCounts(bytes);
    if (counts.groups > 0) logEvent('info', 'tier_handoff_received', { from, ...counts });
    return groups;
  }
}
