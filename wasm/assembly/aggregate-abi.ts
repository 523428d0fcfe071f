// Constants of the aggregation half of the module's interface (see wasm/ABI.md,
// "Stream aggregation"). Mirrored by proxy/aggregation/aggregate-abi.ts.

/** `host.evaluate` op asking the host which rules a new input series matches. */
export const OP_CLASSIFY: i32 = 6;

/** Output kinds: bit `1 << kind` in a rule's output mask. Blobs come in this order. */
export const OUT_TOTAL: u32 = 0;
export const OUT_TOTAL_PROMETHEUS: u32 = 1;
export const OUT_INCREASE: u32 = 2;
export const OUT_INCREASE_PROMETHEUS: u32 = 3;
export const OUT_SUM_SAMPLES: u32 = 4;
export const OUT_COUNT_SAMPLES: u32 = 5;
export const OUT_COUNT_SERIES: u32 = 6;
export const OUT_LAST: u32 = 7;
export const OUT_MIN: u32 = 8;
export const OUT_MAX: u32 = 9;
export const OUT_AVG: u32 = 10;
export const OUT_RATE_SUM: u32 = 11;
export const OUT_RATE_AVG: u32 = 12;
export const OUT_HISTOGRAM_BUCKET: u32 = 13;
/** One output series per φ of the rule (aggregateSetRuleQuantile), each with its own blob. */
export const OUT_QUANTILES: u32 = 14;
export const OUTPUT_KINDS: u32 = 15;

/** Most φ values one rule's `quantiles(...)` output may have. */
export const MAX_QUANTILES: u32 = 16;

/**
 * Samples a group keeps per window for its quantiles: exact up to this many, a uniform
 * reservoir sample of this many beyond (docs/aggregation.md, "Quantiles").
 */
export const QUANTILE_RESERVOIR: u32 = 512;

/** Most aggregation rules one configuration may hold (a series' matches are a u64 mask). */
export const MAX_AGGREGATION_RULES: u32 = 64;

/** Cumulative counters since the last `aggregateConfigure` (f64 slots). */
export const AGG_STAT_SAMPLES: i32 = 0;
export const AGG_STAT_LATE: i32 = 1;
export const AGG_STAT_DUPLICATE: i32 = 2;
export const AGG_STAT_NAN: i32 = 3;
export const AGG_STAT_STALE_MARKERS: i32 = 4;
export const AGG_STAT_SERIES_TRACKED: i32 = 5;
export const AGG_STAT_GROUPS: i32 = 6;
export const AGG_STAT_STATE_BYTES: i32 = 7;
export const AGG_STAT_SERIES_EXPIRED: i32 = 8;
export const AGG_STAT_CLASSIFY_CALLS: i32 = 9;
export const AGG_STATS_COUNT: i32 = 10;

/** Snapshot format magic, "PHS1". */
export const SNAPSHOT_MAGIC: u32 = 0x31534850;

/** Hand-off format magic, "PHH1" (aggregate-handoff.ts). */
export const HANDOFF_MAGIC: u32 = 0x31484850;
