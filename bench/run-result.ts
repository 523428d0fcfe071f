/**
 * What one measured run produced, and how runs of the same scenario and target are
 * summarised (median of the runs) and compared (Phoenix ÷ vmagent).
 */

import type { ScenarioName } from './scenarios.js';

/**
 * Which process a run measured: one the harness started, one given by `--target`, or none
 * (`direct`: the load straight into the sink, the latency floor of the harness itself).
 */
export type RunTarget = 'phoenix' | 'vmagent' | 'external' | 'direct';

/** The numbers of one run. */
export interface RunResult {
  readonly target: RunTarget;
  readonly scenario: ScenarioName;
  /** 1-based round of the alternation. */
  readonly round: number;
  /** Time spent sending, s. */
  readonly pushSeconds: number;
  /** Time from the first request until the sink had everything, s (sending + draining). */
  readonly totalSeconds: number;
  readonly requests: number;
  /** Requests not answered 2xx. */
  readonly failedRequests: number;
  readonly samplesIn: number;
  /** Samples of kept series the sink should have received. */
  readonly samplesExpectedOut: number;
  readonly samplesOut: number;
  /** `samplesExpectedOut - samplesOut`: anything but 0 is a lost (or duplicated) sample. */
  readonly samplesLost: number;
  readonly seriesIn: number;
  /** `timeseries` entries the sink received. */
  readonly seriesOut: number;
  /** Distinct series sent in the run (at most the workload's series count). */
  readonly distinctSeriesIn: number;
  /** Distinct label sets the sink saw. */
  readonly distinctSeriesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /**
   * User + system CPU of the target process (all threads), from `/proc/PID/stat`, s; NaN
   * for `direct`, which has no process of its own.
   */
  readonly cpuSeconds: number;
  readonly cpuSecondsPerMillionSamples: number;
  /** Samples in per second over the whole run including the drain. */
  readonly samplesPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** `VmHWM` of the target at the end of the run, bytes (NaN for `direct`). */
  readonly peakRssBytes: number;
  /** CPU by thread name (`/proc/PID/task/*\/stat`), largest first: where the time went. */
  readonly cpuByThread: ReadonlyArray<{
    readonly name: string;
    readonly threads: number;
    readonly seconds: number;
    readonly secondsPerMillionSamples: number;
  }>;
  readonly firstError: string | undefined;
  /** The aggregation scenario on Phoenix: what the rules made of the input. */
  readonly aggregation?: AggregationMeasurement;
}

/** Series in and out of an aggregation run, and the state it took (from `/metrics`). */
export interface AggregationMeasurement {
  /** Distinct input series sent in the run. */
  readonly inputSeries: number;
  /** Distinct output series the sink received from the flushes. */
  readonly outputSeries: number;
  /** `phoenix_aggregation_series` at the end: (input series, rule) entries tracked. */
  readonly trackedSeries: number;
  /** `phoenix_aggregation_groups` at the end. */
  readonly groups: number;
  /** `phoenix_aggregation_state_bytes` at the end. */
  readonly stateBytes: number;
}

/** Medians over the runs of one scenario and target. */
export interface RunSummary {
  readonly target: RunTarget;
  readonly scenario: ScenarioName;
  readonly runs: number;
  readonly cpuSecondsPerMillionSamples: number;
  readonly samplesPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** The largest peak RSS of the runs. */
  readonly peakRssBytes: number;
  /** Sum over the runs; 0 when nothing was lost. */
  readonly samplesLost: number;
  readonly failedRequests: number;
  readonly samplesIn: number;
  readonly samplesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Phoenix ÷ vmagent of one scenario: below 1 means Phoenix spends less. */
export interface Comparison {
  readonly scenario: ScenarioName;
  readonly cpuRatio: number;
  readonly throughputRatio: number;
  readonly peakRssRatio: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** One summary per (scenario, target), in the order they first appear in `runs`. */
export function summarise(runs: readonly RunResult[]): RunSummary[] {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = `${run.scenario}/${run.target}`;
    const group = groups.get(key) ?? [];
    group.push(run);
    groups.set(key, group);
  }
  return [...groups.values()].map((group) => {
    const sum = (pick: (run: RunResult) => number): number =>
      group.reduce((total, run) => total + pick(run), 0);
    return {
      target: group[0]!.target,
      scenario: group[0]!.scenario,
      runs: group.length,
      cpuSecondsPerMillionSamples: median(group.map((run) => run.cpuSecondsPerMillionSamples)),
      samplesPerSecond: median(group.map((run) => run.samplesPerSecond)),
      latencyP50Ms: median(group.map((run) => run.latencyP50Ms)),
      latencyP99Ms: median(group.map((run) => run.latencyP99Ms)),
      peakRssBytes: Math.max(...group.map((run) => run.peakRssBytes)),
      samplesLost: sum((run) => run.samplesLost),
      failedRequests: sum((run) => run.failedRequests),
      samplesIn: sum((run) => run.samplesIn),
      samplesOut: sum((run) => run.samplesOut),
      bytesIn: sum((run) => run.bytesIn),
      bytesOut: sum((run) => run.bytesOut),
    };
  });
}

/** Phoenix against vmagent for every scenario that has both. */
export function compare(summaries: readonly RunSummary[]): Comparison[] {
  const out: Comparison[] = [];
  for (const phoenix of summaries) {
    if (phoenix.target !== 'phoenix') continue;
    const vmagent = summaries.find(
      (other) => other.target === 'vmagent' && other.scenario === phoenix.scenario,
    );
    if (vmagent === undefined) continue;
    out.push({
      scenario: phoenix.scenario,
      cpuRatio: phoenix.cpuSecondsPerMillionSamples / vmagent.cpuSecondsPerMillionSamples,
      throughputRatio: phoenix.samplesPerSecond / vmagent.samplesPerSecond,
      peakRssRatio: phoenix.peakRssBytes / vmagent.peakRssBytes,
    });
  }
  return out;
}

/**
 * Latency a target adds to the sender's requests: its median p50 and p99 less those of
 * the same load sent straight to the sink (the `direct` runs of the same scenario).
 */
export interface AddedLatency {
  readonly scenario: ScenarioName;
  readonly target: RunTarget;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Added latency of every target of a scenario that also has `direct` runs. */
export function addedLatency(summaries: readonly RunSummary[]): AddedLatency[] {
  const out: AddedLatency[] = [];
  for (const summary of summaries) {
    if (summary.target === 'direct') continue;
    const direct = summaries.find(
      (other) => other.target === 'direct' && other.scenario === summary.scenario,
    );
    if (direct === undefined) continue;
    out.push({
      scenario: summary.scenario,
      target: summary.target,
      p50Ms: summary.latencyP50Ms - direct.latencyP50Ms,
      p99Ms: summary.latencyP99Ms - direct.latencyP99Ms,
    });
  }
  return out;
}
