/**
 * `keep_input: false`: the raw series an aggregation rule selects are not forwarded. A
 * pipeline worker's engine runs the pipeline's rules (their output is what gets
 * aggregated) and then these drop rules as forward-only rules, which keep the selected
 * series out of what is forwarded, in the same pass. Each selector becomes one relabel
 * `drop` rule over the matchers' labels joined with a NUL separator, so the regex work
 * stays in the relabel engine's per-string cache.
 */
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import { compilePipeline } from '../pipeline/compile.js';
import type { PipelineConfig, RelabelRule } from '../pipeline/config.js';
import type { CompiledPipeline } from '../pipeline/contracts.js';
import type { SeriesSelector } from '../pipeline/selector.js';

/** Label values cannot hold NUL in practice, so matchers joined by it cannot blur. */
const SEPARATOR = '\u0000';

/** RE2's QuoteMeta: `value` as a regex that matches exactly it. */
export function quoteRe2(value: string): string {
  return value.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** The drop rule equivalent to a selector of `=` and `=~` matchers. */
export function selectorDropRule(selector: SeriesSelector): RelabelRule {
  const parts = selector.matchers.map((matcher) => {
    if (matcher.type === '=') return `(?:${quoteRe2(matcher.value)})`;
    if (matcher.type === '=~') return `(?:${matcher.value})`;
    throw new Error(`selector ${selector.text}: negative matchers cannot drop input`);
  });
  return {
    action: 'drop',
    sourceLabels: selector.matchers.map((matcher) => matcher.name),
    separator: SEPARATOR,
    regex: parts.join('\\x00'),
    targetLabel: '',
    replacement: '$1',
    modulus: 0n,
  };
}

/** Marks a series a `keep_input` rule selects while `drop_input` is in force. */
export const KEEP_MARK_LABEL = '__phoenix_keep_input';

/**
 * The relabel rules that remove aggregated input from what is forwarded. Without
 * `drop_input`: one drop rule per selector of every rule with `keep_input: false`. With
 * `drop_input` on any rule, only series that a `keep_input: true` rule selects survive:
 * each such selector marks its series with {@link KEEP_MARK_LABEL}, a `keep` rule keeps
 * the marked ones, and the mark is removed.
 *
 * The engine keeps a series these rules drop in its main output with the labels it has
 * when dropped, so they must never drop a series they changed: the mark is only set on
 * series the `keep` rule keeps.
 */
export function inputDropRules(rules: readonly AggregationRule[]): RelabelRule[] {
  if (!rules.some((rule) => rule.dropInput === true)) {
    return rules
      .filter((rule) => !rule.keepInput)
      .flatMap((rule) => rule.match.map(selectorDropRule));
  }
  const marks = rules
    .filter((rule) => rule.keepInput)
    .flatMap((rule) => rule.match.map(selectorDropRule))
    .map(
      (drop): RelabelRule => ({
        ...drop,
        action: 'replace',
        targetLabel: KEEP_MARK_LABEL,
        replacement: '1',
      }),
    );
  const rule = (action: RelabelRule['action'], fields: Partial<RelabelRule>): RelabelRule => ({
    action,
    sourceLabels: [],
    separator: ';',
    regex: '(.*)',
    targetLabel: '',
    replacement: '$1',
    modulus: 0n,
    ...fields,
  });
  return [
    ...marks,
    rule('keep', { sourceLabels: [KEEP_MARK_LABEL], regex: '1' }),
    rule('labeldrop', { regex: KEEP_MARK_LABEL }),
  ];
}

/**
 * `pipeline` compiled for a worker's engine: its relabel rules, then the rules that
 * remove aggregated input as forward-only rules, so one pass over a request gives both
 * what is aggregated (the main output) and what is forwarded.
 */
export function compileWithInputDrop(pipeline: PipelineConfig): CompiledPipeline {
  return compilePipeline(pipeline, inputDropRules(pipeline.aggregations ?? []));
}

/** A successful worker answer, with the bytes it carries. */
interface ForwardableResponse {
  readonly unchanged: boolean;
  readonly payload: Uint8Array;
  readonly aggregationInput?: Uint8Array;
}

/**
 * A worker's successful answer whose engine left aggregated input out of `forward` (the
 * result's forward output): `forward` is sent on and the full payload rides along as
 * `aggregationInput`. Without `forward` the answer stays as it is. Returns the answer and
 * the buffers to transfer.
 */
export function withForwardOutput<T extends ForwardableResponse>(
  response: T,
  forward: Uint8Array | undefined,
): { response: T; transfer: ArrayBuffer[] } {
  if (forward === undefined) {
    return { response, transfer: [response.payload.buffer as ArrayBuffer] };
  }
  return {
    response: {
      ...response,
      unchanged: false,
      payload: forward,
      aggregationInput: response.payload,
    },
    transfer: [forward.buffer as ArrayBuffer, response.payload.buffer as ArrayBuffer],
  };
}
