/**
 * Translates Go RE2 syntax (what Prometheus relabel regexes are written in) to a JavaScript
 * `RegExp` source with the same meaning, or rejects it with the reason Go's parser gives.
 *
 * The translation parses the whole expression the way Go's `regexp/syntax` does with the
 * `Perl` flags that `regexp.Compile` uses, then prints a JavaScript pattern for the `u` flag
 * that spells every construct out explicitly, so no JavaScript flag changes its meaning:
 * - `.` is `[^\n]` (or `[^]` under `(?s)`); `^`/`$` are text anchors unless `(?m)` is on;
 * - `\d \s \w`, POSIX classes and `\b` are ASCII, as in Go;
 * - case folding (`(?i)`, also scoped as `(?i:...)`) is applied by the translator: each
 *   letter becomes the class of its simple case-folding orbit, so it works per group;
 * - named groups are printed as plain groups (Go allows names JavaScript does not, like
 *   `1x`); {@link TranslatedRegex.captureNames} keeps the names for template expansion.
 *
 * Known differences from Go: a capture group inside a repeated group keeps its value from an
 * earlier iteration in Go but is reset in JavaScript (`(?:(a)|b)+` on `ab` gives group 1 `a`
 * in Go and nothing here; likewise `(a*)*` on ``); Go's limits on program size ("expression
 * too large") and nesting depth are not enforced here. Unicode classes follow Node's Unicode
 * version rather than Go 1.19's Unicode 13. Duplicate group names are allowed, as in Go 1.19.
 */

/** Go's `regexp/syntax` error codes, with the same text. */
export const RE2_ERROR = {
  invalidCharRange: 'invalid character class range',
  invalidEscape: 'invalid escape sequence',
  invalidNamedCapture: 'invalid named capture',
  invalidPerlOp: 'invalid or unsupported Perl syntax',
  invalidRepeatOp: 'invalid nested repetition operator',
  invalidRepeatSize: 'invalid repeat count',
  missingBracket: 'missing closing ]',
  missingParen: 'missing closing )',
  missingRepeatArgument: 'missing argument to repetition operator',
  trailingBackslash: 'trailing backslash at end of expression',
  unexpectedParen: 'unexpected )',
} as const;

/** A syntax error in an RE2 expression: Go's error code text and the offending part. */
export class Re2SyntaxError extends Error {
  override readonly name = 'Re2SyntaxError';
  readonly code: string;
  /** The part of the expression the error is about (Go's `Error.Expr`). */
  readonly expr: string;
  constructor(code: string, expr: string) {
    super(`${code}: \`${expr}\``);
    this.code = code;
    this.expr = expr;
  }
}

/** An RE2 expression translated to a JavaScript pattern (to be compiled with flag `u`). */
export interface TranslatedRegex {
  readonly source: string;
  /** Number of capture groups; group numbers are the same in Go and in `source`. */
  readonly captureCount: number;
  /** `captureNames[i]` is the name of group `i` ('' for unnamed; index 0 is the whole match). */
  readonly captureNames: readonly string[];
}

const MAX_CODE_POINT = 0x10ffff;
const MAX_REPEAT = 1000;
const REPEAT_BOUNDS = /\{(\d+)(,(\d*))?\}/y;

/** Sorted, non-overlapping inclusive code point ranges: [lo0, hi0, lo1, hi1, ...]. */
type Ranges = number[];

interface CharClass {
  ranges: Ranges;
  /** JavaScript property escapes (`\p{..}`/`\P{..}`) kept as they are, when not case folded. */
  props: string[];
}

type Node =
  | { kind: 'empty' }
  | { kind: 'literal'; codePoint: number }
  | { kind: 'class'; cls: CharClass; negated: boolean }
  | { kind: 'raw'; source: string; assertion: boolean }
  | { kind: 'group'; capture: boolean; sub: Node }
  | { kind: 'concat'; subs: Node[] }
  | { kind: 'alternate'; subs: Node[] }
  | { kind: 'repeat'; min: number; max: number; greedy: boolean; sub: Node };

