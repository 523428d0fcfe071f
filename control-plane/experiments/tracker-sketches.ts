/**
 * {@link SeriesSketches} over the proxies' cardinality trackers (proxy/cardinality): an arm's
 * sketch is a serialized tracker, so the merge across proxies is the trackers' own merge.
 * Like the pipeline model, the tracker format is a pure module the control plane may use.
 */
import {
  decodeTracker,
  encodeTracker,
  mergeTrackers,
  OTHER_METRIC_KEY,
} from '../../proxy/cardinality/tracker.js';
import type { SeriesSketches } from './arm-results.js';

export const trackerSketches: SeriesSketches = {
  merge(sketches) {
    const present = sketches.filter((sketch) => sketch.length > 0);
    return encodeTracker(mergeTrackers(present.map(decodeTracker)));
  },
  count(sketch) {
    return sketch.length === 0 ? 0 : decodeTracker(sketch).total.estimate();
  },
  metrics(sketch) {
    const metrics = new Map<string, { series: number; labels: readonly string[] }>();
    if (sketch.length === 0) return metrics;
    for (const [key, metric] of decodeTracker(sketch).metrics) {
      if (key === OTHER_METRIC_KEY) continue;
      metrics.set(metric.name, {
        series: metric.series.estimate(),
        labels: [...metric.labels.keys()].filter((name) => name !== '__name__'),
      });
    }
    return metrics;
  },
};
