/**
 * Reads an OTLP/HTTP JSON `ExportMetricsServiceRequest` (the protobuf JSON mapping:
 * lowerCamelCase keys, 64-bit integers as strings, enums as numbers; the original
 * snake_case keys and enum names are accepted too) and feeds it to an
 * {@link OtlpRw1Builder}. JSON needs `JSON.parse`, so this path makes objects per point;
 * the binary path does not.
 */

import { prometheusLabelName } from './otlp-names.js';
import type { OtlpDataKind, OtlpRw1Builder } from './otlp-rw1-builder.js';

/** The body is not a valid OTLP JSON request; the message says where. */
export class OtlpJsonError extends Error {
  override readonly name = 'OtlpJsonError';
}

type Json = Record<string, unknown>;

const DATA_KINDS: ReadonlyArray<readonly [OtlpDataKind, string, string]> = [
  ['gauge', 'gauge', 'gauge'],
  ['sum', 'sum', 'sum'],
  ['histogram', 'histogram', 'histogram'],
  ['exponential_histogram', 'exponentialHistogram', 'exponential_histogram'],
  ['summary', 'summary', 'summary'],
];

const TEMPORALITY_NAMES: Readonly<Record<string, number>> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
};

/** Converts one JSON request body. */
export function readOtlpJson(body: Uint8Array, builder: OtlpRw1Builder): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error) {
    throw new OtlpJsonError(`invalid JSON: ${(error as Error).message}`);
  }
  const request = object(parsed, 'request');
  const resources = array(get(request, 'resourceMetrics', 'resource_metrics'), 'resourceMetrics');
  for (const [resourceIndex, entry] of resources.entries()) {
    const where = `resourceMetrics[${resourceIndex}]`;
    const resourceMetrics = object(entry, where);
    builder.beginResource();
    const resource = get(resourceMetrics, 'resource', 'resource');
    if (resource !== undefined) {
      forEachAttribute(object(resource, `${where}.resource`), `${where}.resource`, (k, v) =>
        builder.resourceAttribute(k, v),
      );
    }
    builder.endResourceAttributes();
    const scopes = array(
      get(resourceMetrics, 'scopeMetrics', 'scope_metrics'),
      `${where}.scopeMetrics`,
    );
    for (const [scopeIndex, scopeEntry] of scopes.entries()) {
      const scopeWhere = `${where}.scopeMetrics[${scopeIndex}]`;
      const metrics = array(
        get(object(scopeEntry, scopeWhere), 'metrics', 'metrics'),
        `${scopeWhere}.metrics`,
      );
      for (const [metricIndex, metricEntry] of metrics.entries()) {
        const metricWhere = `${scopeWhere}.metrics[${metricIndex}]`;
        readMetric(object(metricEntry, metricWhere), builder, metricWhere);
      }
    }
    builder.endResource();
  }
}

function readMetric(metric: Json, builder: OtlpRw1Builder, where: string): void {
  const name = text(get(metric, 'name', 'name'), `${where}.name`);
  if (name === '') throw new OtlpJsonError(`${where}: metric without a name`);
  const description = text(get(metric, 'description', 'description'), `${where}.description`);
  const unit = text(get(metric, 'unit', 'unit'), `${where}.unit`);
  for (const [kind, camel, snake] of DATA_KINDS) {
    const data = get(metric, camel, snake);
    if (data === undefined) continue;
    const dataWhere = `${where}.${camel}`;
    const body = object(data, dataWhere);
    const temporality = temporalityOf(
      get(body, 'aggregationTemporality', 'aggregation_temporality'),
      `${dataWhere}.aggregationTemporality`,
    );
    const monotonic = get(body, 'isMonotonic', 'is_monotonic') === true;
    builder.beginMetric(name, description, unit, kind, temporality, monotonic);
    const points = array(get(body, 'dataPoints', 'data_points'), `${dataWhere}.dataPoints`);
    for (const [index, entry] of points.entries()) {
      const pointWhere = `${dataWhere}.dataPoints[${index}]`;
      readPoint(object(entry, pointWhere), kind, builder, pointWhere);
    }
    return;
  }
}

