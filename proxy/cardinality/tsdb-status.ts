/**
 * `GET /api/v1/status/tsdb` in the shape Prometheus serves it, so tools written for
 * Prometheus (Grafana's cardinality views, scripts using the HTTP API) read a Phoenix proxy
 * or control plane the same way. Field names and types were checked against Prometheus
 * 2.42; `?limit=N` (default 10, like later Prometheus releases) and `?view=input|output`
 * (default `output`: what the upstream stores) are Phoenix's additions.
 */
import {
  CARDINALITY_VIEWS,
  type CardinalitySummary,
  type CardinalityView,
  type HeadStats,
} from './cardinality-summary.js';

/** Entries per list when `limit` is not given, as in Prometheus. */
export const DEFAULT_TSDB_STATUS_LIMIT = 10;
/** Largest `limit` accepted. */
export const MAX_TSDB_STATUS_LIMIT = 10_000;
/** Path of the endpoint on the proxy and the control plane. */
export const TSDB_STATUS_PATH = '/api/v1/status/tsdb';

interface NameValue {
  readonly name: string;
  readonly value: number;
}

export interface TsdbStatusData {
  readonly headStats: HeadStats;
  readonly seriesCountByMetricName: NameValue[];
  readonly labelValueCountByLabelName: NameValue[];
  readonly memoryInBytesByLabelName: NameValue[];
  readonly seriesCountByLabelValuePair: NameValue[];
}

/** The parsed query of a request. */
export interface TsdbStatusQuery {
  readonly limit: number;
  readonly view: CardinalityView;
}

/** An HTTP answer: status and JSON body, as Prometheus' API writes errors. */
export interface TsdbStatusAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * Parses `limit` and `view` from a query string (`limit=5&view=input`); returns a 400
 * answer for a bad value.
 */
export function parseTsdbStatusQuery(queryString: string): TsdbStatusQuery | TsdbStatusAnswer {
  const params = new URLSearchParams(queryString);
  let limit = DEFAULT_TSDB_STATUS_LIMIT;
  const limitText = params.get('limit');
  if (limitText !== null && limitText !== '') {
    const parsed = Number(limitText);
    if (!Number.isInteger(parsed) || parsed < 1 || parsed > MAX_TSDB_STATUS_LIMIT) {
      return badData(
        `limit ${JSON.stringify(limitText)} must be an integer in [1, ${MAX_TSDB_STATUS_LIMIT}]`,
      );
    }
    limit = parsed;
  }
  const viewText = params.get('view') ?? 'output';
  if (!(CARDINALITY_VIEWS as readonly string[]).includes(viewText)) {
    return badData(`view ${JSON.stringify(viewText)} must be input or output`);
  }
  return { limit, view: viewText as CardinalityView };
}

function badData(message: string): TsdbStatusAnswer {
  return {
    status: 400,
    body: JSON.stringify({ status: 'error', errorType: 'bad_data', error: message }),
  };
}

/** The `data` object of the answer. */
export function tsdbStatusData(summary: CardinalitySummary, limit: number): TsdbStatusData {
  const labels = summary.labels();
  return {
    headStats: summary.headStats(),
    seriesCountByMetricName: summary
      .metrics()
      .slice(0, limit)
      .map((metric) => ({ name: metric.name, value: metric.activeSeries })),
    labelValueCountByLabelName: labels
      .slice(0, limit)
      .map((label) => ({ name: label.name, value: label.distinctValues })),
    memoryInBytesByLabelName: [...labels]
      .sort((a, b) => b.valueBytes - a.valueBytes || (a.name < b.name ? -1 : 1))
      .slice(0, limit)
      .map((label) => ({ name: label.name, value: label.valueBytes })),
    seriesCountByLabelValuePair: summary
      .pairs()
      .slice(0, limit)
      .map((pair) => ({ name: `${pair.label}=${pair.value}`, value: pair.series })),
  };
}

/** The whole answer for a query string, from a summary builder for the asked view. */
export function tsdbStatusAnswer(
  queryString: string,
  summaryFor: (view: CardinalityView) => CardinalitySummary,
): TsdbStatusAnswer {
  const query = parseTsdbStatusQuery(queryString);
  if ('status' in query) return query;
  const data = tsdbStatusData(summaryFor(query.view), query.limit);
  return { status: 200, body: JSON.stringify({ status: 'success', data }) };
}
