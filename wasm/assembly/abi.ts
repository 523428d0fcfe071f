// Constants of the module's interface (see wasm/ABI.md). They are exported from index.ts as
// immutable globals so the host can check its mirror (proxy/pipeline/wasm-abi.ts) against them.

export const OP_MATCH: i32 = 0;
export const OP_REPLACE: i32 = 1;
export const OP_LABELMAP: i32 = 2;
export const OP_HASHMOD: i32 = 3;
export const OP_LOWERCASE: i32 = 4;
export const OP_UPPERCASE: i32 = 5;

export const FLAG_SNAPPY_IN: u32 = 1;
export const FLAG_SNAPPY_OUT: u32 = 2;

export const STATUS_OK: i32 = 0;
export const STATUS_UNCHANGED: i32 = 1;
export const ERR_SNAPPY: i32 = -1;
export const ERR_TOO_LARGE: i32 = -2;
export const ERR_PROTOBUF: i32 = -3;
export const ERR_LABELS_UNSORTED: i32 = -4;
export const ERR_LABEL_DUPLICATE: i32 = -5;
export const ERR_LABEL_NAME_EMPTY: i32 = -6;
export const ERR_LABEL_NAME_INVALID: i32 = -7;
export const ERR_TOO_MANY_LABELS: i32 = -8;
export const ERR_HOST: i32 = -9;
export const ERR_PROGRAM: i32 = -10;

export const STAT_SERIES_IN: i32 = 0;
export const STAT_SERIES_OUT: i32 = 1;
export const STAT_SAMPLES_IN: i32 = 2;
export const STAT_SAMPLES_OUT: i32 = 3;
export const STAT_EXEMPLARS_IN: i32 = 4;
export const STAT_EXEMPLARS_OUT: i32 = 5;
export const STAT_HISTOGRAMS_IN: i32 = 6;
export const STAT_HISTOGRAMS_OUT: i32 = 7;
export const STAT_METADATA_IN: i32 = 8;
export const STAT_METADATA_OUT: i32 = 9;
export const STAT_SERIES_DROPPED: i32 = 10;
export const STAT_SERIES_COLLISIONS: i32 = 11;
export const STAT_BYTES_DECODED: i32 = 12;
export const STAT_BYTES_ENCODED: i32 = 13;
export const STAT_HOST_EVALS: i32 = 14;
export const STAT_INTERN_RESETS: i32 = 15;
export const STATS_COUNT: i32 = 16;

export const PROGRAM_MAGIC: u32 = 0x31584850;

export const ACTION_REPLACE: u32 = 0;
export const ACTION_KEEP: u32 = 1;
export const ACTION_DROP: u32 = 2;
export const ACTION_HASHMOD: u32 = 3;
export const ACTION_LABELMAP: u32 = 4;
export const ACTION_LABELDROP: u32 = 5;
export const ACTION_LABELKEEP: u32 = 6;
export const ACTION_KEEPEQUAL: u32 = 7;
export const ACTION_DROPEQUAL: u32 = 8;
export const ACTION_LOWERCASE: u32 = 9;
export const ACTION_UPPERCASE: u32 = 10;

/** Rule flag: default regex and a replacement without `$`. */
export const RULE_FLAG_LITERAL: u32 = 1;
