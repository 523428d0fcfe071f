/**
 * `phoenix up --token-file`: the token files are checked before anything listens, so a
 * wrong proxy token is a start error, not a proxy that never gets its pipeline.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phoenixBinary, REPO_DIR } from '../../test/helpers/peers.js';

const run = promisify(execFile);

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'phoenix-up-tokens-'));
  await writeFile(
    join(workDir, 'tokens.yaml'),
    [
      '- { name: watcher, token: viewer-token-0123456789, role: viewer }',
      '- { name: edge, token: proxy-token-0123456789, role: proxy }',
    ].join('\n'),
  );
  await writeFile(join(workDir, 'viewer.token'), 'viewer-token-0123456789\n');
  await writeFile(join(workDir, 'unknown.token'), 'unknown-token-0123456789\n');
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function up(args: string[]): Promise<{ code: number; stderr: string }> {
  const common = ['up', '--listen', '127.0.0.1:0', '--control-plane-listen', '127.0.0.1:0'];
  try {
    await run(phoenixBinary(), [...common, '--data-dir', join(workDir, 'data'), ...args], {
      cwd: REPO_DIR,
      timeout: 20_000,
    });
    return { code: 0, stderr: '' };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

describe('phoenix up token flags', () => {
  it('wants --token-file and --proxy-token-file together', async () => {
    const result = await up(['--token-file', join(workDir, 'tokens.yaml')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--token-file and --proxy-token-file go together');
  });

  it('refuses a proxy token that is not in the token file', async () => {
    const result = await up([
      '--token-file',
      join(workDir, 'tokens.yaml'),
      '--proxy-token-file',
      join(workDir, 'unknown.token'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${join(workDir, 'unknown.token')}: the token is not in ${join(workDir, 'tokens.yaml')}; the proxy needs role proxy or admin`,
    );
  });

  it('refuses a viewer token for the proxy', async () => {
    const result = await up([
      '--token-file',
      join(workDir, 'tokens.yaml'),
      '--proxy-token-file',
      join(workDir, 'viewer.token'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('token "watcher" has role viewer in');
  });
});
