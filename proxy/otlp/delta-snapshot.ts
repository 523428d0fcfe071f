/**
 * The delta accumulator's snapshot on disk: `<dataDir>/otlp-delta/state.json`, written to
 * a temporary file, fsynced and renamed, so a crash leaves the old snapshot or the new
 * one, never half of one.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../delivery/atomic-file.js';
import type { DeltaSnapshot } from './delta-accumulator.js';

const FORMAT = 'phoenix-otlp-delta/1';

export function deltaSnapshotPath(dataDir: string): string {
  return path.join(dataDir, 'otlp-delta', 'state.json');
}

export async function writeDeltaSnapshot(dataDir: string, entries: DeltaSnapshot): Promise<void> {
  await writeFileAtomic(
    deltaSnapshotPath(dataDir),
    JSON.stringify({ format: FORMAT, series: entries }),
  );
}

/** The entries of a usable snapshot, or why there is none. */
export type DeltaSnapshotRead =
  | { readonly kind: 'state'; readonly entries: DeltaSnapshot }
  | { readonly kind: 'none' }
  | { readonly kind: 'unusable'; readonly reason: string };

export async function readDeltaSnapshot(dataDir: string): Promise<DeltaSnapshotRead> {
  let text: string;
  try {
    text = await readFile(deltaSnapshotPath(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as { format?: unknown; series?: unknown };
    if (parsed.format !== FORMAT || !Array.isArray(parsed.series)) {
      return { kind: 'unusable', reason: 'not an OTLP delta snapshot' };
    }
    return { kind: 'state', entries: parsed.series as DeltaSnapshot };
  } catch (error) {
    return { kind: 'unusable', reason: `corrupt: ${(error as Error).message}` };
  }
}
