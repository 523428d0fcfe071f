import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Name of the lock file in the data folder. */
export const LOCK_FILE = 'phoenix.lock';

/** Thrown when another running process holds the data folder. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
}

/**
 * Keeps two proxies from appending to the same queues, which would interleave their
 * records. The lock file holds the owner's pid; a lock left by a process that no longer
 * runs (a SIGKILL, a crash) is taken over, so a restart after a crash needs no cleanup.
 */
export class DataDirLock {
  readonly #path: string;

  private constructor(path: string) {
    this.#path = path;
  }

  static async acquire(dataDir: string): Promise<DataDirLock> {
    await mkdir(dataDir, { recursive: true });
    const path = join(dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const file = await open(path, 'wx');
        await file.writeFile(String(process.pid));
        await file.close();
        return new DataDirLock(path);
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
      }
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw new DataDirLockedError(
          `data dir ${dataDir} is in use by process ${owner}; give each proxy its own --data-dir`,
        );
      }
      await unlink(path).catch(() => {});
    }
    throw new DataDirLockedError(`cannot lock data dir ${dataDir}`);
  }

  async release(): Promise<void> {
    await unlink(this.#path).catch(() => {});
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}
