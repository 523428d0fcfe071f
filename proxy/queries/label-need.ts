/**
 * Which labels of a series a query's answer depends on, as a set that can also be "every
 * label but these" (what `without (...)`, `ignoring (...)` and an unaggregated result
 * need). Closed under union, which is all the PromQL walk needs.
 */

/** `only`: exactly these labels; `all-except`: every label the series has but these. */
export type LabelNeed =
  | { readonly kind: 'only'; readonly labels: ReadonlySet<string> }
  | { readonly kind: 'all-except'; readonly labels: ReadonlySet<string> };

/** The need of an expression whose labels show in the result: all of them. */
export const ALL_LABELS: LabelNeed = { kind: 'all-except', labels: new Set() };

/** The need of an expression whose labels do not reach the result. */
export const NO_LABELS: LabelNeed = { kind: 'only', labels: new Set() };

export function onlyLabels(labels: Iterable<string>): LabelNeed {
  return { kind: 'only', labels: new Set(labels) };
}

export function allLabelsExcept(labels: Iterable<string>): LabelNeed {
  return { kind: 'all-except', labels: new Set(labels) };
}

/** Labels needed by either `a` or `b`. */
export function unionNeeds(a: LabelNeed, b: LabelNeed): LabelNeed {
  if (a.kind === 'only' && b.kind === 'only') return onlyLabels([...a.labels, ...b.labels]);
  if (a.kind === 'all-except' && b.kind === 'all-except') {
    return allLabelsExcept([...a.labels].filter((label) => b.labels.has(label)));
  }
  const [only, except] = a.kind === 'only' ? [a, b] : [b, a];
  return allLabelsExcept([...except.labels].filter((label) => !only.labels.has(label)));
}

/** Whether `label` is needed. */
export function needsLabel(need: LabelNeed, label: string): boolean {
  return need.kind === 'only' ? need.labels.has(label) : !need.labels.has(label);
}

/** `job, pod` or `all labels except instance`, for reasons and reports. */
export function describeNeed(need: LabelNeed): string {
  const names = [...need.labels].sort();
  if (need.kind === 'only') return names.length === 0 ? 'no labels' : names.join(', ');
  return names.length === 0 ? 'all labels' : `all labels except ${names.join(', ')}`;
}
