/**
 * The end-to-end benchmark: for each scenario (and, with `vs`, alternating Phoenix and
 * vmagent round after round) it starts the target fresh, warms it up with one round of the
 * workload, then pushes for the duration, waits until the sink has every sample the target
 * should have forwarded, and reads the target's CPU time and peak RSS from `/proc`.
 *
 * The load generator and the sink run in this process and share the machine's cores with
 * the target: the target's CPU is measured on its own process, but its throughput is
 * bounded by what is left of the machine.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadGenerator, type LoadResult, quantile } from './load-generator.js';
import {
  cpuSeconds,
  findListeningPid,
  readCpuTimes,
  readMemoryUsage,
  readThreadCpu,
  threadCpuBetween,
} from './proc-stats.js';
import type { AggregationMeasurement, RunResult, RunTarget } from './run-result.js';
import { type Scenario, type ScenarioName, scenarioFor } from './scenarios.js';
import { type Sink, startSink } from './sink.js';
import { startTarget, type TargetProcess } from './targets.js';
import { Workload } from './workload.js';
import { type BenchFormat, formatUrl } from './workload-formats.js';

/** Everything a benchmark run needs; the CLI fills it from its flags. */
export interface BenchOptions {
  readonly seriesCount: number;
  readonly seriesPerRequest: number;
  readonly durationMs: number;
  readonly concurrency: number;
  readonly scenarios: readonly ScenarioName[];
  /** Wire format of the workload; vmagent takes only `rw1`. */
  readonly format: BenchFormat;
  /** Measure vmagent too, alternating with Phoenix. */
  readonly vsVmagent: boolean;
  /** Also send the load straight to the sink, for the latency the targets add. */
  readonly vsDirect?: boolean;
  /** Rounds of the alternation (each round runs every target once per scenario). */
  readonly rounds: number;
  readonly phoenixWorkers: number;
  /** More arguments for `phoenix proxy` (say `--delivery sync`). */
  readonly phoenixArgs: readonly string[];
  /** Start requests at this rate instead of as fast as possible. */
  readonly requestsPerSecond?: number | undefined;
  /**
   * Warm each target up by sending for this long (at `requestsPerSecond`, when set) instead
   * of one round of the workload as fast as possible.
   */
  readonly warmupMs?: number | undefined;
  /** An already running target to measure instead of starting Phoenix. */
  readonly targetUrl?: string | undefined;
  /** Its pid; found from its listening port when omitted. */
  readonly targetPid?: number | undefined;
  /** Sink address; an external target must be configured to forward here. */
  readonly sinkHost: string;
  readonly sinkPort: number;
  /** Write Phoenix CPU profiles into this directory. */
  readonly cpuProfileDir?: string | undefined;
  readonly vmagentBinary?: string | undefined;
  /** Longest wait for the sink to receive everything after sending stopped, ms. */
  readonly drainTimeoutMs: number;
  /** Count distinct series at the sink (costs the bench process CPU). */
  readonly countDistinctSeries: boolean;
  /** Receives a progress line about every second, and a line per finished run. */
  readonly onProgress?: ((line: string) => void) | undefined;
}

/** Runs every scenario (and round) and returns one result per run, in run order. */
export async function runBenchmark(options: BenchOptions): Promise<RunResult[]> {
  const workload = new Workload({
    seriesCount: options.seriesCount,
    seriesPerRequest: options.seriesPerRequest,
    format: options.format,
    // Aggregation windows follow the wall clock and drop samples older than the window
    // before the open one, so an aggregation run needs timestamps from now on.
    ...(options.scenarios.includes('aggregation') ? { startTimestampMs: Date.now() } : {}),
  });
  const sink = await startSink({
    host: options.sinkHost,
    port: options.sinkPort,
    countDistinctSeries: options.countDistinctSeries,
  });
  const results: RunResult[] = [];
  let sequence = 0;
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const scenarioName of options.scenarios) {
        const scenario = scenarioFor(scenarioName, workload);
        const kinds: RunTarget[] = options.vsVmagent
          ? round % 2 === 1
            ? ['phoenix', 'vmagent']
            : ['vmagent', 'phoenix']
          : ['phoenix'];
        const targets: RunTarget[] = options.targetUrl === undefined ? kinds : ['external'];
        if (options.vsDirect === true) targets.push('direct');
        for (const kind of targets) {
          const run = await runOne(options, workload, sink, scenario, kind, round, sequence);
          sequence = run.nextSequence;
          results.push(run.result);
          options.onProgress?.(describeRun(run.result));
        }
      }
    }
  } finally {
    sink.close();
  }
  return results;
}

interface MeasuredTarget {
  readonly pid: number;
  readonly remoteWriteUrl: string;
  stop(): Promise<void>;
  log(): string;
}

