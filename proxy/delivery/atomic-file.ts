import { mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `data` to `target` so that a crash leaves the old file or the new one, never half
 * of one: a temporary file beside it, fsynced, then renamed over it. Creates the folder.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const temporary = `${target}.tmp`;
  const file = await open(temporary, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, target);
}
