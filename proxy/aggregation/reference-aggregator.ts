/**
 * A plain, obviously-correct model of Phoenix's stream aggregation, written with Maps and
 * objects for readability: the executable specification the WebAssembly state is tested
 * against (see docs/aggregation.md). Not used on the data path.
 */
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import { selectorMatches } from '../pipeline/selector.js';
import { encodeLabelFields, groupLabels, outputMetricName, quantileLabel } from './classify.js';

/** One input series of a request: labels and samples (timestamps in ms). */
export interface ReferenceSeries {
  readonly labels: ReadonlyMap<string, string>;
  readonly samples: ReadonlyArray<{ readonly value: number; readonly timestampMs: number }>;
}

/** One output sample: the output series' labels as `name{a="b",...}` text, and its value. */
export type ReferenceOutput = Map<string, number>;

interface SeriesState {
  lastTs: number;
  lastValue: number;
  windowSeen: number;
  windowFirstTs: number;
  windowIncrease: number;
  hasRate: boolean;
  /** The candidate of the open dedup interval (rules with dedup_interval only). */
  pending: { ts: number; value: number } | undefined;
  group: GroupState;
}

interface GroupState {
  readonly labels: Map<string, string>;
  readonly metric: string;
  live: number;
  total: number;
  increase: number;
  sum: number;
  samples: number;
  series: number;
  min: number;
  max: number;
  last: number;
  lastTs: number;
  rateSum: number;
  rateCount: number;
  /** Every accepted sample of the window, for exact quantiles. */
  values: number[];
}

interface RuleState {
  lastFlushMs: number;
  window: number;
  readonly series: Map<string, SeriesState>;
  readonly groups: Map<string, GroupState>;
}

/** Prometheus' stale marker bit pattern. */
export const STALE_NAN = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0]!;

/** Output text key: `name{a="1",b="2"}` with labels sorted. */
export function outputKey(labels: ReadonlyMap<string, string>): string {
  const name = labels.get('__name__') ?? '';
  const rest = [...labels]
    .filter(([key]) => key !== '__name__')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  return `${name}{${rest.join(',')}}`;
}

/**
 * A rule's `input_relabel_configs` (`input`) and `output_relabel_configs` (`output`) as
 * plain functions of the labels: the relabeled labels, or `null` for a dropped series.
 * The model takes them as functions so that a test can state the relabeling it expects
 * independently of the relabel engine.
 */
export interface ReferenceRelabel {
  readonly input: (rule: number, labels: ReadonlyMap<string, string>) => Map<string, string> | null;
  readonly output: (
    rule: number,
    labels: ReadonlyMap<string, string>,
  ) => Map<string, string> | null;
}

const NO_RELABEL: ReferenceRelabel = {
  input: (_rule, labels) => new Map(labels),
  output: (_rule, labels) => new Map(labels),
};

export class ReferenceAggregator {
  readonly #rules: readonly AggregationRule[];
  readonly #state: RuleState[];
  readonly #relabel: ReferenceRelabel;
  late = 0;
  duplicate = 0;
  /** Samples that went into the state (per rule), as the module's `samples` counter. */
  accepted = 0;

