/**
 * What a PromQL query depends on, read from the lezer-promql syntax tree: every selector
 * (metric name, label matchers), the labels each selector's series must keep for the
 * answer to stay the same, the aggregation that first combines its series, vector
 * matching and `label_replace`/`label_join`. Grafana template variables are substituted
 * first (grafana-template.ts). A query that does not parse is returned as a failure with
 * the parser's position, never thrown.
 */
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import {
  substituteTemplateVariables,
  TEMPLATE_VARIABLE,
  type TemplatedQuery,
} from './grafana-template.js';
import {
  ALL_LABELS,
  allLabelsExcept,
  type LabelNeed,
  NO_LABELS,
  onlyLabels,
  unionNeeds,
} from './label-need.js';

export type MatchOperator = '=' | '!=' | '=~' | '!~';

/** One label matcher of a selector, with template variables restored. */
export interface QueryMatcher {
  readonly name: string;
  readonly op: MatchOperator;
  readonly value: string;
  /** The value holds a template variable, so what it matches is not known statically. */
  readonly templated: boolean;
}

/**
 * The aggregation (or other operation) that first combines several series of a selector
 * into one, and the functions and operators applied between the selector and it.
 */
export interface SeriesReducer {
  /** `sum`, `count`, `topk`, ... or `absent`, `scalar`. */
  readonly op: string;
  /** Index into {@link QueryUsage.aggregations}; absent for `absent`/`scalar`. */
  readonly aggregation: number | undefined;
  /** Innermost first: e.g. `['rate']` for `sum(rate(x[5m]))`, `['>']` for `count(x > 1)`. */
  readonly appliedBefore: readonly string[];
}

/** One vector or matrix selector. */
export interface SelectorUsage {
  /** The selector as written (template variables restored). */
  readonly text: string;
  /** The metric name when the selector names exactly one (`foo`, `{__name__="foo"}`). */
  readonly metricName: string | undefined;
  /** Matchers on `__name__`, including the metric name written before the braces. */
  readonly nameMatchers: readonly QueryMatcher[];
  /** Matchers on every other label. */
  readonly labelMatchers: readonly QueryMatcher[];
  /** Read as a range (`foo[5m]`) rather than an instant vector. */
  readonly range: boolean;
  /** The metric name is a template variable (`$metric`). */
  readonly templatedName: boolean;
  /**
   * Labels of the selected series that the answer depends on besides the matchers: the
   * grouping labels of the aggregation above, the matching labels of a binary operation,
   * or every label when the series reach the result unaggregated (a panel shows them, a
   * recording rule stores them, an alert carries them).
   */
  readonly needs: LabelNeed;
  /** The first operation that combines this selector's series; undefined when none does. */
  readonly reducer: SeriesReducer | undefined;
  /**
   * Functions and operators applied to the series before {@link reducer} (or before the
   * result when there is none), innermost first: `['rate']` for `rate(x[5m])`.
   */
  readonly applied: readonly string[];
}

/** One aggregation expression (`sum by (job) (...)`). */
export interface AggregationUsage {
  readonly op: string;
  readonly by: readonly string[] | undefined;
  readonly without: readonly string[] | undefined;
  /** `count_values`' output label; absent for other operators. */
  readonly outputLabel?: string;
  /** Indices into {@link QueryUsage.selectors} of every selector in its body. */
  readonly selectors: readonly number[];
}

/** One binary operation between two vectors with `on`/`ignoring` or `group_left/right`. */
export interface VectorMatchingUsage {
  readonly op: string;
  readonly on: readonly string[] | undefined;
  readonly ignoring: readonly string[] | undefined;
  readonly group: 'left' | 'right' | undefined;
  /** Labels `group_left(...)`/`group_right(...)` copy from the "one" side. */
  readonly include: readonly string[];
}

/** A `label_replace` or `label_join` call. */
export interface LabelFunctionUsage {
  readonly function: 'label_replace' | 'label_join';
  readonly destination: string;
  readonly sources: readonly string[];
}

/** A query that parsed, and what it depends on. */
export interface QueryUsage {
  readonly ok: true;
  readonly query: string;
  readonly selectors: readonly SelectorUsage[];
  readonly aggregations: readonly AggregationUsage[];
  readonly vectorMatching: readonly VectorMatchingUsage[];
  readonly labelFunctions: readonly LabelFunctionUsage[];
  /** Grafana template variables found, as written. */
  readonly templateVariables: readonly string[];
}

