/**
 * The proxy's running experiment, if any, and the order of a switch: a new experiment's
 * arm is ready on the ingest thread before any worker runs its candidate, and an ended one
 * is closed (final flush of its aggregation) only after every worker stopped running it.
 */
import type { PipelineConfig } from '../pipeline/config.js';
import type { WorkerExperiment } from '../server/worker-protocol.js';
import {
  type ExperimentMetrics,
  ExperimentRun,
  type ExperimentRunOptions,
} from './experiment-run.js';

/** An experiment the control plane asks the proxy to run beside its pipeline. */
export interface ProxyExperiment {
  readonly name: string;
  readonly mode: 'shadow' | 'split';
  readonly fraction: number;
  readonly candidate: PipelineConfig;
  /** Shadow mode: where the candidate output goes; undefined to only measure it. */
  readonly shadowUpstream: URL | undefined;
}

export type ProxyExperimentsOptions = Omit<
  ExperimentRunOptions,
  'experiment' | 'shadowUpstream' | 'key'
> & {
  readonly metrics: ExperimentMetrics;
};

function sameExperiment(
  run: ExperimentRun | undefined,
  next: ProxyExperiment | undefined,
): boolean {
  if (run === undefined || next === undefined) return run === next;
  return run.key === experimentKey(next);
}

export function experimentKey(experiment: ProxyExperiment): string {
  return JSON.stringify(experiment, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value instanceof URL ? value.href : value,
  );
}

export class ProxyExperiments {
  readonly #options: ProxyExperimentsOptions;
  #run: ExperimentRun | undefined;

  constructor(options: ProxyExperimentsOptions) {
    this.#options = options;
  }

  /** The experiment the ingest thread measures now. */
  get running(): ExperimentRun | undefined {
    return this.#run;
  }

  /**
   * Makes `next` the running experiment (or none), around `switchWorkers`, which moves
   * every worker to the pipeline with the given experiment. When the workers refuse, the
   * previous experiment stays.
   */
  async apply(
    next: ProxyExperiment | undefined,
    switchWorkers: (experiment: WorkerExperiment | undefined) => Promise<void>,
  ): Promise<void> {
    const previous = this.#run;
    if (sameExperiment(previous, next)) {
      await switchWorkers(previous?.experiment);
      return;
    }
    const worker: WorkerExperiment | undefined =
      next === undefined
        ? undefined
        : { name: next.name, mode: next.mode, fraction: next.fraction, candidate: next.candidate };
    const started =
      next === undefined || worker === undefined
        ? undefined
        : await ExperimentRun.start({
            ...this.#options,
            experiment: worker,
            shadowUpstream: next.shadowUpstream,
            key: experimentKey(next),
          });
    this.#run = started;
    try {
      await switchWorkers(worker);
    } catch (error) {
      this.#run = previous;
      await started?.close();
      throw error;
    }
    await previous?.close();
  }

  async close(): Promise<void> {
    const run = this.#run;
    this.#run = undefined;
    await run?.close();
  }
}
