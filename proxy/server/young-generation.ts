/**
 * Keeps the ingest thread's V8 heap from running a full mark-compact every ~100 ms.
 *
 * The ingest thread's JavaScript heap is small (about 20 MB live), but every request moves
 * two or three ArrayBuffers through it: the body, the worker's output (transferred in)
 * and, with a backlog, the joined upstream request. V8 counts external memory allocated
 * since the last full GC against the old generation's limit, and its backing stores are
 * only freed when the young generation is scavenged, which at this thread's low rate of
 * JavaScript allocation happens every few hundred ms. So tens of MB of dead buffers pile up
 * between scavenges and V8 starts incremental marking of the whole heap again and again:
 * in a 10 s run at 1.1 M samples/s, 75–85 mark-compacts of an 18 MB heap, with V8's
 * helper threads marking concurrently, about a fifth of the process's CPU.
 *
 * A scavenge after every few MB of such buffers frees them while they are still young:
 * 25 mark-compacts in the same run and 20 % less CPU per sample, for a scavenge that costs
 * a fraction of a ms (docs/benchmarks.md, "The ingest thread's garbage collector").
 * V8 has no API for a scavenge, so the `gc` function of the `--expose-gc` extension is
 * taken from a fresh context; the flag only adds that function to new contexts.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Buffer bytes through the ingest thread between two scavenges. */
export const SCAVENGE_EVERY_BYTES = 4 * 1024 * 1024;

type GcFunction = (options: { type: 'minor'; execution: 'sync' }) => void;

let scavengeFunction: GcFunction | undefined;

function scavenger(): GcFunction {
  if (scavengeFunction === undefined) {
    setFlagsFromString('--expose-gc');
    scavengeFunction = runInNewContext('gc') as GcFunction;
  }
  return scavengeFunction;
}

/** Counts the buffer bytes the ingest thread takes in and scavenges after every few MB. */
export class YoungGenerationSweeper {
  readonly #everyBytes: number;
  readonly #scavenge: () => void;
  #sinceScavenge = 0;
  #scavenges = 0;

  /**
   * @param everyBytes buffer bytes between two scavenges
   * @param scavenge what runs a scavenge (V8's minor GC unless a test passes its own)
   */
  constructor(everyBytes = SCAVENGE_EVERY_BYTES, scavenge?: () => void) {
    this.#everyBytes = everyBytes;
    this.#scavenge =
      scavenge ??
      (() => {
        scavenger()({ type: 'minor', execution: 'sync' });
      });
  }

  /** Scavenges run so far. */
  get scavenges(): number {
    return this.#scavenges;
  }

  /** Records `bytes` of buffers allocated on (or transferred to) this thread. */
  note(bytes: number): void {
    this.#sinceScavenge += bytes;
    if (this.#sinceScavenge < this.#everyBytes) return;
    this.#sinceScavenge = 0;
    this.#scavenges++;
    this.#scavenge();
  }
}
