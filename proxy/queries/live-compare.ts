/**
 * Runs the same PromQL over a time window against two Prometheus-compatible query APIs
 * (a baseline, e.g. the backend fed by the active pipeline, and a candidate, e.g. a shadow
 * upstream fed by the candidate pipeline) and compares the answers series by series and
 * point by point. The experiment engine uses it to show that a candidate pipeline keeps
 * the answers people depend on.
 */
import { fetch } from 'undici';
import type { QueryOrigin, SourcedQuery } from './query-sources.js';

/** What to compare. */
export interface LiveCompareOptions {
  /** Base URL of the baseline query API (`http://prometheus:9090`, or Mimir's `/prometheus`). */
  readonly baselineUrl: string;
  /** Base URL of the candidate query API. */
  readonly candidateUrl: string;
  readonly queries: readonly (SourcedQuery | string)[];
  /** Window start and end, seconds since the epoch. */
  readonly startSeconds: number;
  readonly endSeconds: number;
  readonly stepSeconds: number;
  /**
   * Largest relative difference `|a − b| ÷ max(|a|, |b|)` still counted as equal, e.g.
   * 0.01 for 1 %.
   */
  readonly relativeTolerance: number;
  /** Per request. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Queries in flight at once (each runs on both sides). Default 4. */
  readonly concurrency?: number;
}

/** Where two answers differ most. */
export interface Divergence {
  /** `{job="api", pod="a"}`: the series (label set) where the divergence is largest. */
  readonly series: string;
  /** Seconds since the epoch; undefined when the whole series is missing on one side. */
  readonly timestampSeconds: number | undefined;
  readonly baselineValue: number | undefined;
  readonly candidateValue: number | undefined;
}

interface ComparisonBase {
  readonly query: string;
  readonly origin: QueryOrigin | undefined;
}

export type LiveComparison =
  | (ComparisonBase & {
      readonly status: 'match';
      readonly series: number;
      readonly points: number;
    })
  | (ComparisonBase & {
      readonly status: 'diverged';
      /** Largest relative divergence; 1 for a point or series present on one side only. */
      readonly maxRelativeDivergence: number;
      readonly worst: Divergence;
      /** Label sets whose values differ beyond the tolerance or that exist on one side only. */
      readonly divergedSeries: readonly string[];
      readonly onlyInBaseline: readonly string[];
      readonly onlyInCandidate: readonly string[];
    })
  | (ComparisonBase & {
      readonly status: 'error';
      readonly side: 'baseline' | 'candidate' | 'both';
      readonly message: string;
    })
  | (ComparisonBase & { readonly status: 'no_data' });

type Matrix = Map<string, Map<number, number>>;

class QueryApiError extends Error {}

/** Checks the options; the messages name the field. */
function checkOptions(options: LiveCompareOptions): void {
  for (const field of ['baselineUrl', 'candidateUrl'] as const) {
    try {
      new URL(options[field]);
    } catch {
      throw new RangeError(`${field} ${JSON.stringify(options[field])} is not a URL`);
    }
  }
  if (!(options.endSeconds >= options.startSeconds)) {
    throw new RangeError(
      `endSeconds ${options.endSeconds} must be >= startSeconds ${options.startSeconds}`,
    );
  }
  if (!(options.stepSeconds > 0))
    throw new RangeError(`stepSeconds ${options.stepSeconds} must be > 0`);
  if (!(options.relativeTolerance >= 0)) {
    throw new RangeError(`relativeTolerance ${options.relativeTolerance} must be >= 0`);
  }
}

/** Compares every query; results are in the order of `options.queries`. */
export async function compareLive(options: LiveCompareOptions): Promise<LiveComparison[]> {
  checkOptions(options);
  const results: LiveComparison[] = new Array(options.queries.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.queries.length) {
      const index = next++;
      results[index] = await compareOne(options, options.queries[index]!);
    }
  };
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 4, options.queries.length));
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

async function compareOne(
  options: LiveCompareOptions,
  item: SourcedQuery | string,
): Promise<LiveComparison> {
  const query = typeof item === 'string' ? item : item.query;
  const base: ComparisonBase = {
    query,
    origin: typeof item === 'string' ? undefined : item.origin,
  };
  const [baseline, candidate] = await Promise.allSettled([
    queryRange(options.baselineUrl, query, options),
    queryRange(options.candidateUrl, query, options),
  ]);
  if (baseline.status === 'rejected' || candidate.status === 'rejected') {
    const message = (result: PromiseSettledResult<Matrix>): string =>
      result.status === 'rejected' ? errorMessage(result.reason) : '';
    if (baseline.status === 'rejected' && candidate.status === 'rejected') {
      const baselineMessage = message(baseline);
      const candidateMessage = message(candidate);
      return {
        ...base,
        status: 'error',
        side: 'both',
        message:
          baselineMessage === candidateMessage
            ? baselineMessage
            : `baseline: ${baselineMessage}; candidate: ${candidateMessage}`,
      };
    }
    const side = baseline.status === 'rejected' ? 'baseline' : 'candidate';
    return {
      ...base,
      status: 'error',
      side,
      message: message(side === 'baseline' ? baseline : candidate),
    };
  }
  return compareMatrices(base, baseline.value, candidate.value, options.relativeTolerance);
}

