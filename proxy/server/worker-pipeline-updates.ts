/**
 * The worker side of hot reload: listens on the pool's pipeline channel, builds each new
 * pipeline beside the running one and switches to it between two requests (a message is
 * only handled when no task is running on the thread), then acknowledges the generation.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads';
import type { PipelineConfig } from '../pipeline/config.js';
import type {
  PipelineChannelMessage,
  PipelineUpdateMessage,
  PipelineWantedMessage,
  WorkerExperiment,
} from './worker-protocol.js';

/**
 * Switches the worker's pipeline (and the experiment beside it); throws or rejects, leaving
 * the running ones in place, when the new ones cannot be compiled or loaded.
 */
export type PipelineSwitch = (
  pipeline: PipelineConfig | undefined,
  experiment: WorkerExperiment | undefined,
) => void | Promise<void>;

/** A worker's view of the pipeline generations the ingest thread hands out. */
export class WorkerPipelineUpdates {
  readonly #channel: BroadcastChannel;
  readonly #switchPipeline: PipelineSwitch;
  /** The newest generation this worker has handled (applied, or failed and kept the old). */
  #generation = 0;
  #waiters: Array<{ generation: number; resolve: () => void }> = [];
  /** Updates are handled one after another, in the order they arrive. */
  #handling: Promise<void> = Promise.resolve();

  constructor(channelName: string, switchPipeline: PipelineSwitch) {
    this.#switchPipeline = switchPipeline;
    this.#channel = new BroadcastChannel(channelName);
    this.#channel.onmessage = (event) => this.#onMessage((event as MessageEvent).data);
    // The channel must not keep the thread alive once piscina lets it go.
    this.#channel.unref();
    // An update broadcast before this channel existed never reached it: ask for the latest.
    this.#want();
  }

  /**
   * Resolves once this worker runs generation `generation` or newer. Tasks carry the
   * generation every worker had acknowledged when the task was sent, so only a worker that
   * missed an update (one piscina started later) ever waits here.
   */
  reach(generation: number): Promise<void> | undefined {
    if (this.#generation >= generation) return undefined;
    this.#want();
    return new Promise((resolve) => this.#waiters.push({ generation, resolve }));
  }

  #want(): void {
    const message: PipelineWantedMessage = {
      kind: 'pipeline-wanted',
      threadId,
      generation: this.#generation,
    };
    this.#channel.postMessage(message);
  }

  #onMessage(message: PipelineChannelMessage): void {
    if (message.kind !== 'pipeline') return;
    this.#handling = this.#handling.then(() => this.#handle(message));
  }

  async #handle(message: PipelineUpdateMessage): Promise<void> {
    if (message.generation <= this.#generation) return;
    let error: string | undefined;
    try {
      await this.#switchPipeline(message.pipeline, message.experiment);
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    this.#generation = message.generation;
    this.#channel.postMessage({
      kind: 'pipeline-applied',
      threadId,
      generation: message.generation,
      ...(error === undefined ? {} : { error }),
    } satisfies PipelineChannelMessage);
    const ready = this.#waiters.filter((waiter) => waiter.generation <= this.#generation);
    this.#waiters = this.#waiters.filter((waiter) => waiter.generation > this.#generation);
    for (const waiter of ready) waiter.resolve();
  }
}