interface Flags {
  foldCase: boolean;
  multiLine: boolean;
  dotNewline: boolean;
  nonGreedy: boolean;
}

const DIGIT: Ranges = [0x30, 0x39];
const SPACE: Ranges = [0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20];
const WORD: Ranges = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];

const PERL_CLASSES: Readonly<Record<string, Ranges>> = { d: DIGIT, s: SPACE, w: WORD };

const POSIX_CLASSES: Readonly<Record<string, Ranges>> = {
  alnum: [0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a],
  alpha: [0x41, 0x5a, 0x61, 0x7a],
  ascii: [0x00, 0x7f],
  blank: [0x09, 0x09, 0x20, 0x20],
  cntrl: [0x00, 0x1f, 0x7f, 0x7f],
  digit: DIGIT,
  graph: [0x21, 0x7e],
  lower: [0x61, 0x7a],
  print: [0x20, 0x7e],
  punct: [0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e],
  space: [0x09, 0x0d, 0x20, 0x20],
  upper: [0x41, 0x5a],
  word: WORD,
  xdigit: [0x30, 0x39, 0x41, 0x46, 0x61, 0x66],
};

/** Go 1.19's `unicode.Categories` (Go's `C` has no unassigned code points, unlike JS's). */
const GO_CATEGORIES: Readonly<Record<string, readonly string[]>> = {
  C: ['\\p{Cc}', '\\p{Cf}', '\\p{Co}', '\\p{Cs}'],
  ...Object.fromEntries(
    'Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'
      .split(' ')
      .map((name) => [name, [`\\p{${name}}`]]),
  ),
};

/** Go 1.19's `unicode.Scripts` names; JavaScript accepts aliases that Go does not. */
const GO_SCRIPTS = new Set(
  `Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak
Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian
Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cyrillic
Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic
Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul
Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited Inscriptional_Pahlavi
Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kayah_Li Kharoshthi Khitan_Small_Script
Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani
Makasar Malayalam Mandaic Manichaean Marchen Masaram_Gondi Medefaidrin Meetei_Mayek
Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mongolian Mro Multani Myanmar
Nabataean Nandinagari New_Tai_Lue Newa Nko Nushu Nyiakeng_Puachue_Hmong Ogham Ol_Chiki
Old_Hungarian Old_Italic Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian
Old_Turkic Oriya Osage Osmanya Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician
Psalter_Pahlavi Rejang Runic Samaritan Saurashtra Sharada Shavian Siddham SignWriting Sinhala
Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham
Tai_Viet Takri Tamil Tangut Telugu Thaana Thai Tibetan Tifinagh Tirhuta Ugaritic Vai Wancho
Warang_Citi Yezidi Yi Zanabazar_Square`.split(/\s+/),
);

function goScriptProperty(name: string): readonly string[] | undefined {
  return GO_SCRIPTS.has(name) ? [`\\p{Script=${name}}`] : undefined;
}

/** Parses `expression` as Go's `regexp.Compile` would and prints the JavaScript equivalent. */
export function translateRe2(expression: string): TranslatedRegex {
  const parser = new Re2Parser(expression);
  const tree = parser.parseWhole();
  return {
    source: printNode(tree),
    captureCount: parser.captureNames.length - 1,
    captureNames: parser.captureNames,
  };
}

class Re2Parser {
  readonly captureNames: string[] = [''];
  private pos = 0;
  private flags: Flags = { foldCase: false, multiLine: false, dotNewline: false, nonGreedy: false };

  constructor(private readonly text: string) {}

  parseWhole(): Node {
    const node = this.parseAlternation();
    if (this.pos < this.text.length) throw new Re2SyntaxError(RE2_ERROR.unexpectedParen, this.text);
    return node;
  }

