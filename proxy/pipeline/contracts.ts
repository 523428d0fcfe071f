/**
 * The shapes that join the pipeline model, the WebAssembly engine and the proxy's workers.
 * Each is implemented in its own file: `compile.ts` makes a {@link CompiledPipeline},
 * `engine.ts` runs one inside the module.
 */

/**
 * A pipeline ready to load into the WebAssembly module: the rule program (format in
 * `wasm/ABI.md`) and the host side of `host.evaluate` for its rules.
 */
export interface CompiledPipeline {
  /** The rule program bytes, loaded with `loadProgram`. */
  readonly program: Uint8Array;
  /** Number of rules of the pipeline, in config order (the program's first rules). */
  readonly ruleCount: number;
  /**
   * Forward-only rules after those (default none): a series they drop stays in the main
   * output, which stream aggregation reads, and is left out of the forward output.
   */
  readonly forwardRuleCount?: number;
  /**
   * Answers `host.evaluate(op, rule, input)` (see `wasm/ABI.md`): the result string, or
   * `null` for "no match". Called once per distinct input per rule, never per sample.
   */
  evaluate(op: number, rule: number, input: string): string | null;
}

/** Counters of one processed request, in the order of the module's stats slots. */
export interface PipelineStats {
  seriesIn: number;
  seriesOut: number;
  samplesIn: number;
  samplesOut: number;
  exemplarsIn: number;
  exemplarsOut: number;
  histogramsIn: number;
  histogramsOut: number;
  metadataIn: number;
  metadataOut: number;
  seriesDropped: number;
  seriesCollisions: number;
  bytesDecoded: number;
  bytesEncoded: number;
  hostEvals: number;
  internResets: number;
}

/** What the engine made of one remote-write request. */
export interface ProcessResult {
  /**
   * True when no rule changed anything: the caller forwards its original body and
   * `output` is empty.
   */
  readonly unchanged: boolean;
  /** The encoded (and, when asked, snappy-compressed) output; a copy the caller owns. */
  readonly output: Uint8Array;
  readonly stats: PipelineStats;
  /** Series each rule changed or dropped, indexed like the rules. A copy. */
  readonly ruleHits: Uint32Array;
  /**
   * What to forward when forward-only rules left series out (compressed like `output`);
   * absent when the forward output is the main one.
   */
  readonly forward?: Uint8Array;
}

/** Why the engine refused a request. */
export type PipelineErrorCode =
  | 'snappy'
  | 'too_large'
  | 'protobuf'
  | 'invalid_labels'
  | 'host'
  | 'program';
