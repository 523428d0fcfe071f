/**
 * Merges the per-arm reports of every proxy into one result per arm, and derives what an
 * operator decides on: series reduction, monthly cost, and the series groups the candidate
 * removes.
 */
import { create } from '@bufbuild/protobuf';
import {
  type ArmResults,
  ArmResultsSchema,
  type Pricing,
  type RemovedGroup,
  RemovedGroupSchema,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import type { ArmReport } from '../../proto/gen/phoenix/v1/proxy_pb.js';

/** Default prices: a typical hosted-metrics list price per 1k active series per month. */
export const DEFAULT_PRICE_PER_THOUSAND_SERIES = 8;
const SECONDS_PER_MONTH = 30 * 24 * 3600;

/** What the merge needs of a series sketch (see proxy/cardinality). */
export interface SeriesSketches {
  /** The union of `sketches` (serialized), serialized; empty input gives an empty sketch. */
  merge(sketches: readonly Uint8Array[]): Uint8Array;
  /** Estimated distinct series in a serialized sketch. */
  count(sketch: Uint8Array): number;
  /** Per metric name: estimated series and the label names seen. */
  metrics(sketch: Uint8Array): Map<string, { series: number; labels: readonly string[] }>;
}

/** One arm merged over proxies, with its merged output sketch for the removed groups. */
export interface MergedArm {
  readonly results: ArmResults;
  readonly outputSketch: Uint8Array;
  /** Longest time any proxy ran the arm, s. */
  readonly seconds: number;
}

function sumRuleHits(reports: readonly ArmReport[]): bigint[] {
  const hits: bigint[] = [];
  for (const report of reports) {
    report.ruleHits.forEach((value, index) => {
      hits[index] = (hits[index] ?? 0n) + value;
    });
  }
  return hits.map((value) => value ?? 0n);
}

export function mergeArm(
  reports: readonly ArmReport[],
  sketches: SeriesSketches,
  pricing: Pricing | undefined,
): MergedArm {
  let samplesIn = 0n;
  let samplesOut = 0n;
  let bytesOut = 0n;
  let pipelineNs = 0n;
  let seconds = 0;
  for (const report of reports) {
    samplesIn += report.samplesIn;
    samplesOut += report.samplesOut;
    bytesOut += report.bytesOut;
    pipelineNs += report.pipelineNs;
    seconds = Math.max(seconds, report.seconds);
  }
  const inputSketch = sketches.merge(reports.map((report) => report.inputSketch));
  const outputSketch = sketches.merge(reports.map((report) => report.outputSketch));
  const seriesIn = Math.round(sketches.count(inputSketch));
  const seriesOut = Math.round(sketches.count(outputSketch));
  const samplesPerSecond = seconds > 0 ? Number(samplesIn) / seconds : 0;
  const results = create(ArmResultsSchema, {
    seriesIn: BigInt(seriesIn),
    seriesOut: BigInt(seriesOut),
    samplesIn,
    samplesOut,
    bytesOut,
    samplesPerSecond,
    bytesPerSecond: seconds > 0 ? Number(bytesOut) / seconds : 0,
    cpuNsPerSample: samplesIn > 0n ? Number(pipelineNs) / Number(samplesIn) : 0,
    ruleHits: sumRuleHits(reports),
    monthlyCost: monthlyCost(seriesOut, seconds > 0 ? Number(samplesOut) / seconds : 0, pricing),
  });
  return { results, outputSketch, seconds };
}

/** Cost of `series` active series and `samplesPerSecond` ingested, per month. */
export function monthlyCost(
  series: number,
  samplesPerSecond: number,
  pricing: Pricing | undefined,
): number {
  const perThousand =
    pricing?.perThousandSeries !== undefined && pricing.perThousandSeries > 0
      ? pricing.perThousandSeries
      : DEFAULT_PRICE_PER_THOUSAND_SERIES;
  const perMillionSamples = pricing?.perMillionSamples ?? 0;
  return (
    (series / 1000) * perThousand +
    ((samplesPerSecond * SECONDS_PER_MONTH) / 1_000_000) * perMillionSamples
  );
}

/**
 * How many fewer output series the candidate makes, in percent. Output per input series
 * is compared, so a split experiment (whose arms see different shares of the series) is
 * judged like a shadow one. 0 while either arm has seen nothing.
 */
export function reductionPercent(baseline: ArmResults, candidate: ArmResults): number {
  const baselineRatio =
    Number(baseline.seriesIn) > 0 ? Number(baseline.seriesOut) / Number(baseline.seriesIn) : 0;
  const candidateRatio =
    Number(candidate.seriesIn) > 0 ? Number(candidate.seriesOut) / Number(candidate.seriesIn) : 0;
  if (baselineRatio === 0 || Number(candidate.seriesIn) === 0) return 0;
  return (1 - candidateRatio / baselineRatio) * 100;
}

/**
 * Metrics with fewer series in the candidate's direct output than in the baseline's, most
 * removed first, with the label names the candidate no longer sends for them.
 */
export function removedGroups(
  baseline: Uint8Array,
  candidate: Uint8Array,
  sketches: SeriesSketches,
  limit = 20,
): RemovedGroup[] {
  const before = sketches.metrics(baseline);
  const after = sketches.metrics(candidate);
  const groups: RemovedGroup[] = [];
  for (const [metric, base] of before) {
    const cand = after.get(metric);
    const candidateSeries = cand?.series ?? 0;
    if (candidateSeries >= base.series) continue;
    const kept = new Set(cand?.labels ?? []);
    groups.push(
      create(RemovedGroupSchema, {
        metric,
        droppedLabels: cand === undefined ? [] : base.labels.filter((label) => !kept.has(label)),
        baselineSeries: BigInt(Math.round(base.series)),
        candidateSeries: BigInt(Math.round(candidateSeries)),
      }),
    );
  }
  groups.sort(
    (a, b) =>
      Number(b.baselineSeries - b.candidateSeries) - Number(a.baselineSeries - a.candidateSeries),
  );
  return groups.slice(0, limit);
}