  /** Alternatives up to a `)` or the end; flags set inside stay set until the group closes. */
  private parseAlternation(): Node {
    const branches = [this.parseConcatenation()];
    while (this.text[this.pos] === '|') {
      this.pos++;
      branches.push(this.parseConcatenation());
    }
    return branches.length === 1 ? branches[0]! : { kind: 'alternate', subs: branches };
  }

  private parseConcatenation(): Node {
    const items: Node[] = [];
    // Where the previous token started when it was a repetition operator (Go rejects `a**`).
    let lastRepeatStart = -1;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (c === '|' || c === ')') break;
      const tokenStart = this.pos;
      let repeatStart = -1;
      switch (c) {
        case '(':
          this.parseGroup(items);
          break;
        case '^':
          this.pos++;
          items.push(assertion(this.flags.multiLine ? '(?<![^\\n])' : '^'));
          break;
        case '$':
          this.pos++;
          items.push(assertion(this.flags.multiLine ? '(?![^\\n])' : '$'));
          break;
        case '.':
          this.pos++;
          items.push({
            kind: 'raw',
            source: this.flags.dotNewline ? '[^]' : '[^\\n]',
            assertion: false,
          });
          break;
        case '[':
          items.push(this.parseBracketClass());
          break;
        case '*':
        case '+':
        case '?': {
          this.pos++;
          const min = c === '+' ? 1 : 0;
          const max = c === '?' ? 1 : -1;
          this.applyRepeat(items, min, max, tokenStart, lastRepeatStart);
          repeatStart = tokenStart;
          break;
        }
        case '{': {
          const bounds = this.parseRepeatBounds();
          if (bounds === undefined) {
            this.pos++;
            items.push(this.literal(0x7b));
            break;
          }
          const { min, max } = bounds;
          if (min < 0 || min > MAX_REPEAT || max > MAX_REPEAT || (max >= 0 && min > max)) {
            throw new Re2SyntaxError(
              RE2_ERROR.invalidRepeatSize,
              this.text.slice(tokenStart, this.pos),
            );
          }
          this.applyRepeat(items, min, max, tokenStart, lastRepeatStart);
          repeatStart = tokenStart;
          break;
        }
        case '\\':
          this.parseBackslash(items);
          break;
        default: {
          const codePoint = this.text.codePointAt(this.pos)!;
          this.pos += codePoint > 0xffff ? 2 : 1;
          items.push(this.literal(codePoint));
        }
      }
      lastRepeatStart = repeatStart;
    }
    if (items.length === 0) return { kind: 'empty' };
    return items.length === 1 ? items[0]! : { kind: 'concat', subs: items };
  }

  /** `(`, `(?P<name>`, `(?flags)`, `(?flags:`; anything else after `(?` is rejected. */
  private parseGroup(items: Node[]): void {
    const start = this.pos;
    const text = this.text;
    if (text[start + 1] !== '?') {
      this.pos++;
      this.captureNames.push('');
      items.push(this.parseGroupBody(true));
      return;
    }
    if (text.length - start > 4 && text[start + 2] === 'P' && text[start + 3] === '<') {
      const end = text.indexOf('>', start);
      if (end < 0) throw new Re2SyntaxError(RE2_ERROR.invalidNamedCapture, text.slice(start));
      const name = text.slice(start + 4, end);
      if (!/^[A-Za-z0-9_]+$/.test(name)) {
        throw new Re2SyntaxError(RE2_ERROR.invalidNamedCapture, text.slice(start, end + 1));
      }
      this.pos = end + 1;
      this.captureNames.push(name);
      items.push(this.parseGroupBody(true));
      return;
    }
    // Flags: (?i) (?-s) (?im-sU:...). A '-' needs at least one flag after it.
    const flags = { ...this.flags };
    let negate = false;
    let sawFlag = false;
    let i = start + 2;
    while (i < text.length) {
      const c = text[i]!;
      i++;
      if (c === 'i' || c === 'm' || c === 's' || c === 'U') {
        const value = !negate;
        if (c === 'i') flags.foldCase = value;
        else if (c === 'm') flags.multiLine = value;
        else if (c === 's') flags.dotNewline = value;
        else flags.nonGreedy = value;
        sawFlag = true;
        continue;
      }
      if (c === '-' && !negate) {
        negate = true;
        sawFlag = false;
        continue;
      }
      if ((c === ':' || c === ')') && !(negate && !sawFlag)) {
        this.pos = i;
        if (c === ')') {
          this.flags = flags;
          return;
        }
        const outer = this.flags;
        this.flags = flags;
        const body = this.parseGroupBody(false);
        this.flags = outer;
        items.push(body);
        return;
      }
      break;
    }
    const codePoint = text.codePointAt(i - 1);
    const end = codePoint !== undefined && codePoint > 0xffff ? i + 1 : i;
    throw new Re2SyntaxError(
      RE2_ERROR.invalidPerlOp,
      text.slice(start, Math.min(end, text.length)),
    );
  }

  /** The inside of a group through its `)`; flags changed inside do not leak out. */
  private parseGroupBody(capture: boolean): Node {
    const outer = this.flags;
    this.flags = { ...outer };
    const sub = this.parseAlternation();
    this.flags = outer;
    if (this.text[this.pos] !== ')') throw new Re2SyntaxError(RE2_ERROR.missingParen, this.text);
    this.pos++;
    return { kind: 'group', capture, sub };
  }

  private applyRepeat(
    items: Node[],
    min: number,
    max: number,
    tokenStart: number,
    lastRepeatStart: number,
  ): void {
    let greedy = !this.flags.nonGreedy;
    if (this.text[this.pos] === '?') {
      this.pos++;
      greedy = !greedy;
    }
    if (lastRepeatStart >= 0) {
      throw new Re2SyntaxError(
        RE2_ERROR.invalidRepeatOp,
        this.text.slice(lastRepeatStart, this.pos),
      );
    }
    const sub = items.pop();
    if (sub === undefined) {
      throw new Re2SyntaxError(
        RE2_ERROR.missingRepeatArgument,
        this.text.slice(tokenStart, this.pos),
      );
    }
    const node: Node = { kind: 'repeat', min, max, greedy, sub };
    if ((min >= 2 || max >= 2) && !repeatIsValid(node, MAX_REPEAT)) {
      throw new Re2SyntaxError(RE2_ERROR.invalidRepeatSize, this.text.slice(tokenStart, this.pos));
    }
    items.push(node);
  }

  /** `{n}`, `{n,}`, `{n,m}` at `pos`; undefined when it is not one (then `{` is a literal). */
  private parseRepeatBounds(): { min: number; max: number } | undefined {
    REPEAT_BOUNDS.lastIndex = this.pos;
    const match = REPEAT_BOUNDS.exec(this.text);
    if (match === null) return undefined;
    const minText = match[1]!;
    const maxText = match[3];
    if (hasLeadingZero(minText) || (maxText !== undefined && hasLeadingZero(maxText)))
      return undefined;
    this.pos += match[0].length;
    let min = parseRepeatNumber(minText);
    let max = min;
    if (match[2] !== undefined) {
      max = maxText === '' || maxText === undefined ? -1 : parseRepeatNumber(maxText);
      if (maxText !== '' && max < 0) min = -1;
    }
    return { min, max };
  }

  private parseBackslash(items: Node[]): void {
    const next = this.text[this.pos + 1];
    switch (next) {
      case 'A':
        this.pos += 2;
        items.push(assertion('^'));
        return;
      case 'z':
        this.pos += 2;
        items.push(assertion('$'));
        return;
      case 'b':
        this.pos += 2;
        items.push(assertion('\\b'));
        return;
      case 'B':
        this.pos += 2;
        items.push(assertion('\\B'));
        return;
      case 'C':
        throw new Re2SyntaxError(RE2_ERROR.invalidEscape, '\\C');
      case 'Q': {
        const end = this.text.indexOf('\\E', this.pos + 2);
        const literalText = this.text.slice(this.pos + 2, end < 0 ? undefined : end);
        this.pos = end < 0 ? this.text.length : end + 2;
        for (const ch of literalText) items.push(this.literal(ch.codePointAt(0)!));
        return;
      }
    }
    const cls: CharClass = { ranges: [], props: [] };
    if (this.parseUnicodeClass(cls) || this.parsePerlClass(cls)) {
      items.push({ kind: 'class', cls, negated: false });
      return;
    }
    items.push(this.literal(this.parseEscape()));
  }

  /** `[...]`: Go's parseClass, with `]` literal when first and `-` literal where no range fits. */
  private parseBracketClass(): Node {
    const start = this.pos;
    const text = this.text;
    this.pos++;
    let negated = false;
    if (text[this.pos] === '^') {
      negated = true;
      this.pos++;
    }
    const cls: CharClass = { ranges: [], props: [] };
    let first = true;
    while (this.pos >= text.length || text[this.pos] !== ']' || first) {
      first = false;
      if (text[this.pos] === '[' && text[this.pos + 1] === ':') {
        const close = text.indexOf(':]', this.pos + 2);
        if (close >= 0) {
          const name = text.slice(this.pos, close + 2);
          const inner = name.slice(2, -2);
          const negatedGroup = inner.startsWith('^');
          const ranges = POSIX_CLASSES[negatedGroup ? inner.slice(1) : inner];
          if (ranges === undefined) throw new Re2SyntaxError(RE2_ERROR.invalidCharRange, name);
          this.pos = close + 2;
          addGroup(cls, ranges, negatedGroup, this.flags.foldCase);
          continue;
        }
      }
      if (this.parseUnicodeClass(cls) || this.parsePerlClass(cls)) continue;
      const rangeStart = this.pos;
      const lo = this.parseClassChar(start);
      let hi = lo;
      if (text[this.pos] === '-' && this.pos + 1 < text.length && text[this.pos + 1] !== ']') {
        this.pos++;
        hi = this.parseClassChar(start);
        if (hi < lo) {
          throw new Re2SyntaxError(RE2_ERROR.invalidCharRange, text.slice(rangeStart, this.pos));
        }
      }
      const range = [lo, hi];
      cls.ranges = union(cls.ranges, this.flags.foldCase ? foldRanges(range) : range);
    }
    this.pos++;
    return { kind: 'class', cls, negated };
  }

  private parseClassChar(classStart: number): number {
    if (this.pos >= this.text.length) {
      throw new Re2SyntaxError(RE2_ERROR.missingBracket, this.text.slice(classStart));
    }
    if (this.text[this.pos] === '\\') return this.parseEscape();
    const codePoint = this.text.codePointAt(this.pos)!;
    this.pos += codePoint > 0xffff ? 2 : 1;
    return codePoint;
  }

  /** `\pL`, `\p{Greek}`, `\PL`, `\p{^Greek}` at `pos`, added to `cls`; false when not one. */
  private parseUnicodeClass(cls: CharClass): boolean {
    const text = this.text;
    if (text[this.pos] !== '\\' || (text[this.pos + 1] !== 'p' && text[this.pos + 1] !== 'P')) {
      return false;
    }
    let negated = text[this.pos + 1] === 'P';
    let seq: string;
    let name: string;
    if (text[this.pos + 2] === '{') {
      const end = text.indexOf('}', this.pos);
      if (end < 0) throw new Re2SyntaxError(RE2_ERROR.invalidCharRange, text.slice(this.pos));
      seq = text.slice(this.pos, end + 1);
      name = text.slice(this.pos + 3, end);
    } else {
      const codePoint = text.codePointAt(this.pos + 2);
      const width = codePoint === undefined ? 0 : codePoint > 0xffff ? 2 : 1;
      seq = text.slice(this.pos, this.pos + 2 + width);
      name = seq.slice(2);
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    if (name === 'Any') {
      this.pos += seq.length;
      addGroup(cls, [0, MAX_CODE_POINT], negated, false);
      return true;
    }
    const properties = GO_CATEGORIES[name] ?? goScriptProperty(name);
    if (properties === undefined) throw new Re2SyntaxError(RE2_ERROR.invalidCharRange, seq);
    this.pos += seq.length;
    if (this.flags.foldCase || (negated && properties.length > 1)) {
      // Case folding needs the code points; so does negating a union of properties.
      addGroup(cls, propertyRanges(properties), negated, this.flags.foldCase);
    } else if (negated) {
      cls.props.push(properties[0]!.replace('\\p', '\\P'));
    } else {
      cls.props.push(...properties);
    }
    return true;
  }

  /** `\d \s \w \D \S \W` at `pos`, added to `cls`; false when not one. */
  private parsePerlClass(cls: CharClass): boolean {
    if (this.text[this.pos] !== '\\') return false;
    const letter = this.text[this.pos + 1] ?? '';
    const ranges = PERL_CLASSES[letter.toLowerCase()];
    if (ranges === undefined) return false;
    this.pos += 2;
    addGroup(cls, ranges, letter !== letter.toLowerCase(), this.flags.foldCase);
    return true;
  }

  /** A single-character escape at `pos` (Go's parseEscape); returns its code point. */
  private parseEscape(): number {
    const text = this.text;
    const start = this.pos;
    if (start + 1 >= text.length) throw new Re2SyntaxError(RE2_ERROR.trailingBackslash, '');
    const c = text.codePointAt(start + 1)!;
    this.pos = start + 1 + (c > 0xffff ? 2 : 1);
    const invalid = (): Re2SyntaxError =>
      new Re2SyntaxError(RE2_ERROR.invalidEscape, text.slice(start, this.pos));
    if (c < 0x80 && !/[0-9A-Za-z]/.test(String.fromCharCode(c))) return c;
    const simple: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
    const ch = String.fromCodePoint(c);
    if (simple[ch] !== undefined) return simple[ch];
    if (ch >= '0' && ch <= '7') {
      // \1-\7 alone would be a backreference, which RE2 does not have.
      if (ch !== '0' && !/[0-7]/.test(text[this.pos] ?? '')) throw invalid();
      let value = c - 0x30;
      for (let digits = 1; digits < 3 && /[0-7]/.test(text[this.pos] ?? ''); digits++) {
        value = value * 8 + (text.charCodeAt(this.pos) - 0x30);
        this.pos++;
      }
      return value;
    }
    if (ch === 'x') {
      // Go reports the text up to the character where the escape went wrong.
      const next = (): string | undefined => {
        const cp = text.codePointAt(this.pos);
        if (cp === undefined) return undefined;
        this.pos += cp > 0xffff ? 2 : 1;
        return String.fromCodePoint(cp);
      };
      const first = next();
      if (first === undefined) throw invalid();
      if (first === '{') {
        let value = 0;
        let digits = 0;
        for (;;) {
          const digit = next();
          if (digit === undefined) throw invalid();
          if (digit === '}') break;
          if (!/^[0-9A-Fa-f]$/.test(digit)) throw invalid();
          value = value * 16 + Number.parseInt(digit, 16);
          if (value > MAX_CODE_POINT) throw invalid();
          digits++;
        }
        if (digits === 0) throw invalid();
        return value;
      }
      const second = next() ?? '';
      if (!/^[0-9A-Fa-f]{2}$/.test(first + second)) throw invalid();
      return Number.parseInt(first + second, 16);
    }
    throw invalid();
  }

  private literal(codePoint: number): Node {
    if (this.flags.foldCase) {
      const orbit = foldOrbit(codePoint);
      if (orbit !== undefined) {
        return {
          kind: 'class',
          cls: { ranges: union([], orbitRanges(orbit)), props: [] },
          negated: false,
        };
      }
    }
    return { kind: 'literal', codePoint };
  }
}