async function runOne(
  options: BenchOptions,
  workload: Workload,
  sink: Sink,
  scenario: Scenario,
  kind: RunTarget,
  round: number,
  firstSequence: number,
): Promise<{ result: RunResult; nextSequence: number }> {
  const workDir = await mkdtemp(join(tmpdir(), `phoenix-bench-${kind}-`));
  let target: MeasuredTarget | undefined;
  try {
    target = await openTarget(options, kind, scenario, sink, workDir);
    const label = `${kind} ${scenario.name} round ${round}/${options.rounds}`;
    // Only Phoenix aggregates; in that scenario vmagent runs a relabel rule that drops no
    // series, and the sink alone (`direct`) keeps everything in every scenario.
    const aggregates =
      scenario.aggregations !== undefined && (kind === 'phoenix' || kind === 'external');
    const keepsAll = kind === 'direct' || (scenario.aggregations !== undefined && !aggregates);
    const droppedMetricIds = keepsAll ? new Set<number>() : scenario.droppedMetricIds;
    // Warm-up: one round of every series, so caches, JIT and connections are ready; or,
    // with a warm-up time, that long at the run's rate (a process past its first seconds).
    sink.reset();
    const warmup = await new LoadGenerator({
      url: formatUrl(target.remoteWriteUrl, workload.format),
      workload,
      concurrency: options.concurrency,
      ...(options.warmupMs === undefined
        ? { durationMs: Number.POSITIVE_INFINITY, maxRequests: workload.requestsPerRound }
        : { durationMs: options.warmupMs, requestsPerSecond: options.requestsPerSecond }),
      firstSequence,
      droppedMetricIds,
    }).run();
    checkFailures(warmup, `${label} warm-up`, target);
    await waitForSink(sink, warmup.samplesExpectedOut, options.drainTimeoutMs);
    sink.reset();

    const cpuBefore = cpuSeconds(readCpuTimes(target.pid));
    const threadsBefore = readThreadCpu(target.pid);
    const startedAt = performance.now();
    const load = new LoadGenerator({
      url: formatUrl(target.remoteWriteUrl, workload.format),
      workload,
      concurrency: options.concurrency,
      durationMs: options.durationMs,
      firstSequence: warmup.nextSequence,
      requestsPerSecond: options.requestsPerSecond,
      droppedMetricIds,
    });
    const pid = target.pid;
    let lastCpu = cpuBefore;
    let lastSamples = 0;
    const progressTimer = setInterval(() => {
      const cpuNow = cpuSeconds(readCpuTimes(pid));
      const progress = load.progress();
      const seconds = (performance.now() - startedAt) / 1000;
      options.onProgress?.(
        `[${label}] ${seconds.toFixed(0)}s  sent ${formatCount(progress.samplesSent)} samples ` +
          `(${formatCount(progress.samplesSent - lastSamples)}/s)  sink ${formatCount(sink.totals().samples)}  ` +
          `target CPU ${(cpuNow - lastCpu).toFixed(2)} s/s  failed ${progress.failed}`,
      );
      lastCpu = cpuNow;
      lastSamples = progress.samplesSent;
    }, 1000);
    let result: LoadResult;
    try {
      result = await load.run();
    } finally {
      clearInterval(progressTimer);
    }
    const pushSeconds = (performance.now() - startedAt) / 1000;
    await waitForSink(sink, result.samplesExpectedOut, options.drainTimeoutMs);
    if (aggregates) {
      // The last samples leave with the next flush at a window boundary.
      await new Promise((resolve) =>
        setTimeout(resolve, (scenario.aggregationIntervalMs ?? 0) + 2000),
      );
    }
    const totalSeconds = (performance.now() - startedAt) / 1000;
    // `direct` measured this very process (load generator and sink): nothing to report.
    const cpu = kind === 'direct' ? Number.NaN : cpuSeconds(readCpuTimes(target.pid)) - cpuBefore;
    const memory = kind === 'direct' ? { peakRssBytes: Number.NaN } : readMemoryUsage(target.pid);
    const cpuByThread = (
      kind === 'direct' ? [] : threadCpuBetween(threadsBefore, readThreadCpu(target.pid))
    )
      .filter((entry) => entry.seconds > 0)
      .map((entry) => ({
        ...entry,
        secondsPerMillionSamples: (entry.seconds * 1e6) / Math.max(1, result.samplesSent),
      }));
    const totals = sink.totals();
    const sequences = result.nextSequence - warmup.nextSequence;
    const distinctSeriesIn = Math.min(workload.seriesCount, sequences * workload.seriesPerRequest);
    const aggregation = aggregates
      ? await measureAggregation(target.remoteWriteUrl, distinctSeriesIn, totals.distinctSeries)
      : undefined;
    return {
      nextSequence: result.nextSequence,
      result: {
        target: kind,
        scenario: scenario.name,
        round,
        pushSeconds,
        totalSeconds,
        requests: result.requests,
        failedRequests: result.failed,
        samplesIn: result.samplesSent,
        samplesExpectedOut: result.samplesExpectedOut,
        samplesOut: totals.samples,
        // Aggregated output is not a count of input samples; the series reduction checks it.
        samplesLost: aggregates ? 0 : result.samplesExpectedOut - totals.samples,
        seriesIn: result.samplesSent,
        seriesOut: totals.series,
        distinctSeriesIn,
        distinctSeriesOut: totals.distinctSeries,
        bytesIn: result.bytesSent,
        bytesOut: totals.bytes,
        cpuSeconds: cpu,
        cpuSecondsPerMillionSamples: (cpu * 1e6) / Math.max(1, result.samplesSent),
        samplesPerSecond: result.samplesSent / totalSeconds,
        latencyP50Ms: quantile(result.latenciesMs, 0.5),
        latencyP99Ms: quantile(result.latenciesMs, 0.99),
        peakRssBytes: memory.peakRssBytes,
        cpuByThread,
        firstError: result.firstError,
        ...(aggregation === undefined ? {} : { aggregation }),
      },
    };
  } finally {
    await target?.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function openTarget(
  options: BenchOptions,
  kind: RunTarget,
  scenario: Scenario,
  sink: Sink,
  workDir: string,
): Promise<MeasuredTarget> {
  if (kind === 'direct') {
    return { pid: process.pid, remoteWriteUrl: sink.url, stop: async () => {}, log: () => '' };
  }
  if (kind === 'external') {
    const url = options.targetUrl!;
    const port = Number(new URL(url).port || 80);
    const pid = options.targetPid ?? findListeningPid(port);
    if (pid === undefined) {
      throw new Error(`no process found listening on port ${port}; pass --target-pid`);
    }
    return { pid, remoteWriteUrl: url, stop: async () => {}, log: () => '' };
  }
  const aggregates = scenario.aggregations !== undefined && kind === 'phoenix';
  const started: TargetProcess = await startTarget({
    kind,
    upstreamUrl: sink.url,
    relabelConfigs: aggregates ? [] : scenario.relabelConfigs,
    aggregations: aggregates ? scenario.aggregations : undefined,
    workDir,
    phoenixWorkers: options.phoenixWorkers,
    phoenixArgs: options.phoenixArgs,
    cpuProfileDir: options.cpuProfileDir,
    vmagentBinary: options.vmagentBinary,
  });
  return {
    pid: started.pid,
    remoteWriteUrl: started.remoteWriteUrl,
    stop: () => started.stop(),
    log: started.log,
  };
}

/** Reads the aggregation gauges from Phoenix's `/metrics` beside its remote-write URL. */
async function measureAggregation(
  remoteWriteUrl: string,
  inputSeries: number,
  outputSeries: number,
): Promise<AggregationMeasurement> {
  const response = await fetch(new URL('/metrics', remoteWriteUrl));
  const text = await response.text();
  const gauge = (name: string): number => {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    if (match === null) throw new Error(`${name} missing from Phoenix's /metrics`);
    return Number(match[1]);
  };
  return {
    inputSeries,
    outputSeries,
    trackedSeries: gauge('phoenix_aggregation_series'),
    groups: gauge('phoenix_aggregation_groups'),
    stateBytes: gauge('phoenix_aggregation_state_bytes'),
  };
}

function checkFailures(load: LoadResult, label: string, target: MeasuredTarget): void {
  if (load.failed > 0) {
    throw new Error(
      `${label}: ${load.failed} of ${load.requests} requests failed (${load.firstError}); ` +
        `target output:\n${target.log()}`,
    );
  }
}

/**
 * Waits until the sink holds at least `samples` samples. A target that buffers (vmagent)
 * forwards after it answered, so a run ends only when everything arrived, or the time is up.
 */
async function waitForSink(sink: Sink, samples: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (sink.totals().samples < samples && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One line per finished run, for the progress stream. */
export function describeRun(run: RunResult): string {
  return (
    `= ${run.target} ${run.scenario} round ${run.round}: ` +
    `${run.cpuSecondsPerMillionSamples.toFixed(2)} CPU s per M samples, ` +
    `${formatCount(run.samplesPerSecond)} samples/s, p50 ${run.latencyP50Ms.toFixed(2)} ms, ` +
    `p99 ${run.latencyP99Ms.toFixed(2)} ms, peak RSS ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ` +
    `lost ${run.samplesLost}, failed ${run.failedRequests}\n` +
    `  CPU s per M samples by thread: ${run.cpuByThread
      .slice(0, 6)
      .map((entry) => `${entry.name} ${entry.secondsPerMillionSamples.toFixed(2)}`)
      .join(', ')}`
  );
}

/** 1234567 → "1.23M". */
export function formatCount(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}
