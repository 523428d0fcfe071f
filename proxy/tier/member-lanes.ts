/**
 * Durable delivery to the members of the two-tier layout: one queue and one in-order
 * sender per member (the same parts as `proxy/delivery/`), added and removed as the
 * member list changes. A removed member's undelivered records are not lost: they are
 * read back and handed to `reroute`, which routes them again over the new list.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeliveryMetrics } from '../delivery/delivery-metrics.js';
import { DurableQueue, QueueFullError, type QueueFullPolicy } from '../delivery/queue.js';
import type { BackoffBounds } from '../delivery/retry.js';
import { UpstreamSender } from '../delivery/sender.js';
import { UpstreamClient, upstreamFromUrl } from '../delivery/upstream.js';
import type { Member } from '../membership/members.js';
import { IngestError } from '../server/ingest-error.js';
import { logEvent, ThrottledLog } from '../server/log.js';

export interface MemberLanesOptions {
  /** Queues live in `<dataDir>/tier/<member>/`. */
  readonly dataDir: string;
  readonly metrics: DeliveryMetrics;
  readonly backoff: BackoffBounds;
  readonly connections: number;
  readonly userAgent: string;
  readonly maxQueueBytes: number;
  readonly queueFullPolicy: QueueFullPolicy;
  readonly maxBatchBytes: number;
  readonly timeoutMs: number;
  /** Routes a removed member's undelivered payload again; rejects to keep it queued. */
  readonly reroute: (payload: Uint8Array) => Promise<void>;
}

interface Lane {
  readonly member: Member;
  readonly queue: DurableQueue;
  readonly client: UpstreamClient;
  readonly sender: UpstreamSender;
}

export class MemberLanes {
  readonly #options: MemberLanesOptions;
  readonly #lanes = new Map<string, Lane>();
  readonly #errorLog = new ThrottledLog();
  #closing = false;
  #change: Promise<void> = Promise.resolve();

  constructor(options: MemberLanesOptions) {
    this.#options = options;
  }

  /** Names of the members with a lane now. */
  get names(): string[] {
    return [...this.#lanes.keys()];
  }

  /**
   * Opens lanes for new members, calls `switchOver` (the caller starts routing over the
   * new list there), then drains the lanes of members that left into `reroute`.
   */
  setMembers(members: readonly Member[], switchOver: () => void = () => {}): Promise<void> {
    const change = this.#change.then(() => this.#apply(members, switchOver));
    this.#change = change.catch(() => {});
    return change;
  }

  async #apply(members: readonly Member[], switchOver: () => void): Promise<void> {
    const wanted = new Map(members.map((member) => [member.name, member]));
    const leaving = [...this.#lanes.values()].filter(
      (lane) => wanted.get(lane.member.name)?.url !== lane.member.url,
    );
    for (const lane of leaving) this.#lanes.delete(lane.member.name);
    for (const member of members) {
      if (!this.#lanes.has(member.name)) await this.#add(member);
    }
    switchOver();
    for (const lane of leaving) await this.#remove(lane);
  }

  async #add(member: Member): Promise<void> {
    const options = this.#options;
    const queue = await DurableQueue.open({
      dir: this.#dir(member.name),
      maxBytes: options.maxQueueBytes,
      fullPolicy: options.queueFullPolicy,
    });
    const config = upstreamFromUrl(member.url, options.timeoutMs, `tier:${member.name}`);
    const client = new UpstreamClient(config, options.connections, options.userAgent);
    const sender = new UpstreamSender({
      queue,
      client,
      metrics: options.metrics,
      backoff: options.backoff,
      maxBatchBytes: options.maxBatchBytes,
      errorLog: new ThrottledLog(),
    });
    sender.start();
    this.#lanes.set(member.name, { member, queue, client, sender });
    logEvent('info', 'tier_member_added', { member: member.name, url: member.url });
  }

  /** Stops the lane, hands what it still holds to `reroute`, then deletes its queue. */
  async #remove(lane: Lane): Promise<void> {
    await lane.sender.stop();
    let records = 0;
    while (lane.queue.oldestUnsentAppendedAtMs !== undefined && !this.#closing) {
      const batch = await lane.queue.nextBatch(this.#options.maxBatchBytes);
      if (batch.length === 0) break;
      for (const record of batch) {
        await this.#rerouteUntilTaken(lane, record.payload);
        records++;
      }
      lane.queue.ack(batch.at(-1)!.nextPosition);
    }
    if (this.#closing) {
      // What was not routed again stays on disk; a lane for this member opened later (it
      // came back) sends it.
      await lane.queue.close();
      await lane.client.close();
      return;
    }
    await lane.queue.close();
    await lane.client.close();
    // A member that only changed its URL has a new lane in the same folder already.
    if (!this.#lanes.has(lane.member.name)) {
      await rm(this.#dir(lane.member.name), { recursive: true, force: true });
    }
    logEvent('info', 'tier_member_removed', { member: lane.member.name, reroutedRecords: records });
  }

  /**
   * Reroutes one record, retrying while the new owners cannot take it yet (a hand-off
   * still pending, a full queue): acknowledged data is never dropped here.
   */
  async #rerouteUntilTaken(lane: Lane, payload: Uint8Array): Promise<void> {
    for (let attempt = 0; !this.#closing; attempt++) {
      try {
        await this.#options.reroute(payload);
        return;
      } catch (error) {
        this.#errorLog.error(`reroute:${lane.member.name}`, 'tier_reroute_retry', {
          member: lane.member.name,
          attempt: attempt + 1,
          message: error instanceof Error ? error.message : String(error),
        });
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** attempt)));
      }
    }
  }

  /** Makes `payload` durable in the queue of `member`; rejects with an IngestError. */
  async enqueue(member: string, payload: Uint8Array): Promise<void> {
    const lane = this.#lanes.get(member);
    if (lane === undefined) {
      throw new IngestError('upstream_unreachable', `aggregation member ${member} has no lane`);
    }
    try {
      await lane.queue.append(payload);
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new IngestError(
          'queue_full',
          `queue of aggregation member ${member}: ${error.message}`,
          '1',
        );
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new IngestError(
        'queue_write_failed',
        `cannot write the queue of member ${member}: ${message}`,
      );
    }
  }

  /**
   * Waits until every lane delivered what it holds, or `timeoutMs` passed; true when
   * nothing is left. A member leaving for good uses it: what it forwarded would
   * otherwise wait in its data dir for a start that does not come.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const giveUpAt = Date.now() + timeoutMs;
    for (;;) {
      const waiting = [...this.#lanes.values()].some(
        (lane) => lane.queue.oldestUnsentAppendedAtMs !== undefined,
      );
      if (!waiting) return true;
      if (Date.now() >= giveUpAt) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops every sender; undelivered records stay for the next start. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#change.catch(() => {});
    const lanes = [...this.#lanes.values()];
    this.#lanes.clear();
    await Promise.all(lanes.map((lane) => lane.sender.stop()));
    await Promise.all(lanes.map((lane) => lane.queue.close()));
    await Promise.all(lanes.map((lane) => lane.client.close()));
  }

  #dir(name: string): string {
    return join(this.#options.dataDir, 'tier', encodeURIComponent(name));
  }
}