function assertion(source: string): Node {
  return { kind: 'raw', source, assertion: true };
}

function hasLeadingZero(digits: string): boolean {
  return digits.length >= 2 && digits[0] === '0';
}

/** Go's parseInt for repeat counts: -1 once the number passes 1e8 (too big either way). */
function parseRepeatNumber(digits: string): number {
  let value = 0;
  for (const d of digits) {
    if (value >= 1e8) return -1;
    value = value * 10 + (d.charCodeAt(0) - 0x30);
  }
  return value;
}

/** Go's repeatIsValid: nested counted repetitions may not multiply past 1000. */
function repeatIsValid(node: Node, limit: number): boolean {
  let n = limit;
  if (node.kind === 'repeat') {
    let m = node.max;
    if (m === 0) return true;
    if (m < 0) m = node.min;
    if (m > n) return false;
    if (m > 0) n = Math.floor(n / m);
  }
  switch (node.kind) {
    case 'repeat':
    case 'group':
      return repeatIsValid(node.sub, n);
    case 'concat':
    case 'alternate':
      return node.subs.every((sub) => repeatIsValid(sub, n));
    default:
      return true;
  }
}

function addGroup(cls: CharClass, ranges: Ranges, negated: boolean, foldCase: boolean): void {
  let group = foldCase ? foldRanges(ranges) : ranges;
  if (negated) group = negate(group);
  cls.ranges = union(cls.ranges, group);
}

