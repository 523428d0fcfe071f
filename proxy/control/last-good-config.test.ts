import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lastGoodConfigPath, readLastGoodConfig, writeLastGoodConfig } from './last-good-config.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'phoenix-last-good-'));
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

describe('last good config', () => {
  it('round-trips through the data directory, one file per pipeline, no temp left', async () => {
    const kept = {
      pipeline: 'default',
      version: 7,
      configYaml: 'relabel_configs: []\n',
      appliedAtMs: 5,
    };
    await writeLastGoodConfig(dataDir, kept);
    await writeLastGoodConfig(dataDir, { ...kept, pipeline: 'other', version: 2 });
    expect(await readLastGoodConfig(dataDir, 'default')).toEqual(kept);
    expect((await readLastGoodConfig(dataDir, 'other'))?.version).toBe(2);
    expect((await readdir(join(dataDir, 'control'))).sort()).toEqual([
      'pipeline-default.json',
      'pipeline-other.json',
    ]);
  });

  it('reads nothing from a missing, torn or foreign file', async () => {
    expect(await readLastGoodConfig(dataDir, 'default')).toBeUndefined();
    await writeLastGoodConfig(dataDir, {
      pipeline: 'default',
      version: 1,
      configYaml: '',
      appliedAtMs: 0,
    });
    const path = lastGoodConfigPath(dataDir, 'default');
    await writeFile(path, '{"pipeline":"default","vers');
    expect(await readLastGoodConfig(dataDir, 'default')).toBeUndefined();
    await writeFile(path, JSON.stringify({ pipeline: 'another', version: 1, configYaml: '' }));
    expect(await readLastGoodConfig(dataDir, 'default')).toBeUndefined();
  });
});
