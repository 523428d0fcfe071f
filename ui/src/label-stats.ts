/** Distinct values per label of one metric, counted over a list of series. */
import type { PreviewSeries } from '../../proto/gen/phoenix/v1/pipeline_pb.js';

export interface LabelStat {
  readonly label: string;
  readonly distinctValues: number;
}

/** Labels of `metric`'s series (except `__name__`), most distinct values first. */
export function labelStats(series: readonly PreviewSeries[], metric: string): LabelStat[] {
  const values = new Map<string, Set<string>>();
  for (const entry of series) {
    const name = entry.labels.find((label) => label.name === '__name__')?.value;
    if (name !== metric) continue;
    for (const label of entry.labels) {
      if (label.name === '__name__') continue;
      let seen = values.get(label.name);
      if (seen === undefined) {
        seen = new Set();
        values.set(label.name, seen);
      }
      seen.add(label.value);
    }
  }
  return [...values.entries()]
    .map(([label, seen]) => ({ label, distinctValues: seen.size }))
    .sort((a, b) => b.distinctValues - a.distinctValues || a.label.localeCompare(b.label));
}

/** Series per metric name, most first. */
export function metricCounts(
  series: readonly PreviewSeries[],
): Array<{ name: string; value: number }> {
  const counts = new Map<string, number>();
  for (const entry of series) {
    const name = entry.labels.find((label) => label.name === '__name__')?.value ?? '';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts.entries()]
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => b.value - a.value || a.name.localeCompare(b.name));
}
