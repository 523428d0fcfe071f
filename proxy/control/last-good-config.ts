/**
 * The last pipeline a proxy applied from the control plane, kept in its data directory so
 * a proxy that restarts while the control plane is away comes back with the same pipeline
 * instead of none.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What is kept: enough to re-apply it and to report which version it is. */
export interface LastGoodConfig {
  readonly pipeline: string;
  readonly version: number;
  readonly configYaml: string;
  /** When it was applied, in ms since the epoch. */
  readonly appliedAtMs: number;
}

/** `<dataDir>/control/pipeline-<name>.json`: one file per pipeline name. */
export function lastGoodConfigPath(dataDir: string, pipeline: string): string {
  return join(dataDir, 'control', `pipeline-${pipeline}.json`);
}

/** Reads the kept config; undefined when there is none or the file is not one of ours. */
export async function readLastGoodConfig(
  dataDir: string,
  pipeline: string,
): Promise<LastGoodConfig | undefined> {
  let text: string;
  try {
    text = await readFile(lastGoodConfigPath(dataDir, pipeline), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const value = parsed as Partial<LastGoodConfig> | null;
  if (
    value === null ||
    value.pipeline !== pipeline ||
    typeof value.version !== 'number' ||
    typeof value.configYaml !== 'string'
  ) {
    return undefined;
  }
  return {
    pipeline,
    version: value.version,
    configYaml: value.configYaml,
    appliedAtMs: typeof value.appliedAtMs === 'number' ? value.appliedAtMs : 0,
  };
}

/**
 * Writes the config to a temporary file and renames it into place, so a crash mid-write
 * leaves the previous file whole rather than a torn one.
 */
export async function writeLastGoodConfig(dataDir: string, config: LastGoodConfig): Promise<void> {
  const path = lastGoodConfigPath(dataDir, config.pipeline);
  await mkdir(join(dataDir, 'control'), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`);
  await rename(temporary, path);
}