  constructor(
    rules: readonly AggregationRule[],
    windowStartMs: number,
    relabel: ReferenceRelabel = NO_RELABEL,
  ) {
    this.#rules = rules;
    this.#relabel = relabel;
    this.#state = rules.map(() => ({
      lastFlushMs: windowStartMs,
      window: 0,
      series: new Map(),
      groups: new Map(),
    }));
  }

  ingest(series: readonly ReferenceSeries[]): void {
    for (const input of series) this.#ingestSeries(input);
  }

  #ingestSeries(input: ReferenceSeries): void {
    const seriesKey = outputKey(input.labels);
    this.#rules.forEach((rule, index) => {
      if (!rule.match.some((selector) => selectorMatches(selector, input.labels))) return;
      const state = this.#state[index]!;
      let entry = state.series.get(seriesKey);
      if (entry === undefined) {
        const relabeled = this.#relabel.input(index, input.labels);
        if (relabeled === null) return;
        const labels = groupLabels(rule, relabeled);
        const metric = relabeled.get('__name__') ?? '';
        const groupKey = `${metric}\u0000${Buffer.from(encodeLabelFields(labels)).toString('hex')}`;
        let group = state.groups.get(groupKey);
        if (group === undefined) {
          group = newGroup(labels, metric);
          state.groups.set(groupKey, group);
        }
        group.live++;
        entry = {
          lastTs: Number.NEGATIVE_INFINITY,
          lastValue: 0,
          windowSeen: state.window - 1,
          windowFirstTs: 0,
          windowIncrease: 0,
          hasRate: false,
          pending: undefined,
          group,
        };
        state.series.set(seriesKey, entry);
      }
      for (const sample of input.samples)
        this.#addSample(rule, state, entry, sample.value, sample.timestampMs);
    });
  }

  #addSample(
    rule: AggregationRule,
    state: RuleState,
    entry: SeriesState,
    value: number,
    ts: number,
  ): void {
    if (Number.isNaN(value)) return;
    if (ts < state.lastFlushMs - rule.intervalMs) {
      this.late++;
      return;
    }
    const dedupMs = rule.dedupIntervalMs;
    if (dedupMs !== undefined) {
      this.#offerDeduplicated(rule, state, entry, value, ts, dedupMs);
      return;
    }
    if (ts <= entry.lastTs) {
      this.duplicate++;
      return;
    }
    this.#accept(rule, state, entry, value, ts);
  }

  /** Keeps the last sample (then the larger value) of each dedup interval of a series. */
  #offerDeduplicated(
    rule: AggregationRule,
    state: RuleState,
    entry: SeriesState,
    value: number,
    ts: number,
    dedupMs: number,
  ): void {
    const interval = Math.floor(ts / dedupMs);
    const pending = entry.pending;
    if (pending !== undefined) {
      const pendingInterval = Math.floor(pending.ts / dedupMs);
      if (interval <= pendingInterval) {
        this.duplicate++;
        if (
          interval === pendingInterval &&
          (ts > pending.ts || (ts === pending.ts && value > pending.value))
        ) {
          entry.pending = { ts, value };
        }
        return;
      }
      this.#accept(rule, state, entry, pending.value, pending.ts);
      entry.pending = { ts, value };
      return;
    }
    if (
      entry.lastTs !== Number.NEGATIVE_INFINITY &&
      interval <= Math.floor(entry.lastTs / dedupMs)
    ) {
      this.duplicate++;
      return;
    }
    entry.pending = { ts, value };
  }

  #accept(
    _rule: AggregationRule,
    state: RuleState,
    entry: SeriesState,
    value: number,
    ts: number,
  ): void {
    this.accepted++;
    const group = entry.group;
    if (entry.windowSeen !== state.window) {
      entry.windowSeen = state.window;
      entry.hasRate = false;
      entry.windowIncrease = 0;
      group.series++;
    }
    if (entry.lastTs !== Number.NEGATIVE_INFINITY) {
      const increase = value >= entry.lastValue ? value - entry.lastValue : value;
      group.total += increase;
      group.increase += increase;
      if (!entry.hasRate) {
        entry.hasRate = true;
        entry.windowFirstTs = entry.lastTs;
      }
      entry.windowIncrease += increase;
    }
    entry.lastTs = ts;
    entry.lastValue = value;
    group.samples++;
    group.sum += value;
    group.min = Math.min(group.min, value);
    group.max = Math.max(group.max, value);
    if (ts > group.lastTs || (ts === group.lastTs && value > group.last)) {
      group.lastTs = ts;
      group.last = value;
    }
    group.values.push(value);
  }

  /** Closes the open window of rule `index` at `nowMs`; returns its output samples. */
  flush(index: number, nowMs: number): ReferenceOutput {
    const rule = this.#rules[index]!;
    const state = this.#state[index]!;
    const stalenessWindows = Math.max(1, Math.ceil(rule.stalenessIntervalMs / rule.intervalMs));
    // A dedup candidate still waiting is final when its window closes.
    for (const entry of state.series.values()) {
      if (entry.pending === undefined) continue;
      this.#accept(rule, state, entry, entry.pending.value, entry.pending.ts);
      entry.pending = undefined;
    }
    for (const [key, entry] of state.series) {
      if (entry.windowSeen === state.window && entry.hasRate) {
        const spanMs = entry.lastTs - entry.windowFirstTs;
        if (spanMs > 0) {
          entry.group.rateSum += entry.windowIncrease / (spanMs / 1000);
          entry.group.rateCount++;
        }
      }
      if (state.window - entry.windowSeen >= stalenessWindows) {
        entry.group.live--;
        state.series.delete(key);
      }
    }
    const output: ReferenceOutput = new Map();
    for (const [key, group] of state.groups) {
      for (const name of rule.outputs) {
        for (const [extra, value] of outputValues(rule, group, name)) {
          const labels = new Map([...group.labels, ...extra]);
          labels.set('__name__', outputMetricName(rule, group.metric, name));
          const relabeled = this.#relabel.output(index, labels);
          if (relabeled !== null) output.set(outputKey(relabeled), value);
        }
      }
      resetWindow(group);
      if (group.live === 0) state.groups.delete(key);
    }
    state.window++;
    state.lastFlushMs = nowMs;
    return output;
  }
}

