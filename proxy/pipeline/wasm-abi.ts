/**
 * Constants of the WebAssembly module's interface, mirrored from `wasm/assembly/abi.ts`.
 * `wasm/ABI.md` describes each one; `wasm-abi.test.ts` checks both sides agree.
 */

export const OP_MATCH = 0;
export const OP_REPLACE = 1;
export const OP_LABELMAP = 2;
export const OP_HASHMOD = 3;
export const OP_LOWERCASE = 4;
export const OP_UPPERCASE = 5;

export const FLAG_SNAPPY_IN = 1;
export const FLAG_SNAPPY_OUT = 2;

export const STATUS_OK = 0;
export const STATUS_UNCHANGED = 1;
export const ERR_SNAPPY = -1;
export const ERR_TOO_LARGE = -2;
export const ERR_PROTOBUF = -3;
export const ERR_LABELS_UNSORTED = -4;
export const ERR_LABEL_DUPLICATE = -5;
export const ERR_LABEL_NAME_EMPTY = -6;
export const ERR_LABEL_NAME_INVALID = -7;
export const ERR_TOO_MANY_LABELS = -8;
export const ERR_HOST = -9;
export const ERR_PROGRAM = -10;

export const STAT_SERIES_IN = 0;
export const STAT_SERIES_OUT = 1;
export const STAT_SAMPLES_IN = 2;
export const STAT_SAMPLES_OUT = 3;
export const STAT_EXEMPLARS_IN = 4;
export const STAT_EXEMPLARS_OUT = 5;
export const STAT_HISTOGRAMS_IN = 6;
export const STAT_HISTOGRAMS_OUT = 7;
export const STAT_METADATA_IN = 8;
export const STAT_METADATA_OUT = 9;
export const STAT_SERIES_DROPPED = 10;
export const STAT_SERIES_COLLISIONS = 11;
export const STAT_BYTES_DECODED = 12;
export const STAT_BYTES_ENCODED = 13;
export const STAT_HOST_EVALS = 14;
export const STAT_INTERN_RESETS = 15;
export const STATS_COUNT = 16;

export const PROGRAM_MAGIC = 0x31584850;

export const ACTION_REPLACE = 0;
export const ACTION_KEEP = 1;
export const ACTION_DROP = 2;
export const ACTION_HASHMOD = 3;
export const ACTION_LABELMAP = 4;
export const ACTION_LABELDROP = 5;
export const ACTION_LABELKEEP = 6;
export const ACTION_KEEPEQUAL = 7;
export const ACTION_DROPEQUAL = 8;
export const ACTION_LOWERCASE = 9;
export const ACTION_UPPERCASE = 10;

/** Rule flag: default regex and a replacement without `$`; the module may skip the host. */
export const RULE_FLAG_LITERAL = 1;

/** Stream aggregation: `host.evaluate` op classifying a new input series (wasm/ABI.md). */
export const OP_CLASSIFY = 6;

/** Stream aggregation counters, f64 slots at `aggregateStatsPtr()`. */
export const AGG_STAT_SAMPLES = 0;
export const AGG_STAT_LATE = 1;
export const AGG_STAT_DUPLICATE = 2;
export const AGG_STAT_NAN = 3;
export const AGG_STAT_STALE_MARKERS = 4;
export const AGG_STAT_SERIES_TRACKED = 5;
export const AGG_STAT_GROUPS = 6;
export const AGG_STAT_STATE_BYTES = 7;
export const AGG_STAT_SERIES_EXPIRED = 8;
export const AGG_STAT_CLASSIFY_CALLS = 9;
export const AGG_STATS_COUNT = 10;
