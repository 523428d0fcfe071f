/**
 * The read cursor of a delivery queue: where the first record not yet known to be
 * delivered starts. It is written to a temporary file, synced, then renamed over the old
 * one, so after a crash the file holds either the old or the new cursor, never a mix. It
 * may lag behind what was delivered (those records are sent again: at-least-once), but is
 * never ahead of it.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

/** A place in a queue: a segment and a byte offset in it. */
export interface QueuePosition {
  readonly segmentId: number;
  readonly offset: number;
}

/** Name of the cursor file inside a queue folder. */
export const CURSOR_FILE = 'cursor.json';

/** Orders positions: negative when `a` comes first, 0 when equal. */
export function comparePositions(a: QueuePosition, b: QueuePosition): number {
  return a.segmentId === b.segmentId ? a.offset - b.offset : a.segmentId - b.segmentId;
}

/**
 * Reads the persisted cursor; `undefined` when there is none yet or it cannot be read
 * (the queue then replays from its oldest segment: more re-sent, nothing lost).
 */
export async function readCursor(dir: string): Promise<QueuePosition | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, CURSOR_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as { segmentId?: unknown; offset?: unknown };
    if (
      Number.isSafeInteger(parsed.segmentId) &&
      Number.isSafeInteger(parsed.offset) &&
      (parsed.offset as number) >= 0
    ) {
      return { segmentId: parsed.segmentId as number, offset: parsed.offset as number };
    }
  } catch {
    // A cursor that does not parse is treated like a missing one.
  }
  return undefined;
}

/** Replaces the persisted cursor atomically: write temp, sync it, rename over the old. */
export async function writeCursor(dir: string, position: QueuePosition): Promise<void> {
  const finalPath = join(dir, CURSOR_FILE);
  const tempPath = `${finalPath}.tmp`;
  const file = await open(tempPath, 'w');
  try {
    await file.writeFile(
      JSON.stringify({ segmentId: position.segmentId, offset: position.offset }),
    );
    await file.datasync();
  } finally {
    await file.close();
  }
  await rename(tempPath, finalPath);
}
