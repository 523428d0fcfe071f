/**
 * Keeps the V8 heaps of the threads that move request buffers (the ingest thread, the
 * pipeline workers, the aggregation thread) from holding dead buffers, and the ingest
 * thread from running a full mark-compact every ~100 ms.
 *
 * The ingest thread's JavaScript heap is small (about 20 MB live), but every request moves
 * two or three ArrayBuffers through it: the body, the worker's output (transferred in)
 * and, with a backlog, the joined upstream request. V8 counts external memory allocated
 * since the last full GC against the old generation's limit, and its backing stores are
 * only freed when the young generation is scavenged, which at this thread's low rate of
 * JavaScript allocation happens every few hundred ms. So tens of MB of dead buffers pile up
 * between scavenges and V8 starts incremental marking of the whole heap again and again:
 * in a 10 s run at 1.1 M samples/s, 75–85 mark-compacts of an 18 MB heap, with V8's
 * helper threads marking concurrently, about a fifth of the process's CPU. A pipeline
 * worker allocates even less JavaScript, so the bodies transferred to it (allocated by
 * the ingest thread's malloc) stayed allocated until its rare GC: about 70 MiB of the
 * process's peak RSS at 200k series.
 *
 * A scavenge after every few MB of such buffers frees them while they are still young:
 * 25 mark-compacts in the same run and 20 % less CPU per sample, for a scavenge that costs
 * a fraction of a ms (docs/benchmarks.md, "Garbage collection of request buffers").
 * V8 has no API for a scavenge, so the `gc` function of the `--expose-gc` extension is
 * taken from a fresh context; the flag only adds that function to new contexts.
 *
 * Buffers that outlive two scavenges (a slow request, a record waiting for a slow
 * upstream) move to the old generation, and with full GCs now rare their memory would stay
 * allocated until V8's external-memory limit (64 MiB above the last full GC) forces one.
 * So once a scavenge leaves external memory {@link FULL_GC_EXTERNAL_BYTES} above what the
 * last full GC left (WebAssembly memories count as external memory too, hence the
 * difference), the sweeper runs a full GC itself.
 */

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Buffer bytes through a thread between two of its scavenges. */
export const SCAVENGE_EVERY_BYTES = 4 * 1024 * 1024;
/** Growth of external memory since the last full GC that calls for another one. */
export const FULL_GC_EXTERNAL_BYTES = 32 * 1024 * 1024;

type GcFunction = (options?: { type: 'minor'; execution: 'sync' }) => void;

/** What the sweeper runs: V8's collectors, or a test's stand-ins. */
export interface Collector {
  scavenge(): void;
  fullGc(): void;
  /** Bytes of ArrayBuffer backing stores V8 accounts for now. */
  externalBytes(): number;
}

const v8Collector: Collector = {
  scavenge: () => gcFunction()({ type: 'minor', execution: 'sync' }),
  // Without options: Node 20's V8 runs a minor GC for `{ type: 'major' }`.
  fullGc: () => gcFunction()(),
  externalBytes: () => getHeapStatistics().external_memory,
};

let exposedGc: GcFunction | undefined;

function gcFunction(): GcFunction {
  if (exposedGc === undefined) {
    setFlagsFromString('--expose-gc');
    exposedGc = runInNewContext('gc') as GcFunction;
  }
  return exposedGc;
}

/** Counts the buffer bytes a thread takes in and scavenges after every few MB of them. */
export class YoungGenerationSweeper {
  readonly #everyBytes: number;
  readonly #fullGcExternalBytes: number;
  readonly #collector: Collector;
  #sinceScavenge = 0;
  #scavenges = 0;
  #fullGcs = 0;
  /** External memory after the last full GC (or when counting began). */
  #externalBaseline: number | undefined;

  /**
   * @param everyBytes buffer bytes between two scavenges
   * @param fullGcExternalBytes growth of external memory since the last full GC that calls
   *   for another
   * @param collector V8's collectors unless a test passes its own
   */
  constructor(
    everyBytes = SCAVENGE_EVERY_BYTES,
    fullGcExternalBytes = FULL_GC_EXTERNAL_BYTES,
    collector: Collector = v8Collector,
  ) {
    this.#everyBytes = everyBytes;
    this.#fullGcExternalBytes = fullGcExternalBytes;
    this.#collector = collector;
  }

  /** Scavenges run so far. */
  get scavenges(): number {
    return this.#scavenges;
  }

  /** Full GCs run so far. */
  get fullGcs(): number {
    return this.#fullGcs;
  }

  /** Records `bytes` of buffers allocated on (or transferred to) this thread. */
  note(bytes: number): void {
    this.#sinceScavenge += bytes;
    if (this.#sinceScavenge < this.#everyBytes) return;
    this.#sinceScavenge = 0;
    this.#scavenges++;
    this.#collector.scavenge();
    const external = this.#collector.externalBytes();
    this.#externalBaseline ??= external;
    if (external - this.#externalBaseline > this.#fullGcExternalBytes) {
      this.#fullGcs++;
      this.#collector.fullGc();
      this.#externalBaseline = this.#collector.externalBytes();
    } else if (external < this.#externalBaseline) {
      // Memory freed since (a WebAssembly instance dropped, buffers swept): measure from here.
      this.#externalBaseline = external;
    }
  }
}

/** This thread's sweeper (module state is per thread: every worker has its own). */
let threadSweeper: YoungGenerationSweeper | undefined;

/**
 * Records `bytes` of buffers allocated on, or transferred to, the calling thread: its
 * sweeper scavenges after every {@link SCAVENGE_EVERY_BYTES} of them.
 */
export function noteThreadBuffers(bytes: number): void {
  threadSweeper ??= new YoungGenerationSweeper();
  threadSweeper.note(bytes);
}
