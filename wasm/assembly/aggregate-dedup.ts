// dedup_interval: per input series and rule, only the last sample of each dedup interval
// (aligned to multiples of the interval on the sample timestamps) is aggregated; on equal
// timestamps the larger value wins, as in vmagent's deduplication. Two HA senders that
// write the same series therefore count once. The candidate of the open dedup interval
// waits in a table of its own; it is accepted when a sample of a later interval arrives or
// when the rule flushes, whichever comes first. After that, samples of the same interval
// are duplicates.

import { AGG_STAT_DUPLICATE } from './aggregate-abi';
import { acceptSample } from './aggregate-accept';
import {
  DEDUP_RULE,
  DEDUP_TS,
  DEDUP_VALUE,
  dedupTable,
  SERIES_LAST_TS,
  seriesTable,
  statAdd,
} from './aggregate-state';

function intervalOf(timestamp: i64, dedupMs: f64): f64 {
  return Math.floor(<f64>timestamp / dedupMs);
}

/** Offers a sample (not late, not NaN) of the series `entry` under a deduplicated rule. */
export function offerDeduplicated(
  entry: usize,
  rule: u32,
  value: f64,
  timestamp: i64,
  dedupMs: f64,
): void {
  let key = load<u64>(entry);
  let interval = intervalOf(timestamp, dedupMs);
  let pending = dedupTable.find(key);
  if (pending !== 0) {
    let pendingTs = load<i64>(pending, DEDUP_TS);
    let pendingValue = load<f64>(pending, DEDUP_VALUE);
    let pendingInterval = intervalOf(pendingTs, dedupMs);
    if (interval === pendingInterval) {
      // One of the two is dropped either way.
      statAdd(AGG_STAT_DUPLICATE, 1);
      if (timestamp > pendingTs || (timestamp === pendingTs && value > pendingValue)) {
        store<i64>(pending, timestamp, DEDUP_TS);
        store<f64>(pending, value, DEDUP_VALUE);
      }
      return;
    }
    if (interval < pendingInterval) {
      statAdd(AGG_STAT_DUPLICATE, 1);
      return;
    }
    // A later interval began: the candidate of the earlier one is final.
    acceptSample(entry, rule, pendingValue, pendingTs);
    store<i64>(pending, timestamp, DEDUP_TS);
    store<f64>(pending, value, DEDUP_VALUE);
    return;
  }
  let lastTs = load<i64>(entry, SERIES_LAST_TS);
  if (lastTs !== i64.MIN_VALUE && interval <= intervalOf(lastTs, dedupMs)) {
    statAdd(AGG_STAT_DUPLICATE, 1);
    return;
  }
  pending = dedupTable.findOrInsert(key);
  store<i64>(pending, timestamp, DEDUP_TS);
  store<f64>(pending, value, DEDUP_VALUE);
  store<u32>(pending, rule, DEDUP_RULE);
}

/** Accepts every waiting candidate of `rule` (called when the rule flushes). */
export function acceptPendingOf(rule: u32): void {
  let i: u32 = 0;
  // Removing shifts later entries back into slot i, so i advances only past kept entries;
  // an entry shifted across the wrap-around was visited before and is not of this rule.
  while (i < dedupTable.capacity) {
    let pending = dedupTable.entryAt(i);
    let key = load<u64>(pending);
    if (key === 0 || load<u32>(pending, DEDUP_RULE) !== rule) {
      i++;
      continue;
    }
    let entry = seriesTable.find(key);
    if (entry !== 0) {
      acceptSample(entry, rule, load<f64>(pending, DEDUP_VALUE), load<i64>(pending, DEDUP_TS));
    }
    dedupTable.removeAt(i);
  }
}
