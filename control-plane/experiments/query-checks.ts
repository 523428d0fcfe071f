/**
 * The {@link QueryChecker} of the control plane, over the query-safety analysis of
 * proxy/queries (a pure module like the pipeline model): sources as the API carries them
 * (texts, not files), the static verdicts, and the live comparison of answers.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  LiveVerdict,
  type QueryCheck,
  QueryCheckSchema,
  type QuerySources,
  QueryVerdict,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import { parsePipelineConfig } from '../../proxy/pipeline/load.js';
import { compareLive, type LiveComparison } from '../../proxy/queries/live-compare.js';
import { lookBackMs } from '../../proxy/queries/query-ranges.js';
import { checkQueries, type QuerySafetyResult } from '../../proxy/queries/query-safety.js';
import {
  parseDashboard,
  parseQueryList,
  parseRuleFile,
  QuerySourceError,
  type SourcedQuery,
} from '../../proxy/queries/query-sources.js';
import { DEFAULT_MAX_DIVERGENCE } from './guardrails.js';
import type { LiveAnswer, QueryChecker } from './query-checker.js';

const VERDICTS = {
  safe: QueryVerdict.SAFE,
  changed: QueryVerdict.CHANGED,
  broken: QueryVerdict.BROKEN,
  invalid: QueryVerdict.INVALID,
} as const;

/** Every query of the sources, with where it came from; refuses a source that does not load. */
export function sourcedQueries(sources: QuerySources | undefined): SourcedQuery[] {
  if (sources === undefined) return [];
  try {
    return [
      ...sources.ruleFiles.flatMap((file, index) =>
        parseRuleFile(file.content, file.name === '' ? `rule_files[${index}]` : file.name),
      ),
      ...sources.dashboards.flatMap((file, index) =>
        parseDashboard(file.content, file.name === '' ? `dashboards[${index}]` : file.name),
      ),
      ...(sources.promql.length === 0 ? [] : parseQueryList(sources.promql.join('\n'), 'promql')),
    ];
  } catch (error) {
    if (error instanceof QuerySourceError) {
      throw new ConnectError(`queries: ${error.message}`, Code.InvalidArgument);
    }
    throw error;
  }
}

function originText(result: QuerySafetyResult): string {
  const origin = result.origin;
  if (origin === undefined) return '';
  return origin.location === '' ? origin.file : `${origin.file}: ${origin.location}`;
}

function reasonText(result: QuerySafetyResult): string {
  if (result.verdict === 'invalid') return result.error ?? 'does not parse';
  if (result.findings.length === 0) return 'reads nothing the pipeline removes';
  return result.findings.map((finding) => finding.reason).join('; ');
}

function toCheck(result: QuerySafetyResult): QueryCheck {
  return create(QueryCheckSchema, {
    query: result.query,
    origin: originText(result),
    verdict: VERDICTS[result.verdict],
    reason: reasonText(result),
    live: LiveVerdict.UNSPECIFIED,
  });
}

export const queryChecks: QueryChecker = {
  checkStatic(candidateConfigYaml, sources) {
    const pipeline = parsePipelineConfig(candidateConfigYaml, 'candidate');
    return checkQueries(pipeline, sourcedQueries(sources)).map(toCheck);
  },

  lookBackMs(query) {
    try {
      return lookBackMs(query);
    } catch {
      return 0;
    }
  },

  async compareLive(comparison) {
    const tolerance = comparison.tolerance > 0 ? comparison.tolerance : DEFAULT_MAX_DIVERGENCE;
    const windowSeconds = Math.max(1, (comparison.endMs - comparison.startMs) / 1000);
    const results = await compareLive({
      baselineUrl: comparison.baselineUrl,
      candidateUrl: comparison.candidateUrl,
      queries: [...comparison.queries],
      startSeconds: comparison.startMs / 1000,
      endSeconds: comparison.endMs / 1000,
      // About 60 points over the window, never finer than a second.
      stepSeconds: Math.max(1, Math.round(windowSeconds / 60)),
      relativeTolerance: tolerance,
    });
    const answers = new Map<string, LiveAnswer>();
    for (const result of results) answers.set(result.query, liveAnswer(result));
    return answers;
  },
};

function liveAnswer(result: LiveComparison): LiveAnswer {
  switch (result.status) {
    case 'match':
      return {
        live: LiveVerdict.MATCH,
        divergence: 0,
        detail: `${result.series} series, ${result.points} points equal within tolerance`,
      };
    case 'diverged': {
      const worst = result.worst;
      return {
        live: LiveVerdict.DIVERGED,
        divergence: result.maxRelativeDivergence,
        detail: `${result.divergedSeries.length} series differ; worst ${worst.series}: ${worst.baselineValue ?? 'missing'} vs ${worst.candidateValue ?? 'missing'}`,
      };
    }
    case 'error':
      return {
        live: LiveVerdict.ERROR,
        divergence: 0,
        detail: `${result.side}: ${result.message}`,
      };
    case 'no_data':
      return { live: LiveVerdict.NO_DATA, divergence: 0, detail: 'no data on either side' };
  }
}
