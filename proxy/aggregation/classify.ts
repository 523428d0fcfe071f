/**
 * The host's answer to `OP_CLASSIFY`: given the labels of an input series seen for the
 * first time, which aggregation rules select it and the encoded labels of each output
 * series of its group. Runs once per distinct input series, never per sample.
 */
import type { AggregationRule } from '../pipeline/aggregation-config.js';
import { selectorMatches } from '../pipeline/selector.js';
import { ProtoWriter } from '../wire/proto-writer.js';

/**
 * Label a gateway of the two-tier layout adds to each copy of a series it routes to an
 * aggregator: the index of the one rule that copy is for (docs/aggregation-tier.md).
 * The aggregator classifies the copy for that rule only and groups without the label.
 */
export const TIER_RULE_LABEL = '__phoenix_tier_rule';
const decoder = new TextDecoder();

/** The output metric name of `rule`'s `output` for input metric `metric` (vmagent's naming). */
export function outputMetricName(rule: AggregationRule, metric: string, output: string): string {
  if (rule.keepMetricNames) return metric;
  let grouping = '';
  if (rule.by !== undefined) grouping = `_by_${rule.by.join('_')}`;
  else if (rule.without.length > 0) grouping = `_without_${rule.without.join('_')}`;
  return `${metric}:${rule.interval}${grouping}_${output}`;
}

/** The `quantile` label value of φ (`0.5`, `0.99`), as vmagent formats it. */
export function quantileLabel(phi: number): string {
  return String(phi);
}

/** The labels (without `__name__`) that identify the output group of a series under `rule`. */
export function groupLabels(
  rule: AggregationRule,
  labels: ReadonlyMap<string, string>,
): Map<string, string> {
  const group = new Map<string, string>();
  const keepLe = rule.outputs.includes('histogram_bucket');
  for (const [name, value] of labels) {
    if (name === '__name__' || rule.dropInputLabels.includes(name)) continue;
    if (rule.by !== undefined) {
      if (rule.by.includes(name) || (keepLe && name === 'le')) group.set(name, value);
    } else if (!rule.without.includes(name)) {
      group.set(name, value);
    }
  }
  return group;
}

/** Reads the labels of a TimeSeries payload (protobuf) into a map. */
export function decodeSeriesLabels(payload: Uint8Array): Map<string, string> {
  const labels = new Map<string, string>();
  const reader = new WireReader(payload);
  while (reader.more(payload.length)) {
    const tag = reader.varint();
    if (tag >>> 3 === 1 && (tag & 7) === 2) {
      const end = reader.length() + reader.pos;
      let name = '';
      let value = '';
      while (reader.more(end)) {
        const labelTag = reader.varint();
        if ((labelTag & 7) === 2) {
          const len = reader.length();
          const text = decodeText(payload, reader.pos, reader.pos + len);
          if (labelTag >>> 3 === 1) name = text;
          else if (labelTag >>> 3 === 2) value = text;
          reader.pos += len;
        } else {
          reader.skip(labelTag & 7);
        }
      }
      reader.pos = end;
      labels.set(name, value);
    } else {
      reader.skip(tag & 7);
    }
  }
  return labels;
}

/** Label names and most values are short ASCII: build those without a native call. */
const SHORT_TEXT_BYTES = 48;

function decodeText(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= SHORT_TEXT_BYTES) {
    let text = '';
    for (let i = start; i < end; i++) {
      const byte = bytes[i]!;
      if (byte >= 0x80) return decoder.decode(bytes.subarray(start, end));
      text += String.fromCharCode(byte);
    }
    return text;
  }
  return decoder.decode(bytes.subarray(start, end));
}

