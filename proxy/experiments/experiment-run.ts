/**
 * An experiment as the ingest thread runs it: the candidate arm's aggregation (its own
 * thread, its own state), where the candidate output goes (the shadow upstream, or the
 * primary upstreams in split mode), and the per-arm measurements the proxy reports to the
 * control plane. The workers run both arms' pipelines (see candidate-arm.ts).
 */
import { Counter, type Registry } from 'prom-client';
import { type StartedAggregation, startAggregation } from '../aggregation/proxy-aggregation.js';
import { decodeTracker, encodeTracker, mergeTrackers } from '../cardinality/tracker.js';
import type { PipelineStats } from '../pipeline/contracts.js';
import { Forwarder } from '../server/forwarder.js';
import { logEvent } from '../server/log.js';
import type {
  ArmSketchSet,
  MeterTask,
  ProcessSuccess,
  WorkerExperiment,
} from '../server/worker-protocol.js';

/** Shadow requests waiting beyond which new ones are dropped (and counted). */
const SHADOW_MAX_QUEUED = 1_024;

export interface ExperimentRunOptions {
  readonly experiment: WorkerExperiment;
  /** Identity of the whole assignment (candidate, mode, shadow upstream). */
  readonly key: string;
  /** Shadow mode: where the candidate output goes; undefined to only measure it. */
  readonly shadowUpstream: URL | undefined;
  /** The proxy's data directory; the candidate's aggregation snapshots under it. */
  readonly dataDir: string | undefined;
  readonly maxDecompressedBytes: number;
  readonly upstreamTimeoutMs: number;
  readonly userAgent: string;
  /** The proxy's forward to its upstreams (split mode: candidate aggregation output). */
  readonly forward: (payload: Uint8Array) => Promise<unknown>;
  /**
   * Hands an arm's aggregation flush to a pipeline worker, which counts its series in the
   * arm's output sketch (the ingest thread never parses protobuf).
   */
  readonly meter: (task: MeterTask) => void;
  readonly metrics: ExperimentMetrics;
}

/** One arm's counters, totals since the proxy started running the experiment. */
export interface ArmCounters {
  readonly experiment: string;
  readonly arm: 'baseline' | 'candidate';
  readonly requests: bigint;
  readonly samplesIn: bigint;
  readonly samplesOut: bigint;
  readonly bytesOut: bigint;
  readonly pipelineNs: bigint;
  readonly ruleHits: bigint[];
  readonly inputSketch: Uint8Array;
  readonly outputSketch: Uint8Array;
  readonly seconds: number;
}

/** The proxy's self-metrics about experiments; registered once per proxy. */
export class ExperimentMetrics {
  readonly shadowRequests: Counter<'result'>;
  readonly armSamples: Counter<'experiment' | 'arm' | 'direction'>;

  constructor(registry: Registry) {
    this.shadowRequests = new Counter({
      name: 'phoenix_experiment_shadow_requests_total',
      help: 'Candidate outputs sent to the shadow upstream, by result (sent, failed, dropped when too many were in flight).',
      labelNames: ['result'],
      registers: [registry],
    });
    this.armSamples = new Counter({
      name: 'phoenix_experiment_samples_total',
      help: 'Samples through each arm of the running experiment, in and out.',
      labelNames: ['experiment', 'arm', 'direction'],
      registers: [registry],
    });
  }
}

class ArmMeter {
  requests = 0n;
  samplesIn = 0n;
  samplesOut = 0n;
  bytesOut = 0n;
  pipelineNs = 0n;
  ruleHits: bigint[] = [];

  add(stats: PipelineStats, ruleHits: Uint32Array, bytesOut: number, pipelineNs: number): void {
    this.requests++;
    this.samplesIn += BigInt(stats.samplesIn + stats.histogramsIn);
    this.samplesOut += BigInt(stats.samplesOut + stats.histogramsOut);
    this.bytesOut += BigInt(bytesOut);
    this.pipelineNs += BigInt(Math.max(0, Math.round(pipelineNs)));
    for (let index = 0; index < ruleHits.length; index++) {
      this.ruleHits[index] = (this.ruleHits[index] ?? 0n) + BigInt(ruleHits[index]!);
    }
  }
}

export class ExperimentRun {
  readonly experiment: WorkerExperiment;
  readonly key: string;
  readonly #options: ExperimentRunOptions;
  readonly #startedMs = Date.now();
  readonly #baseline = new ArmMeter();
  readonly #candidate = new ArmMeter();
  readonly #aggregation: StartedAggregation;
  readonly #shadow: Forwarder | undefined;
  /** The newest sketches of each worker thread, whole totals of that thread. */
  readonly #sketches = new Map<number, ArmSketchSet>();
  /** Candidate outputs waiting for the shadow upstream, oldest first. */
  readonly #shadowQueue: Uint8Array[] = [];
  #shadowSending: Promise<void> | undefined;

  private constructor(
    options: ExperimentRunOptions,
    aggregation: StartedAggregation,
    shadow: Forwarder | undefined,
  ) {
    this.experiment = options.experiment;
    this.key = options.key;
    this.#options = options;
    this.#aggregation = aggregation;
    this.#shadow = shadow;
  }

