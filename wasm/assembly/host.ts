// Functions the host provides. AssemblyScript imports a declared function from the module
// named after its file, so these arrive as `host.<name>` (see wasm/ABI.md).

/**
 * Applies operation `op` of rule `rule` to the UTF-8 string at `ptr` (`len` bytes). Writes
 * the answer to the host-out buffer and returns its length, -1 for "no match" or -2 when
 * the answer does not fit.
 */
export declare function evaluate(op: i32, rule: i32, ptr: usize, len: u32): i32;