/** A query that did not parse. */
export interface QueryParseFailure {
  readonly ok: false;
  readonly query: string;
  /** `unexpected "(" at line 1, column 4`. */
  readonly error: string;
  /** 0-based offset of the problem in the query as written. */
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

export type QueryAnalysis = QueryUsage | QueryParseFailure;

/** Aggregations whose output carries the input series' labels rather than the grouping. */
const SERIES_PRESERVING_AGGREGATIONS = new Set(['topk', 'bottomk', 'limitk', 'limit_ratio']);
/** Aggregations with a parameter before the vector. */
const PARAMETER_AGGREGATIONS = new Set([
  'topk',
  'bottomk',
  'limitk',
  'limit_ratio',
  'quantile',
  'count_values',
]);
/** Functions whose extra arguments are label names the result depends on. */
const LABEL_ARGUMENT_FUNCTIONS = new Set(['sort_by_label', 'sort_by_label_desc']);
const SET_OPERATORS = new Set(['and', 'or', 'unless']);
const COMPARISON_OPERATORS = new Set(['==', '!=', '>', '<', '>=', '<=']);

/** Parses `query` and lists what it depends on. */
export function analyzeQuery(query: string): QueryAnalysis {
  const templated = substituteTemplateVariables(query);
  const tree = parser.parse(templated.text);
  let errorNode: SyntaxNode | undefined;
  tree.iterate({
    enter(node) {
      if (errorNode !== undefined) return false;
      if (node.type.isError) {
        errorNode = node.node;
        return false;
      }
      return true;
    },
  });
  const root = tree.topNode.firstChild;
  if (errorNode !== undefined || root === null) {
    let at = errorNode?.from ?? 0;
    let found = templated.text.slice(at, errorNode?.to ?? at).trim();
    if (found === '') {
      // The parser inserted a missing token: point at what follows instead.
      const next = /\s*(\S+)/y;
      next.lastIndex = at;
      const following = next.exec(templated.text);
      if (following !== null) {
        at = next.lastIndex - following[1]!.length;
        found = following[1]!.slice(0, 20);
      }
    }
    const offset = templated.originalOffset(at);
    return parseFailure(
      query,
      offset,
      found === ''
        ? 'unexpected end of query'
        : `unexpected ${JSON.stringify(templated.restore(found))}`,
    );
  }
  const walker = new UsageWalker(query, templated);
  walker.visit(root, ALL_LABELS, undefined, []);
  return {
    ok: true,
    query,
    selectors: walker.selectors,
    aggregations: walker.aggregations.map((aggregation) => ({
      ...aggregation,
      selectors: [...aggregation.selectors],
    })),
    vectorMatching: walker.vectorMatching,
    labelFunctions: walker.labelFunctions,
    templateVariables: templated.variables,
  };
}

function parseFailure(query: string, offset: number, reason: string): QueryParseFailure {
  const before = query.slice(0, offset).split('\n');
  const line = before.length;
  const column = before[before.length - 1]!.length + 1;
  return {
    ok: false,
    query,
    error: `${reason} at line ${line}, column ${column}`,
    offset,
    line,
    column,
  };
}

/** The nearest combining operation above the node being visited. */
interface ReducerContext {
  readonly op: string;
  readonly aggregation: number | undefined;
}

interface MutableAggregation {
  op: string;
  by: string[] | undefined;
  without: string[] | undefined;
  outputLabel?: string;
  selectors: number[];
}

class UsageWalker {
  readonly selectors: SelectorUsage[] = [];
  readonly aggregations: MutableAggregation[] = [];
  readonly vectorMatching: VectorMatchingUsage[] = [];
  readonly labelFunctions: LabelFunctionUsage[] = [];
  /** Aggregations enclosing the node being visited, outermost first. */
  readonly #enclosing: number[] = [];

  constructor(
    private readonly query: string,
    private readonly templated: TemplatedQuery,
  ) {}

  #text(node: SyntaxNode): string {
    return this.templated.text.slice(node.from, node.to);
  }

