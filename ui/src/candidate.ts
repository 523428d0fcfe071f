/**
 * Drafting a candidate pipeline from the active one: "try dropping this label" appends a
 * `labeldrop` rule, keeping the rest of the YAML (and its comments) as it was.
 */
import { isMap, isSeq, parseDocument } from 'yaml';

/** Escapes a label name for an RE2 regex (label names only have [a-zA-Z0-9_]). */
function regexFor(label: string): string {
  return label.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/** The config text with a `labeldrop` of `label` appended to `relabel_configs`. */
export function withLabelDrop(configYaml: string, label: string): string {
  const document = parseDocument(configYaml === '' ? '{}' : configYaml);
  if (document.errors.length > 0) {
    throw new Error(
      `the active pipeline's YAML does not parse: ${document.errors[0]?.message ?? ''}`,
    );
  }
  const rule = { action: 'labeldrop', regex: regexFor(label) };
  if (document.contents === null || !isMap(document.contents)) {
    return `relabel_configs:\n  - action: labeldrop\n    regex: ${regexFor(label)}\n`;
  }
  const rules = document.get('relabel_configs');
  if (isSeq(rules)) rules.add(document.createNode(rule));
  else document.set('relabel_configs', document.createNode([rule]));
  return document.toString({ flowCollectionPadding: false });
}
