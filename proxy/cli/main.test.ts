import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import { phoenixBinary } from '../../test/helpers/peers.js';
import { pollUntil } from '../../test/helpers/poll.js';
import { freePort } from '../../test/helpers/ports.js';
import {
  encodeRequest,
  seriesWith,
  sortedLabels,
  writeRequest,
} from '../pipeline/remote-write-fixtures.js';
import { ServerScope, startRecordingUpstream } from '../server/test-support.js';

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `bin/phoenix`; `close()` kills it if a test left it running. */
interface PhoenixProcess {
  readonly child: ChildProcess;
  readonly finished: Promise<Finished>;
  stderr(): string;
  close(): Promise<void>;
}

function runPhoenix(givenArgs: string[]): PhoenixProcess {
  // Each proxy gets its own queue folder: the default ./data is locked by one process.
  const dataDir = mkdtempSync(join(tmpdir(), 'phoenix-cli-data-'));
  const args = givenArgs[0] === 'proxy' ? [...givenArgs, '--data-dir', dataDir] : givenArgs;
  const child = spawn(phoenixBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const finished = new Promise<Finished>((resolve) => {
    child.on('close', (code) => {
      rmSync(dataDir, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
  return {
    child,
    finished,
    stderr: () => stderr,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await finished;
    },
  };
}

const scope = new ServerScope();
afterEach(() => scope.closeAll());

describe('bin/phoenix', () => {
  it('lists its commands with --help', async () => {
    const result = await scope.add(runPhoenix(['--help'])).finished;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: phoenix <command>/);
    expect(result.stdout).toMatch(/^ {2}proxy {2}/m);
  });

  it('lists the proxy flags with their defaults', async () => {
    const result = await scope.add(runPhoenix(['proxy', '--help'])).finished;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--listen HOST:PORT');
    expect(result.stdout).toContain('default 127.0.0.1:9091');
    expect(result.stdout).toContain('--max-request-bytes SIZE');
    expect(result.stdout).toContain('default 33554432');
    expect(result.stdout).toContain('--upstream-timeout DURATION');
  });

  const usageErrors: Array<[string, string[], RegExp]> = [
    ['an unknown command', ['frobnicate'], /unknown command "frobnicate"/],
    ['an unknown flag', ['proxy', '--upstream', 'http://127.0.0.1:1/w', '--bogus'], /--bogus/],
    ['a missing upstream', ['proxy'], /--upstream is required/],
    [
      'a bad duration',
      ['proxy', '--upstream', 'http://127.0.0.1:1/w', '--upstream-timeout', '5'],
      /--upstream-timeout "5" is not a duration/,
    ],
    [
      'an out-of-range value',
      ['proxy', '--upstream', 'http://127.0.0.1:1/w', '--max-request-bytes', '0'],
      /maxRequestBytes 0 must be >= 1/,
    ],
  ];
  for (const [name, args, message] of usageErrors) {
    it(`exits 2 on ${name}`, async () => {
      const result = await scope.add(runPhoenix(args)).finished;
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    });
  }

  const badConfigs: Array<[string, string, RegExp]> = [
    ['invalid YAML', 'relabel_configs: [\n  - action: drop\n', /phoenix\.yaml:\d+:\d+: /],
    [
      'an unknown rule key',
      'relabel_configs:\n  - action: drop\n    regexp: x\n',
      /phoenix\.yaml: relabel_configs\[0\].*regexp/,
    ],
  ];
  for (const [name, text, detail] of badConfigs) {
    it(`exits 2 before listening on a config with ${name}`, async () => {
      const directory = await mkdtemp(join(tmpdir(), 'phoenix-cli-'));
      scope.add({ close: () => rm(directory, { recursive: true, force: true }) });
      const configPath = join(directory, 'phoenix.yaml');
      await writeFile(configPath, text);
      const port = await freePort();
      const result = await scope.add(
        runPhoenix([
          'proxy',
          '--listen',
          `127.0.0.1:${port}`,
          '--upstream',
          'http://127.0.0.1:1/w',
          '--config',
          configPath,
        ]),
      ).finished;
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(configPath);
      expect(result.stderr).toMatch(detail);
      expect(result.stderr).not.toContain('proxy_started');
    });
  }

  it('exits 2 when the config file cannot be read', async () => {
    const missing = join(tmpdir(), 'phoenix-no-such-dir', 'phoenix.yaml');
    const result = await scope.add(
      runPhoenix(['proxy', '--upstream', 'http://127.0.0.1:1/w', '--config', missing]),
    ).finished;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${missing}: cannot read the config file`);
  });

  it('finishes the request in flight on SIGTERM and exits 0', async () => {
    const upstream = scope.add(await startRecordingUpstream({ status: 204, delayMs: 1500 }));
    const port = await freePort();
    const phoenix = scope.add(
      runPhoenix([
        'proxy',
        '--listen',
        `127.0.0.1:${port}`,
        '--upstream',
        upstream.url,
        '--workers',
        '1',
      ]),
    );
    const base = `http://127.0.0.1:${port}`;
    await pollUntil(
      async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined),
      {
        description: 'phoenix proxy to be ready',
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    const payload = compressSync(
      Buffer.from(
        encodeRequest(writeRequest([seriesWith(sortedLabels({ __name__: 'up', job: 'a' }))])),
      ),
    );
    const inFlight = fetch(`${base}/api/v1/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      body: payload,
    });
    await pollUntil(async () => (upstream.requests.length > 0 ? true : undefined), {
      description: 'the request to reach the upstream',
      intervalMs: 20,
    });
    phoenix.child.kill('SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(204);
    const result = await phoenix.finished;
    expect(result.code).toBe(0);
    expect(upstream.requests[0]?.body.equals(payload)).toBe(true);
    const events = result.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; listen?: string });
    expect(events.map((event) => event.event)).toEqual([
      'proxy_started',
      'shutdown_started',
      'proxy_stopped',
    ]);
    expect(events[0]?.listen).toBe(`127.0.0.1:${port}`);
  });

  it('refuses a port another Phoenix listens on instead of sharing it', async () => {
    // A fixed port, as operators configure it: with SO_REUSEPORT (uWebSockets.js' default)
    // a second process could bind it too, which a port picked by the kernel would hide.
    const listen = `127.0.0.1:${await freePort()}`;
    const first = scope.add(
      runPhoenix(['proxy', '--listen', listen, '--upstream', 'http://127.0.0.1:1/w']),
    );
    await pollUntil(async () => (first.stderr().includes('proxy_started') ? true : undefined), {
      description: 'the first phoenix proxy to start',
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const second = await scope.add(
      runPhoenix(['proxy', '--listen', listen, '--upstream', 'http://127.0.0.1:1/w']),
    ).finished;
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`cannot listen on ${listen}`);
    expect(first.child.exitCode).toBeNull();
  });
});
