/**
 * OpenTelemetry → Prometheus names, as Prometheus' own OTLP receiver makes them with
 * suffixes on (`UnderscoreEscapingWithSuffixes`): characters outside `[a-zA-Z0-9_:]`
 * become `_`, the unit is appended in words (`ms` → `milliseconds`, `By/s` →
 * `bytes_per_second`), monotonic sums end in `_total`, and gauges of unit `1` in `_ratio`.
 * With `keepNames`, names are only made valid (no suffixes), for backends whose queries
 * already use the OpenTelemetry names.
 */

/** UCUM units as Prometheus spells them in metric names. */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '1': '',
  '%': 'percent',
};

/** The denominator of `x/y` units, in words. */
const PER_UNIT_WORDS: Readonly<Record<string, string>> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

/** What kind of Prometheus metric an OTLP metric becomes; decides the suffixes. */
export type MetricKind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** The Prometheus metric name (before `_bucket`/`_sum`/`_count`) of an OTLP metric. */
export function prometheusMetricName(
  name: string,
  unit: string,
  kind: MetricKind,
  keepNames: boolean,
): string {
  if (keepNames) return validName(name.replace(/[^a-zA-Z0-9_:]/g, '_'));
  const tokens = name.split(/[^a-zA-Z0-9:]+/).filter((token) => token !== '');
  const [mainUnit, perUnit] = unitWords(unit);
  if (mainUnit !== '' && !tokens.includes(mainUnit)) tokens.push(mainUnit);
  if (perUnit !== '' && !tokens.includes(perUnit)) tokens.push('per', perUnit);
  if (kind === 'counter') {
    const total = tokens.indexOf('total');
    if (total >= 0) tokens.splice(total, 1);
    tokens.push('total');
  }
  if (kind === 'gauge' && unit === '1' && !tokens.includes('ratio')) tokens.push('ratio');
  return validName(tokens.join('_'));
}

/** The unit of `unit` in words, and its `per` part: `By/s` → `['bytes', 'second']`. */
function unitWords(unit: string): [string, string] {
  // Annotations in braces ({requests}) carry no unit.
  const plain = unit.replace(/\{[^}]*\}/g, '').trim();
  if (plain === '') return ['', ''];
  const [main = '', per = ''] = plain.split('/', 2);
  return [wordsOf(main, UNIT_WORDS), wordsOf(per, PER_UNIT_WORDS)];
}

function wordsOf(unit: string, table: Readonly<Record<string, string>>): string {
  const trimmed = unit.trim();
  if (trimmed === '') return '';
  const word = table[trimmed] ?? trimmed;
  return word.replace(/[^a-zA-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
}

function validName(name: string): string {
  if (name === '') return '_';
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/**
 * A valid Prometheus label name for an OTLP attribute key: invalid characters become `_`,
 * and a leading digit gets a `key_` prefix, as Prometheus' receiver does.
 */
export function prometheusLabelName(key: string): string {
  let name = labelNames.get(key);
  if (name === undefined) {
    if (labelNames.size >= MAX_CACHED_LABEL_NAMES) labelNames.clear();
    name = sanitizeLabelName(key);
    labelNames.set(key, name);
  }
  return name;
}

/** Attribute keys repeat on every point: each is sanitized once. */
const labelNames = new Map<string, string>();
const MAX_CACHED_LABEL_NAMES = 10_000;

function sanitizeLabelName(key: string): string {
  const sanitized = key.replace(/[^a-zA-Z0-9_]/g, '_');
  if (sanitized === '') return 'key_';
  return /^[0-9]/.test(sanitized) ? `key_${sanitized}` : sanitized;
}
