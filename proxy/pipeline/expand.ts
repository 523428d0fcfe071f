/**
 * Go's `regexp.Regexp.Expand` template semantics, which Prometheus uses for `replacement`
 * and for a `target_label` with `$` references.
 *
 * - `$$` is a literal `$`.
 * - `$name` takes the longest run of letters, digits and `_` (Unicode letters and decimal
 *   digits, as Go's `unicode.IsLetter`/`IsDigit`), so `$1x` names the group `1x`, not group 1
 *   followed by `x`; `${name}` ends at the brace.
 * - A name that is all digits (no leading zero, below 1e8) is a group number; anything else
 *   is a group name. A group that does not exist or did not take part in the match expands
 *   to ''.
 * - A `$` not followed by a valid reference (`$`, `$-`, `${`, `${}`, `${x`) is copied as is.
 */

/** The captures of one match: `groups[i]` is group i's text, undefined when it did not match. */
export type MatchGroups = ArrayLike<string | undefined>;

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/** Expands `template` against one match; `captureNames[i]` is group i's name ('' if none). */
export function expandTemplate(
  template: string,
  groups: MatchGroups,
  captureNames: readonly string[],
): string {
  let out = '';
  let rest = template;
  for (;;) {
    const dollar = rest.indexOf('$');
    if (dollar < 0) break;
    out += rest.slice(0, dollar);
    rest = rest.slice(dollar + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const reference = extractReference(rest);
    if (reference === undefined) {
      out += '$';
      continue;
    }
    rest = rest.slice(reference.length);
    out += lookUpGroup(reference, groups, captureNames);
  }
  return out + rest;
}

/** True when `template` holds something `expandTemplate` would replace. */
export function templateHasReference(template: string): boolean {
  return template.includes('$');
}

interface Reference {
  /** Group number, or -1 when the reference is by name. */
  readonly number: number;
  readonly name: string;
  /** Characters of the template the reference used, after the `$`. */
  readonly length: number;
}

/** Go's `extract`: the reference at the start of `text` (just after a `$`), if any. */
function extractReference(text: string): Reference | undefined {
  if (text === '') return undefined;
  const brace = text[0] === '{';
  let index = brace ? 1 : 0;
  const nameStart = index;
  while (index < text.length) {
    const codePoint = text.codePointAt(index)!;
    const char = String.fromCodePoint(codePoint);
    if (!NAME_CHAR.test(char)) break;
    index += char.length;
  }
  if (index === nameStart) return undefined;
  const name = text.slice(nameStart, index);
  if (brace) {
    if (text[index] !== '}') return undefined;
    index++;
  }
  return { number: groupNumber(name), name, length: index };
}

/** Go's number parse inside `extract`: ASCII digits only, no leading zero, below 1e8. */
function groupNumber(name: string): number {
  let number = 0;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x30 || code > 0x39 || number >= 1e8) return -1;
    number = number * 10 + (code - 0x30);
  }
  if (name[0] === '0' && name.length > 1) return -1;
  return number;
}

function lookUpGroup(
  reference: Reference,
  groups: MatchGroups,
  captureNames: readonly string[],
): string {
  if (reference.number >= 0) {
    return reference.number < groups.length ? (groups[reference.number] ?? '') : '';
  }
  // Go takes the first group of that name that took part in the match.
  for (let i = 1; i < captureNames.length; i++) {
    if (captureNames[i] === reference.name && i < groups.length && groups[i] !== undefined) {
      return groups[i]!;
    }
  }
  return '';
}