  static async start(options: ExperimentRunOptions): Promise<ExperimentRun> {
    const experiment = options.experiment;
    const shadow =
      experiment.mode === 'shadow' && options.shadowUpstream !== undefined
        ? new Forwarder({
            upstreamUrl: options.shadowUpstream,
            timeoutMs: options.upstreamTimeoutMs,
            connections: 4,
            userAgent: options.userAgent,
          })
        : undefined;
    // The candidate's aggregation output goes where the candidate's output goes.
    let run: ExperimentRun | undefined;
    const aggregation = await startAggregation({
      rules: experiment.candidate.aggregations ?? [],
      dataDir:
        options.dataDir === undefined
          ? undefined
          : `${options.dataDir}/experiments/${experiment.name}`,
      maxDecompressedBytes: options.maxDecompressedBytes,
      forward: async (payload) => {
        options.meter({
          kind: 'meter',
          experiment: experiment.name,
          arm: 'candidate',
          payload: payload.slice(),
        });
        if (experiment.mode === 'split') return options.forward(payload);
        if (run !== undefined) run.#sendShadow(payload);
      },
      scope: `experiment ${experiment.name}`,
    });
    run = new ExperimentRun(options, aggregation, shadow);
    logEvent('info', 'experiment_started', {
      experiment: experiment.name,
      mode: experiment.mode,
      ...(experiment.mode === 'split' ? { fraction: experiment.fraction } : {}),
      shadowUpstream: options.shadowUpstream?.origin,
    });
    return run;
  }

  /**
   * Takes a worker's answer made with this experiment: measures both arms, feeds the
   * candidate's aggregation, and sends the candidate output on. In split mode the answer
   * comes back with the candidate output to deliver with the baseline's.
   */
  observe(response: ProcessSuccess): ProcessSuccess {
    const candidate = response.candidate;
    if (candidate === undefined) return response;
    const name = this.experiment.name;
    const baselineBytes = response.stats.seriesOut > 0 ? response.payload.byteLength : 0;
    this.#baseline.add(response.stats, response.ruleHits, baselineBytes, response.pipelineNs ?? 0);
    const candidateSends = candidate.stats.seriesOut > 0 || candidate.stats.metadataOut > 0;
    this.#candidate.add(
      candidate.stats,
      candidate.ruleHits,
      candidateSends ? candidate.payload.byteLength : 0,
      candidate.pipelineNs,
    );
    const samples = this.#options.metrics.armSamples;
    samples.inc({ experiment: name, arm: 'candidate', direction: 'in' }, candidate.stats.samplesIn);
    samples.inc(
      { experiment: name, arm: 'candidate', direction: 'out' },
      candidate.stats.samplesOut,
    );
    samples.inc({ experiment: name, arm: 'baseline', direction: 'in' }, response.stats.samplesIn);
    samples.inc({ experiment: name, arm: 'baseline', direction: 'out' }, response.stats.samplesOut);
    if (response.armSketches !== undefined) {
      this.#sketches.set(response.armSketches.threadId, response.armSketches);
    }
    this.#aggregation.ingest(candidate.aggregationInput ?? candidate.payload);
    if (this.experiment.mode === 'shadow') {
      if (candidateSends) this.#sendShadow(candidate.payload);
      return response;
    }
    return candidateSends ? { ...response, alsoForward: candidate.payload } : response;
  }

  /**
   * Queues a candidate output for the shadow upstream. The sender's request never waits
   * for it (the shadow arm must not slow down or fail the primary path), but the outputs go
   * out one at a time in the order they were made: a receiver such as Prometheus refuses a
   * sample older than the newest of its series, so overtaking requests would leave gaps.
   */
  #sendShadow(payload: Uint8Array): void {
    if (this.#shadow === undefined) return;
    if (this.#shadowQueue.length >= SHADOW_MAX_QUEUED) {
      this.#options.metrics.shadowRequests.inc({ result: 'dropped' });
      return;
    }
    this.#shadowQueue.push(payload);
    this.#shadowSending ??= this.#drainShadow();
  }

  async #drainShadow(): Promise<void> {
    const shadow = this.#shadow!;
    const counter = this.#options.metrics.shadowRequests;
    for (
      let next = this.#shadowQueue.shift();
      next !== undefined;
      next = this.#shadowQueue.shift()
    ) {
      try {
        await shadow.send(next);
        counter.inc({ result: 'sent' });
      } catch {
        counter.inc({ result: 'failed' });
      }
    }
    this.#shadowSending = undefined;
  }

  /** Both arms' totals, with the sketches of every worker merged. */
  counters(): ArmCounters[] {
    const sets = [...this.#sketches.values()];
    const merged = (pick: (set: ArmSketchSet) => Uint8Array): Uint8Array =>
      sets.length === 0
        ? new Uint8Array(0)
        : encodeTracker(mergeTrackers(sets.map((set) => decodeTracker(pick(set)))));
    const seconds = (Date.now() - this.#startedMs) / 1000;
    const arm = (
      name: 'baseline' | 'candidate',
      meter: ArmMeter,
      input: Uint8Array,
      output: Uint8Array,
    ): ArmCounters => ({
      experiment: this.experiment.name,
      arm: name,
      requests: meter.requests,
      samplesIn: meter.samplesIn,
      samplesOut: meter.samplesOut,
      bytesOut: meter.bytesOut,
      pipelineNs: meter.pipelineNs,
      ruleHits: [...meter.ruleHits].map((value) => value ?? 0n),
      inputSketch: input,
      outputSketch: output,
      seconds,
    });
    return [
      arm(
        'baseline',
        this.#baseline,
        merged((set) => set.baselineInput),
        merged((set) => set.baselineOutput),
      ),
      arm(
        'candidate',
        this.#candidate,
        merged((set) => set.candidateInput),
        merged((set) => set.candidateOutput),
      ),
    ];
  }

  /** Final flush of the candidate's aggregation, then the shadow connection closes. */
  async close(): Promise<void> {
    await this.#aggregation.close();
    await this.#shadowSending;
    await this.#shadow?.close();
    logEvent('info', 'experiment_stopped', { experiment: this.experiment.name });
  }
}
