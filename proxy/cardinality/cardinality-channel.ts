/**
 * How the ingest thread collects the trackers of every pipeline worker. piscina hands a
 * task to whichever worker is free, so a task cannot reach a chosen worker; instead the
 * ingest thread asks on a `BroadcastChannel` that every worker listens to, and waits for
 * one answer per worker thread. A worker answers between two of its requests.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads';
import type { CardinalityWindow } from './cardinality-summary.js';

/** The ingest thread asks every worker for its windows. */
export interface CardinalityCollectMessage {
  readonly kind: 'cardinality-collect';
  readonly requestId: number;
}

/** One worker's answer: its current and (when it has one) previous window of each view. */
export interface CardinalityReplyMessage {
  readonly kind: 'cardinality-reply';
  readonly requestId: number;
  readonly threadId: number;
  readonly windows: readonly CardinalityWindow[];
  /** Set when the worker could not serialize its trackers. */
  readonly error?: string;
}

export type CardinalityChannelMessage = CardinalityCollectMessage | CardinalityReplyMessage;

/** Worker side: answers every collect request with `windows()`. */
export function answerCardinalityCollects(
  channelName: string,
  windows: () => CardinalityWindow[],
): BroadcastChannel {
  const channel = new BroadcastChannel(channelName);
  channel.onmessage = (event) => {
    const message = (event as MessageEvent).data as CardinalityChannelMessage;
    if (message.kind !== 'cardinality-collect') return;
    let reply: CardinalityReplyMessage;
    try {
      reply = {
        kind: 'cardinality-reply',
        requestId: message.requestId,
        threadId,
        windows: windows(),
      };
    } catch (error) {
      reply = {
        kind: 'cardinality-reply',
        requestId: message.requestId,
        threadId,
        windows: [],
        error: error instanceof Error ? error.message : String(error),
      };
    }
    channel.postMessage(reply);
  };
  // The channel must not keep the thread alive once piscina lets it go.
  channel.unref();
  return channel;
}

/** Default wait for the workers' answers, in ms. */
export const CARDINALITY_COLLECT_TIMEOUT_MS = 5_000;

/** Ingest-thread side: collects the windows of every worker of the pool. */
export class CardinalityCollector {
  readonly channelName: string;
  readonly #channel: BroadcastChannel;
  readonly #threadIds: () => readonly number[];
  readonly #pending = new Map<number, (reply: CardinalityReplyMessage) => void>();
  #nextRequestId = 1;

  constructor(channelName: string, threadIds: () => readonly number[]) {
    this.channelName = channelName;
    this.#threadIds = threadIds;
    this.#channel = new BroadcastChannel(channelName);
    this.#channel.onmessage = (event) => {
      const message = (event as MessageEvent).data as CardinalityChannelMessage;
      if (message.kind === 'cardinality-reply') this.#pending.get(message.requestId)?.(message);
    };
    this.#channel.unref();
  }

  /**
   * The windows of every worker that answered within `timeoutMs`; `missing` names the
   * thread ids that did not (a worker busy with a long request, or one being replaced).
   */
  collect(
    timeoutMs = CARDINALITY_COLLECT_TIMEOUT_MS,
  ): Promise<{ windows: CardinalityWindow[]; missing: number[]; errors: string[] }> {
    const requestId = this.#nextRequestId++;
    const replies = new Map<number, CardinalityReplyMessage>();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#pending.delete(requestId);
        const expected = this.#threadIds();
        resolve({
          windows: [...replies.values()].flatMap((reply) => reply.windows),
          missing: expected.filter((id) => !replies.has(id)),
          errors: [...replies.values()].flatMap((reply) =>
            reply.error === undefined ? [] : [`worker ${reply.threadId}: ${reply.error}`],
          ),
        });
      };
      const timer = setTimeout(finish, timeoutMs);
      this.#pending.set(requestId, (reply) => {
        replies.set(reply.threadId, reply);
        if (this.#threadIds().every((id) => replies.has(id))) finish();
      });
      const message: CardinalityCollectMessage = { kind: 'cardinality-collect', requestId };
      this.#channel.postMessage(message);
    });
  }

  close(): void {
    this.#channel.close();
  }
}
