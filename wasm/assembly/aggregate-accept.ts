// The state update for one accepted sample of an input series under one rule: counter
// increase (with resets), the window's gauges and, for quantiles rules, the sample buffer.
// Shared by direct ingestion and by the dedup stage, which accepts a sample only once its
// dedup interval is over.

import { AGG_STAT_SAMPLES, OUT_QUANTILES } from './aggregate-abi';
import { addQuantileSample } from './aggregate-quantiles';
import {
  GROUP_INCREASE,
  GROUP_LAST,
  GROUP_LAST_TS,
  GROUP_MAX,
  GROUP_MIN,
  GROUP_SUM,
  GROUP_TOTAL,
  GROUP_WINDOW_SAMPLES,
  GROUP_WINDOW_SERIES,
  groupPtr,
  RULE_OUTPUTS,
  RULE_WINDOW,
  rulePtr,
  SERIES_FLAG_WINDOW_RATE,
  SERIES_FLAGS,
  SERIES_GROUP,
  SERIES_LAST_TS,
  SERIES_LAST_VALUE,
  SERIES_WINDOW_FIRST_TS,
  SERIES_WINDOW_INCREASE,
  SERIES_WINDOW_SEEN,
  statAdd,
} from './aggregate-state';

/**
 * Adds a sample newer than the series entry's last accepted one to the open window of
 * `rule`. The caller has already rejected stale markers, NaN, late and duplicate samples.
 */
export function acceptSample(entry: usize, rule: u32, value: f64, timestamp: i64): void {
  statAdd(AGG_STAT_SAMPLES, 1);
  let r = rulePtr(rule);
  let lastTs = load<i64>(entry, SERIES_LAST_TS);
  let window = load<u32>(r, RULE_WINDOW);
  let group = groupPtr(load<u32>(entry, SERIES_GROUP));
  let firstInWindow = load<u32>(entry, SERIES_WINDOW_SEEN) !== window;
  if (firstInWindow) {
    store<u32>(entry, window, SERIES_WINDOW_SEEN);
    store<u32>(entry, 0, SERIES_FLAGS);
    store<f64>(entry, 0, SERIES_WINDOW_INCREASE);
    store<u32>(group, load<u32>(group, GROUP_WINDOW_SERIES) + 1, GROUP_WINDOW_SERIES);
  }
  if (lastTs !== i64.MIN_VALUE) {
    // A counter reset: the new value is the increase since the reset.
    let previous = load<f64>(entry, SERIES_LAST_VALUE);
    let increase = value >= previous ? value - previous : value;
    store<f64>(group, load<f64>(group, GROUP_TOTAL) + increase, GROUP_TOTAL);
    store<f64>(group, load<f64>(group, GROUP_INCREASE) + increase, GROUP_INCREASE);
    let flags = load<u32>(entry, SERIES_FLAGS);
    if ((flags & SERIES_FLAG_WINDOW_RATE) === 0) {
      store<u32>(entry, flags | SERIES_FLAG_WINDOW_RATE, SERIES_FLAGS);
      store<i64>(entry, lastTs, SERIES_WINDOW_FIRST_TS);
    }
    store<f64>(entry, load<f64>(entry, SERIES_WINDOW_INCREASE) + increase, SERIES_WINDOW_INCREASE);
  }
  store<i64>(entry, timestamp, SERIES_LAST_TS);
  store<f64>(entry, value, SERIES_LAST_VALUE);
  store<u32>(group, load<u32>(group, GROUP_WINDOW_SAMPLES) + 1, GROUP_WINDOW_SAMPLES);
  store<f64>(group, load<f64>(group, GROUP_SUM) + value, GROUP_SUM);
  if (value < load<f64>(group, GROUP_MIN)) store<f64>(group, value, GROUP_MIN);
  if (value > load<f64>(group, GROUP_MAX)) store<f64>(group, value, GROUP_MAX);
  let groupLastTs = load<i64>(group, GROUP_LAST_TS);
  if (
    timestamp > groupLastTs ||
    (timestamp === groupLastTs && value > load<f64>(group, GROUP_LAST))
  ) {
    store<i64>(group, timestamp, GROUP_LAST_TS);
    store<f64>(group, value, GROUP_LAST);
  }
  if ((load<u32>(r, RULE_OUTPUTS) & (1 << OUT_QUANTILES)) !== 0) addQuantileSample(group, value);
}