function readPoint(point: Json, kind: OtlpDataKind, builder: OtlpRw1Builder, where: string): void {
  forEachAttribute(point, where, (key, value) => builder.pointAttribute(key, value));
  const timeMs = nanosToMillis(
    get(point, 'timeUnixNano', 'time_unix_nano'),
    `${where}.timeUnixNano`,
  );
  const startTime = get(point, 'startTimeUnixNano', 'start_time_unix_nano');
  if (startTime !== undefined) {
    builder.pointStartTime(nanosToMillis(startTime, `${where}.startTimeUnixNano`));
  }
  const flags = integer(get(point, 'flags', 'flags'), `${where}.flags`);
  if (kind !== 'summary') readExemplars(point, builder, where);
  switch (kind) {
    case 'gauge':
    case 'sum': {
      const asDouble = get(point, 'asDouble', 'as_double');
      const value =
        asDouble !== undefined
          ? float(asDouble, `${where}.asDouble`)
          : integer(get(point, 'asInt', 'as_int'), `${where}.asInt`);
      builder.numberPoint(timeMs, value, flags);
      return;
    }
    case 'histogram':
      builder.histogramPoint(
        timeMs,
        integer(get(point, 'count', 'count'), `${where}.count`),
        optionalFloat(get(point, 'sum', 'sum'), `${where}.sum`),
        numbers(get(point, 'explicitBounds', 'explicit_bounds'), `${where}.explicitBounds`, float),
        numbers(get(point, 'bucketCounts', 'bucket_counts'), `${where}.bucketCounts`, integer),
        flags,
      );
      return;
    case 'exponential_histogram': {
      const positive = buckets(get(point, 'positive', 'positive'), `${where}.positive`);
      const negative = buckets(get(point, 'negative', 'negative'), `${where}.negative`);
      builder.exponentialPoint(
        timeMs,
        integer(get(point, 'count', 'count'), `${where}.count`),
        optionalFloat(get(point, 'sum', 'sum'), `${where}.sum`),
        integer(get(point, 'scale', 'scale'), `${where}.scale`),
        integer(get(point, 'zeroCount', 'zero_count'), `${where}.zeroCount`),
        float(get(point, 'zeroThreshold', 'zero_threshold') ?? 0, `${where}.zeroThreshold`),
        positive.offset,
        positive.counts,
        negative.offset,
        negative.counts,
      );
      return;
    }
    case 'summary': {
      const quantiles: number[] = [];
      array(
        get(point, 'quantileValues', 'quantile_values') ?? [],
        `${where}.quantileValues`,
      ).forEach((entry, index) => {
        const quantile = object(entry, `${where}.quantileValues[${index}]`);
        quantiles.push(
          float(
            get(quantile, 'quantile', 'quantile') ?? 0,
            `${where}.quantileValues[${index}].quantile`,
          ),
          float(get(quantile, 'value', 'value') ?? 0, `${where}.quantileValues[${index}].value`),
        );
      });
      builder.summaryPoint(
        timeMs,
        integer(get(point, 'count', 'count'), `${where}.count`),
        float(get(point, 'sum', 'sum') ?? 0, `${where}.sum`),
        quantiles,
        flags,
      );
      return;
    }
  }
}

/** Exemplars of a point; in OTLP JSON trace and span ids are hex strings. */
function readExemplars(point: Json, builder: OtlpRw1Builder, where: string): void {
  const exemplars = array(get(point, 'exemplars', 'exemplars'), `${where}.exemplars`);
  for (const [index, entry] of exemplars.entries()) {
    const exemplarWhere = `${where}.exemplars[${index}]`;
    const exemplar = object(entry, exemplarWhere);
    const labels: Array<[string, string]> = [];
    for (const [field, camel, snake] of [
      ['trace_id', 'traceId', 'trace_id'],
      ['span_id', 'spanId', 'span_id'],
    ] as const) {
      const id = text(get(exemplar, camel, snake), `${exemplarWhere}.${camel}`);
      if (id !== '') labels.push([field, id.toLowerCase()]);
    }
    forEachAttribute(
      { attributes: get(exemplar, 'filteredAttributes', 'filtered_attributes') },
      `${exemplarWhere}.filtered`,
      (key, value) => labels.push([prometheusLabelName(key), value]),
    );
    const asDouble = get(exemplar, 'asDouble', 'as_double');
    builder.exemplar({
      timeMs: nanosToMillis(
        get(exemplar, 'timeUnixNano', 'time_unix_nano'),
        `${exemplarWhere}.timeUnixNano`,
      ),
      value:
        asDouble !== undefined
          ? float(asDouble, `${exemplarWhere}.asDouble`)
          : integer(get(exemplar, 'asInt', 'as_int'), `${exemplarWhere}.asInt`),
      labels,
    });
  }
}

