/**
 * `keep_input: false`: the raw series an aggregation rule selects are not forwarded. A
 * pipeline worker runs its rules as usual (that output is what gets aggregated), then a
 * second WebAssembly engine drops the selected series from what is forwarded. Each
 * selector becomes one relabel `drop` rule over the matchers' labels joined with a NUL
 * separator, so the regex work stays in the relabel engine's per-string cache.
 */
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import { compilePipeline } from '../pipeline/compile.js';
import type { PipelineConfig, RelabelRule } from '../pipeline/config.js';
import { PipelineEngine } from '../pipeline/engine.js';
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

/** The second engine of a worker; `apply` is a no-op when no rule drops its input. */
export class InputDropper {
  #engine: PipelineEngine | undefined;
  readonly #limits: { maxDecompressedBytes: number; maxLabelsPerSeries: number };

  private constructor(limits: { maxDecompressedBytes: number; maxLabelsPerSeries: number }) {
    this.#limits = limits;
  }

  static async create(
    pipeline: PipelineConfig | undefined,
    limits: { maxDecompressedBytes: number; maxLabelsPerSeries: number },
  ): Promise<InputDropper> {
    const dropper = new InputDropper(limits);
    await dropper.use(pipeline);
    return dropper;
  }

  /** Switches to the drop rules of `pipeline` (hot reload). */
  async use(pipeline: PipelineConfig | undefined): Promise<void> {
    const rules = inputDropRules(pipeline?.aggregations ?? []);
    if (rules.length === 0) {
      this.#engine = undefined;
      return;
    }
    this.#engine ??= await PipelineEngine.load(this.#limits);
    this.#engine.use(compilePipeline({ relabelConfigs: rules }));
  }

  /**
   * The payload to forward for `payload` (snappy remote write 1.0, a pipeline's output):
   * `undefined` when nothing is dropped, so the caller forwards `payload` itself.
   */
  apply(payload: Uint8Array): Uint8Array | undefined {
    if (this.#engine === undefined) return undefined;
    const result = this.#engine.processRemoteWrite(payload);
    return result.unchanged ? undefined : result.output;
  }
}

/** A successful worker answer, with the bytes it carries. */
interface ForwardableResponse {
  readonly unchanged: boolean;
  readonly payload: Uint8Array;
  readonly aggregationInput?: Uint8Array;
}

/**
 * Applies `dropper` to a worker's successful answer: the forwarded payload loses the
 * selected series and the full output rides along as `aggregationInput`. Returns the
 * answer and the buffers to transfer.
 */
export function withInputDropped<T extends ForwardableResponse>(
  dropper: InputDropper,
  response: T,
): { response: T; transfer: ArrayBuffer[] } {
  const forwarded = dropper.apply(response.payload);
  if (forwarded === undefined) {
    return { response, transfer: [response.payload.buffer as ArrayBuffer] };
  }
  return {
    response: {
      ...response,
      unchanged: false,
      payload: forwarded,
      aggregationInput: response.payload,
    },
    transfer: [forwarded.buffer as ArrayBuffer, response.payload.buffer as ArrayBuffer],
  };
}