class WireReader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  more(end: number): boolean {
    return this.pos < end;
  }

  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (;;) {
      const byte = this.bytes[this.pos++];
      if (byte === undefined) throw new Error('truncated varint');
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return result;
      multiplier *= 128;
    }
  }

  length(): number {
    const len = this.varint();
    if (this.pos + len > this.bytes.length) throw new Error('truncated field');
    return len;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) {
      // Read the length first: `this.pos += this.length()` would add to the old position.
      const len = this.length();
      this.pos += len;
    } else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** Reused by every classification: label names and values are written without a copy. */
const labelWriter = new ProtoWriter();

/** Writes sorted label fields (`Label` messages as field 1 of a TimeSeries) to `writer`. */
function writeLabelFields(writer: ProtoWriter, labels: ReadonlyMap<string, string>): void {
  const names = [...labels.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const mark = writer.beginMessage(1);
    writer.stringField(1, name);
    writer.stringField(2, labels.get(name) ?? '');
    writer.endMessage(mark);
  }
}

/** Encodes sorted label fields (`Label` messages as field 1 of a TimeSeries). */
export function encodeLabelFields(labels: ReadonlyMap<string, string>): Uint8Array {
  labelWriter.reset();
  writeLabelFields(labelWriter, labels);
  return labelWriter.copy();
}

/** Appends the protobuf varint of `value` to `out`. */
export function pushVarint(out: number[], value: number): void {
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/**
 * A rule's `input_relabel_configs` applied to a matched series: its labels as the rule
 * aggregates them, or `null` when the rule's relabeling drops it.
 */
export type InputRelabel = (
  rule: number,
  labels: ReadonlyMap<string, string>,
) => ReadonlyMap<string, string> | null;

/**
 * Writes the classification answer for a series into `out` (the module's host-out
 * buffer): `u32 matchCount`, then per matching rule `u32 rule, u32 blobBytes` and, per
 * output in kind order, `u32 length` and the encoded label fields. `relabelInput` applies
 * each matching rule's input relabeling; `onlyRule` restricts the answer to one rule.
 * Returns the bytes written, or -2 when they do not fit.
 */
export function writeClassification(
  rules: readonly AggregationRule[],
  labels: ReadonlyMap<string, string>,
  out: Uint8Array,
  relabelInput: InputRelabel = (_rule, unchanged) => unchanged,
  onlyRule?: number,
): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let pos = 4;
  let matchCount = 0;
  for (let index = 0; index < rules.length; index++) {
    const rule = rules[index]!;
    if (onlyRule !== undefined && index !== onlyRule) continue;
    if (!rule.match.some((selector) => selectorMatches(selector, labels))) continue;
    // `match` sees the series as it arrived; grouping and naming see it relabeled.
    const relabeled = relabelInput(index, labels);
    if (relabeled === null) continue;
    const metric = relabeled.get('__name__') ?? '';
    const group = groupLabels(rule, relabeled);
    const header = pos;
    pos += 8;
    /** Appends one output's blob: its length, then its label fields. */
    const writeBlob = (labels: ReadonlyMap<string, string>): boolean => {
      labelWriter.reset();
      writeLabelFields(labelWriter, labels);
      const blob = labelWriter.view();
      if (pos + 4 + blob.length > out.length) return false;
      view.setUint32(pos, blob.length, true);
      out.set(blob, pos + 4);
      pos += 4 + blob.length;
      return true;
    };
    if (header + 8 > out.length) return -2;
    for (const output of rule.outputs) {
      group.set('__name__', outputMetricName(rule, metric, output));
      if (output !== 'quantiles') {
        if (!writeBlob(group)) return -2;
        continue;
      }
      // One output series per φ, told apart by the `quantile` label as in vmagent.
      for (const phi of rule.quantiles ?? []) {
        if (!writeBlob(new Map([...group, ['quantile', quantileLabel(phi)]]))) return -2;
      }
    }
    view.setUint32(header, index, true);
    view.setUint32(header + 4, pos - header - 8, true);
    matchCount++;
  }
  view.setUint32(0, matchCount, true);
  return pos;
}
