/**
 * PromQL series selectors for the `match` of aggregation rules: `metric`,
 * `{__name__=~"http_.*",job="api"}`, `metric{le!="+Inf"}`. Only the selector itself, no
 * range or offset. Regex matchers are anchored RE2, as in PromQL.
 */
import { type CompiledRegex, compileRegex, isValidLabelName } from './compile.js';
import { Re2SyntaxError } from './re2.js';

export type MatcherType = '=' | '!=' | '=~' | '!~';

/** One label matcher; a missing label matches as the empty string, as in PromQL. */
export interface LabelMatcher {
  readonly name: string;
  readonly type: MatcherType;
  readonly value: string;
  /** Compiled for `=~` and `!~`. */
  readonly regex: CompiledRegex | undefined;
}

/** A parsed selector: every matcher must match. */
export interface SeriesSelector {
  /** The selector as written, for messages and fingerprints. */
  readonly text: string;
  readonly matchers: readonly LabelMatcher[];
}

/** Why a selector does not parse; the message names the offending position. */
export class SelectorSyntaxError extends Error {
  override readonly name = 'SelectorSyntaxError';
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parses `text`; throws {@link SelectorSyntaxError}. */
export function parseSeriesSelector(text: string): SeriesSelector {
  const matchers: LabelMatcher[] = [];
  let rest = text.trim();
  const metric = METRIC_NAME.exec(rest);
  if (metric !== null) {
    matchers.push(makeMatcher('__name__', '=', metric[0]));
    rest = rest.slice(metric[0].length).trimStart();
  }
  if (rest.startsWith('{')) {
    rest = rest.slice(1).trimStart();
    while (!rest.startsWith('}')) {
      const name = LABEL_NAME.exec(rest);
      if (name === null) throw syntax(text, rest, 'expected a label name');
      rest = rest.slice(name[0].length).trimStart();
      const operator = /^(=~|!~|!=|=)/.exec(rest);
      if (operator === null) throw syntax(text, rest, 'expected one of =, !=, =~, !~');
      rest = rest.slice(operator[0].length).trimStart();
      const [value, after] = readString(text, rest);
      matchers.push(makeMatcher(name[0], operator[0] as MatcherType, value));
      rest = after.trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
      else if (!rest.startsWith('}')) throw syntax(text, rest, 'expected "," or "}"');
    }
    rest = rest.slice(1).trimStart();
  }
  if (rest !== '') throw syntax(text, rest, 'unexpected text');
  if (matchers.length === 0)
    throw new SelectorSyntaxError(`empty selector ${JSON.stringify(text)}`);
  // PromQL refuses selectors that match everything, including series with no labels.
  if (matchers.every((matcher) => matches(matcher, ''))) {
    throw new SelectorSyntaxError(
      `selector ${JSON.stringify(text)} must contain at least one matcher that does not match the empty string`,
    );
  }
  return { text, matchers };
}

function makeMatcher(name: string, type: MatcherType, value: string): LabelMatcher {
  let regex: CompiledRegex | undefined;
  if (type === '=~' || type === '!~') {
    try {
      regex = compileRegex(value);
    } catch (error) {
      if (error instanceof Re2SyntaxError) {
        throw new SelectorSyntaxError(`invalid regex ${JSON.stringify(value)}: ${error.message}`);
      }
      throw error;
    }
  }
  if (!isValidLabelName(name)) throw new SelectorSyntaxError(`invalid label name ${name}`);
  return { name, type, value, regex };
}

/** Reads a PromQL string literal ("...", '...' or `...`); returns its value and the rest. */
function readString(text: string, rest: string): [string, string] {
  const quote = rest[0];
  if (quote !== '"' && quote !== "'" && quote !== '`')
    throw syntax(text, rest, 'expected a quoted string');
  if (quote === '`') {
    const end = rest.indexOf('`', 1);
    if (end < 0) throw syntax(text, rest, 'unterminated string');
    return [rest.slice(1, end), rest.slice(end + 1)];
  }
  let value = '';
  for (let i = 1; i < rest.length; i++) {
    const char = rest[i]!;
    if (char === quote) return [value, rest.slice(i + 1)];
    if (char !== '\\') {
      value += char;
      continue;
    }
    i++;
    const escaped = rest[i];
    const simple: Record<string, string> = {
      n: '\n',
      t: '\t',
      r: '\r',
      '\\': '\\',
      '"': '"',
      "'": "'",
    };
    if (escaped !== undefined && simple[escaped] !== undefined) value += simple[escaped];
    else throw syntax(text, rest.slice(i - 1), 'unsupported escape sequence');
  }
  throw syntax(text, rest, 'unterminated string');
}

function syntax(text: string, rest: string, reason: string): SelectorSyntaxError {
  const at = text.length - rest.length;
  return new SelectorSyntaxError(`${reason} at position ${at} of ${JSON.stringify(text)}`);
}

/** Whether one matcher accepts `value` (the empty string for a missing label). */
export function matches(matcher: LabelMatcher, value: string): boolean {
  switch (matcher.type) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
      return matcher.regex!.regex.test(value);
    case '!~':
      return !matcher.regex!.regex.test(value);
  }
}

/** Whether a series with `labels` (name → value) is selected. */
export function selectorMatches(
  selector: SeriesSelector,
  labels: ReadonlyMap<string, string>,
): boolean {
  return selector.matchers.every((matcher) => matches(matcher, labels.get(matcher.name) ?? ''));
}
