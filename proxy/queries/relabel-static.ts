/**
 * Relabel rules evaluated without series, for one metric as a query selects it: rules
 * whose `source_labels` are known (the metric name, or labels the selector pins with `=`)
 * are evaluated exactly with the project's RE2 regexes; `labeldrop`/`labelkeep` regexes
 * are tested against label names. A rule that depends on label values the selector does
 * not pin is reported as uncertain, never assumed harmless.
 */
import { type CompiledRegex, compileRegex, goToLower, goToUpper } from '../pipeline/compile.js';
import type { RelabelRule } from '../pipeline/config.js';
import { expandTemplate } from '../pipeline/expand.js';

/** What a selector tells about its series before the pipeline. */
export interface RelabelSubject {
  /** The metric name; undefined when the selector does not name exactly one. */
  readonly metricName: string | undefined;
  /** Label values the selector fixes with `=` matchers (`''`: the label is absent). */
  readonly pinned: ReadonlyMap<string, string>;
}

/** A label-name pattern removing labels: `labeldrop` (matching) or `labelkeep` (not matching). */
export interface LabelRemovalPattern {
  readonly rule: string;
  readonly action: 'labeldrop' | 'labelkeep';
  readonly regex: CompiledRegex;
}

/** What the rules do to the subject's series. */
export interface RelabelOutcome {
  /** Set when every series of the subject is dropped (or loses its metric name). */
  readonly dropped: { readonly rule: string; readonly reason: string } | undefined;
  /** The metric name after the rules, when a rule renamed it. */
  readonly renamedTo: { readonly name: string; readonly rule: string } | undefined;
  /** The metric name after the rules (undefined when not known). */
  readonly metricName: string | undefined;
  /** Labels known to be removed, with the rule that removes them. */
  readonly removedLabels: ReadonlyMap<string, string>;
  /** Patterns that remove any label whose name they match (or do not match). */
  readonly removalPatterns: readonly LabelRemovalPattern[];
  /** Labels whose value a rule may set or change, with the rule. */
  readonly writtenLabels: ReadonlyMap<string, string>;
  /** Rules that may add labels with names not known statically (`labelmap`). */
  readonly addedLabelRules: readonly string[];
  /** Rules whose effect depends on label values the selector does not fix. */
  readonly uncertain: readonly { readonly rule: string; readonly reason: string }[];
  /** Label values known after the rules (pins updated by exactly evaluated rules). */
  readonly pinned: ReadonlyMap<string, string>;
}

/** Whether a pattern removes label `name`. */
export function patternRemoves(pattern: LabelRemovalPattern, name: string): boolean {
  const matched = pattern.regex.regex.test(name);
  return pattern.action === 'labeldrop' ? matched : !matched;
}

