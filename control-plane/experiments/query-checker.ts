/**
 * What the experiment engine needs of the query-safety analysis (proxy/queries): the
 * static verdict of each query against the candidate, and a comparison of live answers.
 */
import type {
  LiveVerdict,
  QueryCheck,
  QuerySources,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';

export interface LiveComparison {
  readonly queries: readonly string[];
  readonly baselineUrl: string;
  readonly candidateUrl: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Relative tolerance; 0 for the default. */
  readonly tolerance: number;
}

export interface LiveAnswer {
  readonly live: LiveVerdict;
  readonly divergence: number;
  readonly detail: string;
}

export interface QueryChecker {
  /**
   * One check per query of `sources` against the candidate config. Throws a
   * `ConnectError` (`invalid_argument`) naming the source when one does not load.
   */
  checkStatic(candidateConfigYaml: string, sources: QuerySources | undefined): QueryCheck[];
  /** How far back `query` reads (longest range plus offset), ms; 0 when unknown. */
  lookBackMs(query: string): number;
  /** Live verdicts by query text. */
  compareLive(comparison: LiveComparison): Promise<Map<string, LiveAnswer>>;
}