function newGroup(labels: Map<string, string>, metric: string): GroupState {
  const group: GroupState = {
    labels,
    metric,
    live: 0,
    total: 0,
    increase: 0,
    sum: 0,
    samples: 0,
    series: 0,
    min: 0,
    max: 0,
    last: 0,
    lastTs: 0,
    rateSum: 0,
    rateCount: 0,
    values: [],
  };
  resetWindow(group);
  return group;
}

function resetWindow(group: GroupState): void {
  group.increase = 0;
  group.sum = 0;
  group.samples = 0;
  group.series = 0;
  group.min = Number.POSITIVE_INFINITY;
  group.max = Number.NEGATIVE_INFINITY;
  group.last = 0;
  group.lastTs = Number.NEGATIVE_INFINITY;
  group.rateSum = 0;
  group.rateCount = 0;
  group.values = [];
}

/**
 * The output series of one output of a group: extra labels and value. `quantiles` gives
 * one per φ, the exact φ-quantile of the window's samples (rank round(φ · (n − 1)) in
 * sorted order); every other output at most one.
 */
function outputValues(
  rule: AggregationRule,
  group: GroupState,
  output: string,
): Array<[ReadonlyArray<[string, string]>, number]> {
  if (output === 'quantiles') {
    if (group.values.length === 0) return [];
    const sorted = [...group.values].sort((a, b) => a - b);
    return (rule.quantiles ?? []).map((phi) => [
      [['quantile', quantileLabel(phi)]],
      sorted[Math.round(phi * (sorted.length - 1))]!,
    ]);
  }
  const value = outputValue(group, output);
  return value === undefined ? [] : [[[], value]];
}

function outputValue(group: GroupState, output: string): number | undefined {
  switch (output) {
    case 'total':
    case 'total_prometheus':
    case 'histogram_bucket':
      return group.total;
    case 'rate_sum':
      return group.rateCount === 0 ? undefined : group.rateSum;
    case 'rate_avg':
      return group.rateCount === 0 ? undefined : group.rateSum / group.rateCount;
  }
  if (group.samples === 0) return undefined;
  switch (output) {
    case 'increase':
    case 'increase_prometheus':
      return group.increase;
    case 'sum_samples':
      return group.sum;
    case 'count_samples':
      return group.samples;
    case 'count_series':
      return group.series;
    case 'last':
      return group.last;
    case 'min':
      return group.min;
    case 'max':
      return group.max;
    case 'avg':
      return group.sum / group.samples;
  }
  return undefined;
}