/** Runs `rules` (found at config path `basePath`) statically over `subject`. */
export function evaluateRelabelStatically(
  rules: readonly RelabelRule[],
  basePath: string,
  subject: RelabelSubject,
): RelabelOutcome {
  let metricName = subject.metricName;
  const pinned = new Map(subject.pinned);
  if (metricName !== undefined) pinned.set('__name__', metricName);
  const removedLabels = new Map<string, string>();
  const removalPatterns: LabelRemovalPattern[] = [];
  const writtenLabels = new Map<string, string>();
  const addedLabelRules: string[] = [];
  const uncertain: { rule: string; reason: string }[] = [];
  let renamedTo: { name: string; rule: string } | undefined;
  let dropped: { rule: string; reason: string } | undefined;
  const outcome = (): RelabelOutcome => ({
    dropped,
    renamedTo,
    metricName,
    removedLabels,
    removalPatterns,
    writtenLabels,
    addedLabelRules,
    uncertain,
    pinned,
  });

  for (const [index, rule] of rules.entries()) {
    const path = `${basePath}[${index}]`;
    const regex = compileRegex(rule.regex);
    const unknownSources = rule.sourceLabels.filter((label) => !pinned.has(label));
    const joined = rule.sourceLabels.map((label) => pinned.get(label) ?? '').join(rule.separator);
    const describeSources = `source_labels [${rule.sourceLabels.join(', ')}]`;
    const dependsOn = `depends on the values of ${unknownSources.join(', ')}`;
    const setLabel = (name: string, value: string): void => {
      if (name === '__name__') {
        if (value === '') {
          dropped = {
            rule: path,
            reason: `${path} (${rule.action} with an empty value, which removes the metric name)`,
          };
        } else if (value !== metricName) {
          metricName = value;
          renamedTo = { name: value, rule: path };
        }
      } else if (value === '') {
        removedLabels.set(name, path);
        writtenLabels.delete(name);
      } else if (pinned.get(name) !== value) {
        writtenLabels.set(name, path);
        removedLabels.delete(name);
      }
      if (value === '') pinned.delete(name);
      else pinned.set(name, value);
    };
    const unknownWrite = (name: string): void => {
      if (name === '__name__') {
        uncertain.push({
          rule: path,
          reason: `${path} (${rule.action}) may rename the metric: it ${dependsOn}`,
        });
        metricName = undefined;
      } else {
        writtenLabels.set(name, path);
        removedLabels.delete(name);
      }
      pinned.delete(name);
    };
    switch (rule.action) {
      case 'keep':
      case 'drop': {
        if (unknownSources.length > 0) {
          uncertain.push({
            rule: path,
            reason: `${path} (${rule.action}) may drop some series: it ${dependsOn}`,
          });
          break;
        }
        const matched = regex.regex.test(joined);
        if (matched === (rule.action === 'drop')) {
          dropped = {
            rule: path,
            reason: `${path} (${rule.action} ${describeSources} =~ ${JSON.stringify(rule.regex)})`,
          };
        }
        break;
      }
      case 'keepequal':
      case 'dropequal': {
        const target = pinned.get(rule.targetLabel);
        if (unknownSources.length > 0 || target === undefined) {
          uncertain.push({
            rule: path,
            reason: `${path} (${rule.action}) may drop some series: it depends on label values`,
          });
          break;
        }
        if ((joined === target) === (rule.action === 'dropequal')) {
          dropped = { rule: path, reason: `${path} (${rule.action} ${describeSources})` };
        }
        break;
      }
      case 'replace': {
        if (unknownSources.length > 0) {
          if (rule.targetLabel.includes('$')) {
            uncertain.push({
              rule: path,
              reason: `${path} (replace) writes a label named after values it cannot know: it ${dependsOn}`,
            });
          } else unknownWrite(rule.targetLabel);
          break;
        }
        const match = regex.regex.exec(joined);
        if (match === null) break;
        const target = expandTemplate(rule.targetLabel, match, regex.captureNames);
        setLabel(target, expandTemplate(rule.replacement, match, regex.captureNames));
        break;
      }
      case 'lowercase':
      case 'uppercase':
        if (unknownSources.length > 0) unknownWrite(rule.targetLabel);
        else
          setLabel(
            rule.targetLabel,
            rule.action === 'lowercase' ? goToLower(joined) : goToUpper(joined),
          );
        break;
      case 'hashmod':
        unknownWrite(rule.targetLabel);
        break;
      case 'labelmap':
        addedLabelRules.push(path);
        break;
      case 'labeldrop':
      case 'labelkeep': {
        const pattern: LabelRemovalPattern = { rule: path, action: rule.action, regex };
        removalPatterns.push(pattern);
        if (patternRemoves(pattern, '__name__')) {
          dropped = {
            rule: path,
            reason: `${path} (${rule.action} ${JSON.stringify(rule.regex)}, which removes the metric name)`,
          };
        }
        for (const name of [...pinned.keys()]) {
          if (name !== '__name__' && patternRemoves(pattern, name)) {
            pinned.delete(name);
            removedLabels.set(name, path);
          }
        }
        break;
      }
    }
    if (dropped !== undefined) break;
  }
  return outcome();
}

/** The label names an alternation of literals (`pod|instance`) matches; undefined otherwise. */
export function literalAlternatives(expression: string): string[] | undefined {
  if (!/^[A-Za-z0-9_:]+(\|[A-Za-z0-9_:]+)*$/.test(expression)) return undefined;
  return expression.split('|');
}
