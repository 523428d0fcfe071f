/**
 * How far back a query reads: its longest range (`rate(x[5m])`, a subquery's `[1h:1m]`)
 * plus any `offset`. A comparison of live answers must not start before that much data
 * exists on both sides, or a range that is only partly filled makes `rate` and friends
 * answer a fraction of the true value.
 */
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import { parseDurationMs } from '../pipeline/aggregation-config.js';
import { substituteTemplateVariables } from './grafana-template.js';

/** Durations written in a node (`5m`, `1h30m`); NaN when it holds none. */
function durationOf(text: string): number {
  return parseDurationMs(text.trim());
}

/** The longest look-back of `query` in ms; 0 for a query that reads only instants. */
export function lookBackMs(query: string): number {
  const text = substituteTemplateVariables(query).text;
  const tree = parser.parse(text);
  let longest = 0;
  const visit = (node: SyntaxNode, offsetMs: number): void => {
    let here = offsetMs;
    if (node.name === 'OffsetExpr') {
      const duration = node.getChild('OffsetDurationExpr') ?? node.lastChild;
      const ms =
        duration === null ? Number.NaN : durationOf(text.slice(duration.from, duration.to));
      if (Number.isFinite(ms) && ms > 0) here += ms;
    }
    if (node.name === 'MatrixSelector' || node.name === 'SubqueryExpr') {
      const duration = node.getChild('DurationExpr');
      const ms =
        duration === null ? Number.NaN : durationOf(text.slice(duration.from, duration.to));
      if (Number.isFinite(ms)) longest = Math.max(longest, ms + here);
    }
    for (let child = node.firstChild; child !== null; child = child.nextSibling) visit(child, here);
  };
  visit(tree.topNode, 0);
  return longest;
}
