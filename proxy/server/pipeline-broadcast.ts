/**
 * The ingest-thread side of hot reload: sends a new pipeline to every worker of the pool
 * at once over a `BroadcastChannel`, and knows it is in use only when every worker has
 * acknowledged it. Requests keep flowing throughout; each worker switches between two of
 * its requests, so no request sees half a pipeline and none fails because of the switch.
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { compilePipeline } from '../pipeline/compile.js';
import type { PipelineConfig } from '../pipeline/config.js';
import type {
  PipelineChannelMessage,
  PipelineUpdateMessage,
  WorkerExperiment,
} from './worker-protocol.js';

/** How long {@link PipelineBroadcast.apply} waits for every worker, in ms. */
export const PIPELINE_APPLY_TIMEOUT_MS = 10_000;

/** A pipeline that the workers could not all switch to; the previous one stays in use. */
export class PipelineApplyError extends Error {
  override readonly name = 'PipelineApplyError';
}

/** Thread ids of the pool's current workers. */
export type WorkerThreadIds = () => readonly number[];

export class PipelineBroadcast {
  /** Unique per pool, so two proxies in one process never hear each other. */
  readonly channelName = `phoenix-pipeline-${randomUUID()}`;
  readonly #channel: BroadcastChannel;
  readonly #threadIds: WorkerThreadIds;
  /** The newest update sent; replayed to a worker that asks. */
  #latest: PipelineUpdateMessage;
  /** The newest generation every worker acknowledged: what new tasks carry. */
  #appliedGeneration = 0;
  #applied: PipelineConfig | undefined;
  #appliedExperiment: WorkerExperiment | undefined;
  #acks = new Map<number, Map<number, string | undefined>>();
  #ackListeners = new Set<() => void>();
  /** Applies run one after another, so generations are acknowledged in order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(initial: PipelineConfig | undefined, threadIds: WorkerThreadIds) {
    this.#threadIds = threadIds;
    this.#applied = initial;
    this.#latest = { kind: 'pipeline', generation: 0, pipeline: initial };
    this.#channel = new BroadcastChannel(this.channelName);
    this.#channel.onmessage = (event) => this.#onMessage((event as MessageEvent).data);
    this.#channel.unref();
  }

  /** The generation new tasks carry; see `ProcessTask.pipelineGeneration`. */
  get generation(): number {
    return this.#appliedGeneration;
  }

  /** The pipeline every worker runs. */
  get pipeline(): PipelineConfig | undefined {
    return this.#applied;
  }

  /** The experiment every worker runs beside the pipeline. */
  get experiment(): WorkerExperiment | undefined {
    return this.#appliedExperiment;
  }

  /**
   * Makes `pipeline` the one every worker runs. Compiles it here first, so a pipeline that
   * does not compile is refused (with its `ConfigError`) before any worker sees it. When a
   * worker refuses it, every worker goes back to the previous pipeline and this rejects
   * with a {@link PipelineApplyError}. Resolves once every worker runs it.
   */
  apply(
    pipeline: PipelineConfig | undefined,
    experiment?: WorkerExperiment | undefined,
  ): Promise<void> {
    const run = this.#queue.then(() => this.#apply(pipeline, experiment));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #apply(
    pipeline: PipelineConfig | undefined,
    experiment: WorkerExperiment | undefined,
  ): Promise<void> {
    if (pipeline !== undefined) compilePipeline(pipeline);
    if (experiment !== undefined) compilePipeline(experiment.candidate);
    const failures = await this.#send(pipeline, experiment);
    if (failures.length === 0) {
      this.#applied = pipeline;
      this.#appliedExperiment = experiment;
      return;
    }
    // Some workers switched and some did not: put them all back on the previous pipeline.
    await this.#send(this.#applied, this.#appliedExperiment);
    throw new PipelineApplyError(failures.join('; '));
  }

  /** Broadcasts a new generation; resolves to the failures once every worker answered. */
  async #send(
    pipeline: PipelineConfig | undefined,
    experiment: WorkerExperiment | undefined,
  ): Promise<string[]> {
    const generation = this.#latest.generation + 1;
    this.#latest = {
      kind: 'pipeline',
      generation,
      pipeline,
      ...(experiment === undefined ? {} : { experiment }),
    };
    const acks = new Map<number, string | undefined>();
    this.#acks.set(generation, acks);
    this.#channel.postMessage(this.#latest);
    try {
      await this.#allAcknowledged(acks);
    } finally {
      this.#acks.delete(generation);
    }
    this.#appliedGeneration = generation;
    return [...acks.entries()]
      .filter(([, error]) => error !== undefined)
      .map(([threadId, error]) => `worker ${threadId}: ${error}`);
  }

  #allAcknowledged(acks: Map<number, string | undefined>): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.#threadIds().every((threadId) => acks.has(threadId))) {
          done();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        done();
        const missing = this.#threadIds().filter((threadId) => !acks.has(threadId));
        reject(
          new PipelineApplyError(
            `workers ${missing.join(', ')} did not switch within ${PIPELINE_APPLY_TIMEOUT_MS} ms`,
          ),
        );
      }, PIPELINE_APPLY_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        this.#ackListeners.delete(check);
      };
      this.#ackListeners.add(check);
      check();
    });
  }

  #onMessage(message: PipelineChannelMessage): void {
    if (message.kind === 'pipeline-wanted') {
      if (message.generation < this.#latest.generation) this.#channel.postMessage(this.#latest);
      return;
    }
    if (message.kind !== 'pipeline-applied') return;
    this.#acks.get(message.generation)?.set(message.threadId, message.error);
    for (const listener of [...this.#ackListeners]) listener();
  }

  close(): void {
    this.#channel.close();
  }
}

/**
 * Whether two pipelines have the same aggregation rules. Aggregation state lives on the
 * ingest thread and is set up once at start, so a hot reload may change relabel rules only;
 * a version whose aggregations differ is refused (and reported) rather than half applied.
 */
export function sameAggregations(
  running: PipelineConfig | undefined,
  next: PipelineConfig | undefined,
): boolean {
  return canonical(running?.aggregations ?? []) === canonical(next?.aggregations ?? []);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => {
    if (typeof field === 'bigint') return field.toString();
    if (field instanceof RegExp) return `/${field.source}/${field.flags}`;
    return field;
  });
}