function errorMessage(error: unknown): string {
  if (error instanceof QueryApiError) return error.message;
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** Runs `/api/v1/query_range`; rejects with the API's error or the transport's. */
async function queryRange(
  baseUrl: string,
  query: string,
  options: LiveCompareOptions,
): Promise<Matrix> {
  const url = `${baseUrl.replace(/\/+$/, '')}/api/v1/query_range`;
  const body = new URLSearchParams({
    query,
    start: String(options.startSeconds),
    end: String(options.endSeconds),
    step: String(options.stepSeconds),
  });
  const response = await fetch(url, {
    method: 'POST',
    body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  let parsed: {
    status?: string;
    error?: string;
    errorType?: string;
    data?: { resultType?: string; result?: unknown };
  };
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new QueryApiError(
      `HTTP ${response.status}: ${text.slice(0, 200).trim() || 'empty body'}`,
    );
  }
  if (parsed.status !== 'success') {
    throw new QueryApiError(
      `HTTP ${response.status} ${parsed.errorType ?? 'error'}: ${parsed.error ?? text.slice(0, 200)}`,
    );
  }
  const result = parsed.data?.result;
  if (parsed.data?.resultType !== 'matrix' || !Array.isArray(result)) {
    throw new QueryApiError(
      `expected a matrix result, got ${parsed.data?.resultType ?? 'nothing'}`,
    );
  }
  const matrix: Matrix = new Map();
  for (const entry of result as { metric: Record<string, string>; values?: [number, string][] }[]) {
    const points = new Map<number, number>();
    for (const [timestamp, value] of entry.values ?? []) points.set(timestamp, Number(value));
    matrix.set(labelSetText(entry.metric), points);
  }
  return matrix;
}

/** `{a="1", b="2"}` with names sorted: the key series are matched by. */
export function labelSetText(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  return `{${pairs.join(', ')}}`;
}

/** `|a − b| ÷ max(|a|, |b|)`: 0 for equal values (NaN equals NaN), 1 when one is missing. */
export function relativeDivergence(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : 1;
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : 1;
  if (a === b) return 0;
  const scale = Math.max(Math.abs(a), Math.abs(b));
  return Math.abs(a - b) / scale;
}

function compareMatrices(
  base: ComparisonBase,
  baseline: Matrix,
  candidate: Matrix,
  tolerance: number,
): LiveComparison {
  if (baseline.size === 0 && candidate.size === 0) return { ...base, status: 'no_data' };
  const onlyInBaseline = [...baseline.keys()].filter((key) => !candidate.has(key)).sort();
  const onlyInCandidate = [...candidate.keys()].filter((key) => !baseline.has(key)).sort();
  const divergedSeries: string[] = [];
  let worst: Divergence | undefined;
  let maxDivergence = 0;
  let points = 0;
  for (const series of [...new Set([...baseline.keys(), ...candidate.keys()])].sort()) {
    const left = baseline.get(series);
    const right = candidate.get(series);
    if (left === undefined || right === undefined) {
      divergedSeries.push(series);
      if (maxDivergence < 1 || worst === undefined) {
        maxDivergence = 1;
        worst = {
          series,
          timestampSeconds: undefined,
          baselineValue: undefined,
          candidateValue: undefined,
        };
      }
      continue;
    }
    let diverged = false;
    for (const timestamp of [...new Set([...left.keys(), ...right.keys()])].sort((a, b) => a - b)) {
      points++;
      const divergence = relativeDivergence(left.get(timestamp), right.get(timestamp));
      if (divergence <= tolerance) continue;
      diverged = true;
      if (divergence > maxDivergence) {
        maxDivergence = divergence;
        worst = {
          series,
          timestampSeconds: timestamp,
          baselineValue: left.get(timestamp),
          candidateValue: right.get(timestamp),
        };
      }
    }
    if (diverged) divergedSeries.push(series);
  }
  if (worst === undefined) return { ...base, status: 'match', series: baseline.size, points };
  return {
    ...base,
    status: 'diverged',
    maxRelativeDivergence: maxDivergence,
    worst,
    divergedSeries,
    onlyInBaseline,
    onlyInCandidate,
  };
}
