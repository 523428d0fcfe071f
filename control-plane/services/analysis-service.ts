/**
 * `phoenix.v1.AnalysisService`: live cardinality merged over every proxy's reports.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import {
  type AnalysisService,
  type MetricCardinality,
  MetricCardinalitySchema,
} from '../../proto/gen/phoenix/v1/analysis_pb.js';
import { viewFromProto } from '../../proxy/cardinality/cardinality-proto.js';
import type { MetricEstimate } from '../../proxy/cardinality/cardinality-summary.js';
import type { CardinalityReports } from './cardinality-reports.js';
import { connectErrors } from './connect-errors.js';
import { recommendFromCardinality } from './recommend-rpc.js';

/** Entries returned when a request's limit is 0. */
const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 10_000;

function checkLimit(limit: number): number {
  if (limit > MAX_LIMIT) {
    throw new ConnectError(`limit ${limit} must be <= ${MAX_LIMIT}`, Code.InvalidArgument);
  }
  return limit === 0 ? DEFAULT_LIMIT : limit;
}

function metricMessage(metric: MetricEstimate): MetricCardinality {
  return create(MetricCardinalitySchema, {
    name: metric.name,
    other: metric.other,
    activeSeries: BigInt(metric.activeSeries),
    newSeries: BigInt(metric.newSeries),
    samples: metric.samples,
  });
}

function windowOf(reports: CardinalityReports): { windowStartMs: bigint; windowMs: bigint } {
  const windows = reports.windows();
  const latest = windows.reduce(
    (newest, window) => (window.windowStartMs > newest.windowStartMs ? window : newest),
    { windowStartMs: 0, windowMs: 0 },
  );
  return { windowStartMs: BigInt(latest.windowStartMs), windowMs: BigInt(latest.windowMs) };
}

export interface AnalysisServiceOptions {
  readonly reports: CardinalityReports;
}

export function analysisServiceImpl(
  options: AnalysisServiceOptions,
): ServiceImpl<typeof AnalysisService> {
  const { reports } = options;
  return {
    topMetrics: (request) =>
      connectErrors(async () => {
        const limit = checkLimit(request.limit);
        const summary = reports.summary(viewFromProto(request.view));
        return {
          metrics: summary.metrics().slice(0, limit).map(metricMessage),
          totalSeries: BigInt(summary.headStats().numSeries),
          ...windowOf(reports),
          proxies: reports.proxyCount(),
        };
      }),

    topLabels: (request) =>
      connectErrors(async () => {
        const limit = checkLimit(request.limit);
        const summary = reports.summary(viewFromProto(request.view));
        const metric = request.metric === '' ? undefined : request.metric;
        const activeSeries =
          metric === undefined
            ? summary.headStats().numSeries
            : summary.metrics().find((candidate) => candidate.name === metric)?.activeSeries;
        if (activeSeries === undefined) {
          throw new ConnectError(
            `no series of metric ${JSON.stringify(metric)} were reported`,
            Code.NotFound,
          );
        }
        return {
          metric: request.metric,
          activeSeries: BigInt(activeSeries),
          labels: summary
            .labels(metric)
            .slice(0, limit)
            .map((label) => ({
              name: label.name,
              distinctValues: BigInt(label.distinctValues),
              valueBytes: BigInt(label.valueBytes),
              series: BigInt(label.series),
            })),
          pairs: summary
            .pairs(metric)
            .slice(0, limit)
            .map((pair) => ({
              label: pair.label,
              value: pair.value,
              series: BigInt(pair.series),
              maxOverestimate: BigInt(pair.maxOverestimate),
            })),
        };
      }),

    churn: (request) =>
      connectErrors(async () => {
        const limit = checkLimit(request.limit);
        const summary = reports.summary(viewFromProto(request.view));
        const metrics = summary
          .metrics()
          .sort((a, b) => b.newSeries - a.newSeries || b.activeSeries - a.activeSeries)
          .slice(0, limit);
        return { metrics: metrics.map(metricMessage), ...windowOf(reports) };
      }),

    recommend: (request) =>
      connectErrors(async () => recommendFromCardinality(request, reports.summary('input'))),
  };
}