function printNode(node: Node): string {
  switch (node.kind) {
    case 'empty':
      return '';
    case 'literal':
      return escapeCodePoint(node.codePoint);
    case 'raw':
      return node.source;
    case 'class':
      return printClass(node.cls, node.negated);
    case 'group':
      return node.capture ? `(${printNode(node.sub)})` : `(?:${printNode(node.sub)})`;
    case 'concat':
      return node.subs.map(printNode).join('');
    case 'alternate':
      return node.subs.map(printNode).join('|');
    case 'repeat': {
      const sub = node.sub;
      const atomic = sub.kind === 'literal' || sub.kind === 'class' || sub.kind === 'group';
      const body = atomic ? printNode(sub) : `(?:${printNode(sub)})`;
      let quantifier: string;
      if (node.min === 0 && node.max === -1) quantifier = '*';
      else if (node.min === 1 && node.max === -1) quantifier = '+';
      else if (node.min === 0 && node.max === 1) quantifier = '?';
      else if (node.max === -1) quantifier = `{${node.min},}`;
      else if (node.min === node.max) quantifier = `{${node.min}}`;
      else quantifier = `{${node.min},${node.max}}`;
      return `${body}${quantifier}${node.greedy ? '' : '?'}`;
    }
  }
}

function printClass(cls: CharClass, negated: boolean): string {
  let body = '';
  for (let i = 0; i < cls.ranges.length; i += 2) {
    const lo = cls.ranges[i]!;
    const hi = cls.ranges[i + 1]!;
    body += lo === hi ? escapeCodePoint(lo) : `${escapeCodePoint(lo)}-${escapeCodePoint(hi)}`;
  }
  body += cls.props.join('');
  return negated ? `[^${body}]` : `[${body}]`;
}

