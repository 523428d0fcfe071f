/**
 * Grafana template variables (`$var`, `${var}`, `${var:format}`, `[[var]]`, and the
 * built-ins `$__rate_interval`, `$__interval`, `$__range`, ...) replaced by text PromQL
 * can parse, chosen by where the variable stands:
 *
 * - inside a string literal it stays as it is (it is valid string content); a matcher
 *   whose value holds one is reported as templated;
 * - inside `[...]` (a range or subquery) or after `offset` it becomes the duration `5m`;
 * - the numeric built-ins (`$__interval_ms`, `$__range_s`, ...) become the number `60`;
 * - anywhere else (a metric name, a grouping label) it becomes an identifier
 *   `__grafana_var_N__` that {@link TemplatedQuery.restore} maps back to the original text.
 *
 * Positions in the substituted text map back to the original, so a parse error points at
 * what the user wrote.
 */

/** A query with its template variables substituted. */
export interface TemplatedQuery {
  /** The text handed to the parser. */
  readonly text: string;
  /** Every variable found, as written (`$job`, `${pod:regex}`, `[[node]]`), once each. */
  readonly variables: readonly string[];
  /** Replaces identifier placeholders in `text` by the variables they stand for. */
  restore(text: string): string;
  /** The offset in the original query of `offset` in {@link text}. */
  originalOffset(offset: number): number;
}

/** Matches one variable reference; the name is group 1, 2 or 3. */
const VARIABLE = /\$\{([^}]+)\}|\[\[([^\]]+)\]\]|\$([A-Za-z_][A-Za-z0-9_]*)/y;

/** Any variable reference, to tell whether a string literal is templated. */
export const TEMPLATE_VARIABLE = /\$\{[^}]+\}|\[\[[^\]]+\]\]|\$[A-Za-z_][A-Za-z0-9_]*/;

/** Built-ins Grafana expands to a number rather than a duration. */
const NUMERIC_BUILTINS = new Set([
  '__interval_ms',
  '__range_ms',
  '__range_s',
  '__rate_interval_ms',
  '__from',
  '__to',
]);

export const PLACEHOLDER_DURATION = '5m';
export const PLACEHOLDER_NUMBER = '60';
const PLACEHOLDER_IDENTIFIER = /__grafana_var_(\d+)__/g;

/** One substituted stretch: where it is in the substituted and in the original text. */
interface Replacement {
  readonly from: number;
  readonly to: number;
  readonly originalFrom: number;
  readonly originalTo: number;
}

/** Substitutes the template variables of `query` (see the file comment for the rules). */
export function substituteTemplateVariables(query: string): TemplatedQuery {
  const variables: string[] = [];
  const identifiers: string[] = [];
  const replacements: Replacement[] = [];
  let text = '';
  let quote: string | undefined;
  let bracketDepth = 0;
  for (let i = 0; i < query.length; ) {
    const char = query[i]!;
    if (quote !== undefined) {
      if (char === '$' || char === '[') {
        VARIABLE.lastIndex = i;
        const inString = VARIABLE.exec(query);
        if (inString !== null && !variables.includes(inString[0])) variables.push(inString[0]);
      }
      text += char;
      if (char === '\\' && quote !== '`' && i + 1 < query.length) {
        text += query[i + 1];
        i += 2;
        continue;
      }
      if (char === quote) quote = undefined;
      i++;
      continue;
    }
    if (char === '"' || char === "'" || char === '`') quote = char;
    else if (char === '[' && query[i + 1] !== '[') bracketDepth++;
    else if (char === ']' && bracketDepth > 0 && !query.startsWith(']]', i)) bracketDepth--;
    VARIABLE.lastIndex = i;
    const found = char === '$' || char === '[' ? VARIABLE.exec(query) : null;
    if (found === null) {
      text += char;
      i++;
      continue;
    }
    const written = found[0];
    const name = (found[1] ?? found[2] ?? found[3] ?? '').split(':')[0]!;
    if (!variables.includes(written)) variables.push(written);
    let placeholder: string;
    if (NUMERIC_BUILTINS.has(name)) placeholder = PLACEHOLDER_NUMBER;
    else if (bracketDepth > 0 || /\boffset\s*$/i.test(text)) placeholder = PLACEHOLDER_DURATION;
    else {
      let index = identifiers.indexOf(written);
      if (index < 0) index = identifiers.push(written) - 1;
      placeholder = `__grafana_var_${index}__`;
    }
    replacements.push({
      from: text.length,
      to: text.length + placeholder.length,
      originalFrom: i,
      originalTo: i + written.length,
    });
    text += placeholder;
    i += written.length;
  }
  return {
    text,
    variables,
    restore: (value) =>
      value.replace(PLACEHOLDER_IDENTIFIER, (whole, index: string) => {
        return identifiers[Number(index)] ?? whole;
      }),
    originalOffset(offset) {
      let shift = 0;
      for (const replacement of replacements) {
        if (offset < replacement.from) break;
        if (offset < replacement.to) return replacement.originalFrom;
        shift = replacement.originalTo - replacement.to;
      }
      return offset + shift;
    },
  };
}