  /** The text of `node` as the user wrote it, template variables and all. */
  #originalText(node: SyntaxNode): string {
    return this.query.slice(
      this.templated.originalOffset(node.from),
      this.templated.originalOffset(node.to),
    );
  }

  /**
   * Visits an expression whose labels the result needs as `need`. `reducer` is the nearest
   * combining operation above and `applied` what was applied between it and this node
   * (outermost first).
   */
  visit(
    node: SyntaxNode,
    need: LabelNeed,
    reducer: ReducerContext | undefined,
    applied: readonly string[],
  ): void {
    switch (node.name) {
      case 'VectorSelector':
        this.#selector(node, false, need, reducer, applied);
        return;
      case 'MatrixSelector': {
        const vector = node.getChild('VectorSelector');
        if (vector !== null) this.#selector(vector, true, need, reducer, applied);
        return;
      }
      case 'AggregateExpr':
        this.#aggregate(node, need, reducer, applied);
        return;
      case 'FunctionCall':
        this.#functionCall(node, need, reducer, applied);
        return;
      case 'BinaryExpr':
        this.#binary(node, need, reducer, applied);
        return;
      case 'NumberDurationLiteral':
      case 'StringLiteral':
        return;
      default:
        // Parentheses, offset, @, subqueries, unary minus, anchored/smoothed: the labels
        // pass through unchanged.
        for (let child = node.firstChild; child !== null; child = child.nextSibling) {
          if (isExpression(child)) this.visit(child, need, reducer, applied);
        }
    }
  }

  #selector(
    node: SyntaxNode,
    range: boolean,
    need: LabelNeed,
    reducer: ReducerContext | undefined,
    applied: readonly string[],
  ): void {
    const nameMatchers: QueryMatcher[] = [];
    const labelMatchers: QueryMatcher[] = [];
    let templatedName = false;
    const identifier = node.getChild('Identifier');
    if (identifier !== null) {
      const name = this.#text(identifier);
      const restored = this.templated.restore(name);
      if (restored !== name) templatedName = true;
      nameMatchers.push({ name: '__name__', op: '=', value: restored, templated: templatedName });
    }
    const matchers = node.getChild('LabelMatchers');
    for (let child = matchers?.firstChild ?? null; child !== null; child = child.nextSibling) {
      if (child.name === 'QuotedLabelName') {
        // `{"metric.name"}`: a UTF-8 metric name in the braces.
        const value = unquote(this.#text(child));
        nameMatchers.push({ name: '__name__', op: '=', value, templated: false });
        continue;
      }
      if (child.name !== 'UnquotedLabelMatcher' && child.name !== 'QuotedLabelMatcher') continue;
      const nameNode = child.getChild('LabelName') ?? child.getChild('QuotedLabelName');
      const opNode = child.getChild('MatchOp');
      const valueNode = child.lastChild;
      if (nameNode === null || opNode === null || valueNode?.name !== 'StringLiteral') continue;
      const labelName =
        nameNode.name === 'QuotedLabelName'
          ? unquote(this.#text(nameNode))
          : this.templated.restore(this.#text(nameNode));
      const value = this.templated.restore(unquote(this.#text(valueNode)));
      const matcher: QueryMatcher = {
        name: labelName,
        op: this.#text(opNode) as MatchOperator,
        value,
        templated: TEMPLATE_VARIABLE.test(value),
      };
      (labelName === '__name__' ? nameMatchers : labelMatchers).push(matcher);
    }
    const exactName = nameMatchers.find((matcher) => matcher.op === '=' && !matcher.templated);
    const index = this.selectors.length;
    this.selectors.push({
      text: this.#originalText(range ? (node.parent ?? node) : node),
      metricName: exactName?.value,
      nameMatchers,
      labelMatchers,
      range,
      templatedName,
      needs: need,
      applied: [...applied].reverse(),
      reducer:
        reducer === undefined
          ? undefined
          : {
              op: reducer.op,
              aggregation: reducer.aggregation,
              appliedBefore: [...applied].reverse(),
            },
    });
    for (const aggregation of this.#enclosing)
      this.aggregations[aggregation]!.selectors.push(index);
  }

  #aggregate(
    node: SyntaxNode,
    need: LabelNeed,
    reducer: ReducerContext | undefined,
    applied: readonly string[],
  ): void {
    const op = this.#text(node.getChild('AggregateOp') ?? node).toLowerCase();
    const modifier = node.getChild('AggregateModifier');
    const grouping =
      modifier === null ? undefined : this.#groupingLabels(modifier.getChild('GroupingLabels'));
    const isWithout = modifier !== null && modifier.getChild('Without') !== null;
    const args = expressionChildren(node.getChild('FunctionCallBody'));
    const vector = PARAMETER_AGGREGATIONS.has(op) ? args[1] : args[0];
    const parameter = PARAMETER_AGGREGATIONS.has(op) ? args[0] : undefined;
    const aggregation: MutableAggregation = {
      op,
      by: grouping !== undefined && !isWithout ? grouping : undefined,
      without: grouping !== undefined && isWithout ? grouping : undefined,
      selectors: [],
    };
    if (op === 'count_values' && parameter?.name === 'StringLiteral') {
      aggregation.outputLabel = unquote(this.#text(parameter));
    }
    const index = this.aggregations.push(aggregation) - 1;
    let groupingNeed: LabelNeed;
    if (grouping === undefined) groupingNeed = NO_LABELS;
    else groupingNeed = isWithout ? allLabelsExcept(grouping) : onlyLabels(grouping);
    if (parameter !== undefined && parameter.name !== 'StringLiteral') {
      this.visit(parameter, NO_LABELS, reducer, applied);
    }
    if (vector === undefined) return;
    this.#enclosing.push(index);
    if (SERIES_PRESERVING_AGGREGATIONS.has(op)) {
      // topk and friends pick series: the ones they return keep every label they had.
      this.visit(vector, unionNeeds(need, groupingNeed), { op, aggregation: index }, []);
    } else {
      this.visit(vector, groupingNeed, { op, aggregation: index }, []);
    }
    this.#enclosing.pop();
  }

  #functionCall(
    node: SyntaxNode,
    need: LabelNeed,
    reducer: ReducerContext | undefined,
    applied: readonly string[],
  ): void {
    const name = this.#text(node.getChild('FunctionIdentifier') ?? node);
    const args = expressionChildren(node.getChild('FunctionCallBody'));
    const strings = args.map((arg) =>
      arg.name === 'StringLiteral' ? this.templated.restore(unquote(this.#text(arg))) : undefined,
    );
    const vectorArgs = args.filter((arg) => arg.name !== 'StringLiteral');
    let argumentNeed = need;
    let argumentReducer = reducer;
    let argumentApplied = [...applied, name];
    switch (name) {
      case 'label_replace': {
        const destination = strings[1] ?? '';
        const source = strings[3] ?? '';
        this.labelFunctions.push({ function: name, destination, sources: [source] });
        argumentNeed = unionNeeds(need, onlyLabels([source]));
        break;
      }
      case 'label_join': {
        const destination = strings[1] ?? '';
        const sources = strings.slice(3).filter((value) => value !== undefined);
        this.labelFunctions.push({ function: name, destination, sources });
        argumentNeed = unionNeeds(need, onlyLabels(sources));
        break;
      }
      case 'histogram_quantile':
      case 'histogram_fraction':
        argumentNeed = unionNeeds(need, onlyLabels(['le']));
        break;
      case 'absent':
      case 'absent_over_time':
      case 'scalar':
        // Only whether (or how many) series exist matters, not their labels.
        argumentNeed = NO_LABELS;
        argumentReducer = { op: name, aggregation: undefined };
        argumentApplied = [];
        break;
      case 'info':
        argumentNeed = ALL_LABELS;
        break;
      default:
        if (LABEL_ARGUMENT_FUNCTIONS.has(name)) {
          const labels = strings.filter((value) => value !== undefined);
          argumentNeed = unionNeeds(need, onlyLabels(labels));
        }
    }
    for (const arg of vectorArgs) this.visit(arg, argumentNeed, argumentReducer, argumentApplied);
  }

  #binary(
    node: SyntaxNode,
    need: LabelNeed,
    reducer: ReducerContext | undefined,
    applied: readonly string[],
  ): void {
    const operands = expressionChildren(node);
    const left = operands[0];
    const right = operands[1];
    if (left === undefined || right === undefined) return;
    let op = '';
    for (
      let child = left.nextSibling;
      child !== null && child !== right;
      child = child.nextSibling
    ) {
      if (child.name !== 'MatchingModifierClause' && child.name !== 'BoolModifier') {
        op = this.#text(child).toLowerCase();
        break;
      }
    }
    const isBool = node.getChild('BoolModifier') !== null;
    const operatorName = COMPARISON_OPERATORS.has(op) && !isBool ? `filter ${op}` : op;
    const leftIsVector = containsSelector(left);
    const rightIsVector = containsSelector(right);
    if (!leftIsVector || !rightIsVector) {
      // Vector and scalar: the vector's labels pass through.
      this.visit(left, need, reducer, [...applied, operatorName]);
      this.visit(right, need, reducer, [...applied, operatorName]);
      return;
    }
    const clause = node.getChild('MatchingModifierClause');
    let on: string[] | undefined;
    let ignoring: string[] | undefined;
    let group: 'left' | 'right' | undefined;
    let include: string[] = [];
    if (clause !== null) {
      const lists = clause.getChildren('GroupingLabels');
      const labels = this.#groupingLabels(lists[0] ?? null) ?? [];
      if (clause.getChild('On') !== null) on = labels;
      else ignoring = labels;
      if (clause.getChild('GroupLeft') !== null) group = 'left';
      if (clause.getChild('GroupRight') !== null) group = 'right';
      if (group !== undefined) include = this.#groupingLabels(lists[1] ?? null) ?? [];
      this.vectorMatching.push({ op, on, ignoring, group, include });
    }
    const matchNeed = on !== undefined ? onlyLabels(on) : allLabelsExcept(ignoring ?? []);
    const nextApplied = [...applied, operatorName];
    if (SET_OPERATORS.has(op)) {
      this.visit(left, unionNeeds(need, matchNeed), reducer, nextApplied);
      this.visit(
        right,
        op === 'or' ? unionNeeds(need, matchNeed) : matchNeed,
        reducer,
        nextApplied,
      );
      return;
    }
    if (group === undefined) {
      // One-to-one: the result has only the matching labels (all of them without `on`).
      this.visit(left, matchNeed, reducer, nextApplied);
      this.visit(right, matchNeed, reducer, nextApplied);
      return;
    }
    const manyNeed = unionNeeds(need, matchNeed);
    const oneNeed = unionNeeds(matchNeed, onlyLabels(include));
    this.visit(left, group === 'left' ? manyNeed : oneNeed, reducer, nextApplied);
    this.visit(right, group === 'left' ? oneNeed : manyNeed, reducer, nextApplied);
  }

  #groupingLabels(node: SyntaxNode | null): string[] | undefined {
    if (node === null) return undefined;
    const labels: string[] = [];
    for (let child = node.firstChild; child !== null; child = child.nextSibling) {
      if (child.name === 'LabelName') labels.push(this.templated.restore(this.#text(child)));
      else if (child.name === 'QuotedLabelName') labels.push(unquote(this.#text(child)));
    }
    return labels;
  }
}

/** Syntax nodes that are expressions (not keywords, operators or modifiers). */
function isExpression(node: SyntaxNode): boolean {
  return [
    'VectorSelector',
    'MatrixSelector',
    'AggregateExpr',
    'FunctionCall',
    'BinaryExpr',
    'ParenExpr',
    'OffsetExpr',
    'SubqueryExpr',
    'UnaryExpr',
    'StepInvariantExpr',
    'AnchoredExpr',
    'SmoothedExpr',
    'NumberDurationLiteral',
    'StringLiteral',
  ].includes(node.name);
}

function expressionChildren(node: SyntaxNode | null): SyntaxNode[] {
  const children: SyntaxNode[] = [];
  for (let child = node?.firstChild ?? null; child !== null; child = child.nextSibling) {
    if (isExpression(child)) children.push(child);
  }
  return children;
}

/** Whether an expression can be a vector: it has a selector not wrapped in `scalar()`. */
function containsSelector(node: SyntaxNode): boolean {
  if (node.name === 'VectorSelector') return true;
  if (
    node.name === 'FunctionCall' &&
    node.getChild('FunctionIdentifier')?.firstChild?.name === 'Scalar'
  ) {
    return false;
  }
  for (let child = node.firstChild; child !== null; child = child.nextSibling) {
    if (containsSelector(child)) return true;
  }
  return false;
}

const ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** The value of a PromQL string literal (Go's quoting rules; backquotes are raw). */
export function unquote(literal: string): string {
  const quote = literal[0];
  const body = literal.slice(1, -1);
  if (quote === '`') return body;
  let value = '';
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!;
    if (char !== '\\') {
      value += char;
      continue;
    }
    const next = body[++i] ?? '';
    if (ESCAPES[next] !== undefined) value += ESCAPES[next];
    else if (next === 'x') {
      value += String.fromCharCode(Number.parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (next === 'u' || next === 'U') {
      const digits = next === 'u' ? 4 : 8;
      value += String.fromCodePoint(Number.parseInt(body.slice(i + 1, i + 1 + digits), 16));
      i += digits;
    } else value += `\\${next}`;
  }
  return value;
}