/** Letters and digits as they are; everything else as `\u{..}`, valid in and out of classes. */
function escapeCodePoint(codePoint: number): string {
  const isAlnum =
    (codePoint >= 0x30 && codePoint <= 0x39) ||
    (codePoint >= 0x41 && codePoint <= 0x5a) ||
    (codePoint >= 0x61 && codePoint <= 0x7a);
  return isAlnum ? String.fromCharCode(codePoint) : `\\u{${codePoint.toString(16)}}`;
}

function union(a: Ranges, b: Ranges): Ranges {
  const pairs: [number, number][] = [];
  for (let i = 0; i < a.length; i += 2) pairs.push([a[i]!, a[i + 1]!]);
  for (let i = 0; i < b.length; i += 2) pairs.push([b[i]!, b[i + 1]!]);
  pairs.sort((x, y) => x[0] - y[0]);
  const out: Ranges = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

function negate(ranges: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    if (ranges[i]! > next) out.push(next, ranges[i]! - 1);
    next = ranges[i + 1]! + 1;
  }
  if (next <= MAX_CODE_POINT) out.push(next, MAX_CODE_POINT);
  return out;
}

const propertyRangeCache = new Map<string, Ranges>();

/** The code points of a property escape, found by testing each one (only under `(?i)`). */
function propertyRanges(properties: readonly string[]): Ranges {
  const key = properties.join('');
  const cached = propertyRangeCache.get(key);
  if (cached !== undefined) return cached;
  const regex = new RegExp(`^[${key}]$`, 'u');
  const ranges: Ranges = [];
  for (let cp = 0; cp <= MAX_CODE_POINT; cp++) {
    if (!regex.test(String.fromCodePoint(cp))) continue;
    const last = ranges.length - 1;
    if (last > 0 && ranges[last] === cp - 1) ranges[last] = cp;
    else ranges.push(cp, cp);
  }
  propertyRangeCache.set(key, ranges);
  return ranges;
}