function buckets(value: unknown, where: string): { offset: number; counts: number[] } {
  if (value === undefined) return { offset: 0, counts: [] };
  const body = object(value, where);
  return {
    offset: integer(get(body, 'offset', 'offset'), `${where}.offset`),
    counts: numbers(get(body, 'bucketCounts', 'bucket_counts'), `${where}.bucketCounts`, integer),
  };
}

function forEachAttribute(
  owner: Json,
  where: string,
  onAttribute: (key: string, value: string) => void,
): void {
  const attributes = get(owner, 'attributes', 'attributes');
  if (attributes === undefined) return;
  array(attributes, `${where}.attributes`).forEach((entry, index) => {
    const keyValue = object(entry, `${where}.attributes[${index}]`);
    const key = text(get(keyValue, 'key', 'key'), `${where}.attributes[${index}].key`);
    const value = get(keyValue, 'value', 'value');
    onAttribute(
      key,
      value === undefined ? '' : anyValueText(object(value, `${where}.attributes[${index}].value`)),
    );
  });
}

/** An AnyValue as label text, the same way the binary reader renders it. */
function anyValueText(value: Json): string {
  if ('stringValue' in value || 'string_value' in value)
    return String(get(value, 'stringValue', 'string_value'));
  if ('boolValue' in value || 'bool_value' in value)
    return get(value, 'boolValue', 'bool_value') === true ? 'true' : 'false';
  if ('intValue' in value || 'int_value' in value)
    return String(get(value, 'intValue', 'int_value'));
  if ('doubleValue' in value || 'double_value' in value)
    return String(Number(get(value, 'doubleValue', 'double_value')));
  if ('bytesValue' in value || 'bytes_value' in value)
    return String(get(value, 'bytesValue', 'bytes_value'));
  const list = get(value, 'arrayValue', 'array_value');
  if (list !== undefined) {
    const values = get(object(list, 'arrayValue'), 'values', 'values');
    return JSON.stringify(
      array(values ?? [], 'arrayValue.values').map((item) =>
        anyValueText(object(item, 'arrayValue.values[]')),
      ),
    );
  }
  const map = get(value, 'kvlistValue', 'kvlist_value');
  if (map !== undefined) {
    const entries: Record<string, string> = {};
    forEachAttribute(
      { attributes: get(object(map, 'kvlistValue'), 'values', 'values') ?? [] },
      'kvlistValue',
      (k, v) => {
        entries[k] = v;
      },
    );
    return JSON.stringify(entries);
  }
  return '';
}

function get(owner: Json, camel: string, snake: string): unknown {
  const value = owner[camel];
  return value !== undefined ? value : owner[snake];
}

function object(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OtlpJsonError(`${where}: expected an object`);
  }
  return value as Json;
}

function array(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new OtlpJsonError(`${where}: expected an array`);
  return value;
}

function text(value: unknown, where: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new OtlpJsonError(`${where}: expected a string`);
  return value;
}

/** 64-bit integers come as strings (or numbers from lenient senders). */
function integer(value: unknown, where: string): number {
  if (value === undefined || value === null) return 0;
  const parsed = typeof value === 'string' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isInteger(parsed)) {
    throw new OtlpJsonError(`${where}: expected an integer, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

/** Doubles: numbers, or the strings "NaN", "Infinity", "-Infinity". */
function float(value: unknown, where: string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)))
    return Number(value);
  throw new OtlpJsonError(`${where}: expected a number, got ${JSON.stringify(value)}`);
}

function optionalFloat(value: unknown, where: string): number | undefined {
  return value === undefined || value === null ? undefined : float(value, where);
}

function numbers(
  value: unknown,
  where: string,
  parse: (item: unknown, where: string) => number,
): number[] {
  return array(value, where).map((item, index) => parse(item, `${where}[${index}]`));
}

function temporalityOf(value: unknown, where: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'string' && value in TEMPORALITY_NAMES) return TEMPORALITY_NAMES[value]!;
  const number = integer(value, where);
  if (number < 0 || number > 2)
    throw new OtlpJsonError(`${where}: unknown aggregation temporality ${number}`);
  return number;
}

/** Nanosecond timestamps as strings → whole milliseconds, without losing digits. */
function nanosToMillis(value: unknown, where: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') return Math.floor(value / 1e6);
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) {
    throw new OtlpJsonError(
      `${where}: expected nanoseconds as a decimal string, got ${JSON.stringify(value)}`,
    );
  }
  return value.length <= 6 ? 0 : Number(value.slice(0, -6));
}