let foldOrbits: Map<number, readonly number[]> | undefined;
let foldableCodePoints: number[] = [];

/**
 * The simple case-folding orbit of a code point (`k` → k, K, U+212A KELVIN SIGN), as Go's
 * `unicode.SimpleFold` walks it; undefined when it folds to nothing else. Built once from
 * JavaScript's single-code-point case mappings; the Turkish dotted/dotless i are left out,
 * as Unicode's simple case folding leaves them out.
 */
function foldOrbit(codePoint: number): readonly number[] | undefined {
  if (foldOrbits === undefined) buildFoldOrbits();
  return foldOrbits!.get(codePoint);
}

function buildFoldOrbits(): void {
  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let root = x;
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root)!;
    parent.set(x, root);
    return root;
  };
  const unite = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  for (let cp = 0; cp < 0x20000; cp++) {
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp === 0x130 || cp === 0x131) continue;
    const s = String.fromCodePoint(cp);
    for (const mapped of [s.toLowerCase(), s.toUpperCase()]) {
      if (mapped === s) continue;
      const other = mapped.codePointAt(0)!;
      if (
        mapped.length !== String.fromCodePoint(other).length ||
        other === 0x130 ||
        other === 0x131
      ) {
        continue;
      }
      unite(cp, other);
    }
  }
  const groups = new Map<number, number[]>();
  for (const cp of parent.keys()) {
    const root = find(cp);
    const group = groups.get(root) ?? [];
    group.push(cp);
    groups.set(root, group);
  }
  foldOrbits = new Map();
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    group.sort((a, b) => a - b);
    for (const cp of group) foldOrbits.set(cp, group);
  }
  foldableCodePoints = [...foldOrbits.keys()].sort((a, b) => a - b);
}

function orbitRanges(orbit: readonly number[]): Ranges {
  return orbit.flatMap((cp) => [cp, cp]);
}

/** Adds every case variant of every code point in `ranges` (Go's appendFoldedRange). */
function foldRanges(ranges: Ranges): Ranges {
  if (foldOrbits === undefined) buildFoldOrbits();
  const extra: Ranges = [];
  for (let i = 0; i < ranges.length; i += 2) {
    const lo = ranges[i]!;
    const hi = ranges[i + 1]!;
    let index = lowerBound(foldableCodePoints, lo);
    for (; index < foldableCodePoints.length && foldableCodePoints[index]! <= hi; index++) {
      extra.push(...orbitRanges(foldOrbits!.get(foldableCodePoints[index]!)!));
    }
  }
  return union(ranges, extra);
}

function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
