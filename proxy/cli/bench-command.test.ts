import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { phoenixBinary } from '../../test/helpers/peers.js';

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `bin/phoenix` to completion (the build in dist/ is what runs). */
function phoenix(args: string[], timeoutMs = 60_000): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(phoenixBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`phoenix ${args.join(' ')} timed out; stderr:\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('phoenix bench', () => {
  it('is listed by phoenix --help and explains its flags', async () => {
    const top = await phoenix(['--help']);
    expect(top.stdout).toMatch(/^ {2}bench +benchmark/m);
    const help = await phoenix(['bench', '--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--target URL',
      '--series N',
      '--per-request N',
      '--duration',
      '--concurrency N',
      '--vs vmagent',
      '--json',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });

  const usageErrors: Array<[string, string[], RegExp]> = [
    ['an unknown flag', ['--bogus'], /Unknown option '--bogus'/],
    [
      'a series count that is not a number',
      ['--series', 'many'],
      /--series "many" is not a whole number/,
    ],
    ['zero concurrency', ['--concurrency', '0'], /--concurrency 0 must be >= 1/],
    ['a bad duration', ['--duration', '5 minutes'], /--duration "5 minutes" is not a duration/],
    ['a bad warm-up', ['--warmup', 'long'], /--warmup "long" is not a duration/],
    [
      'an unknown scenario',
      ['--scenario', 'passthrough,shuffle'],
      /--scenario "shuffle" is not one of/,
    ],
    [
      'an unknown peer',
      ['--vs', 'telegraf'],
      /--vs "telegraf": "telegraf" is not vmagent or direct/,
    ],
    [
      'a target without a sink port',
      ['--target', 'http://127.0.0.1:9/api/v1/write'],
      /--sink-listen with a fixed port/,
    ],
    [
      '--target with --vs',
      ['--target', 'http://127.0.0.1:9/w', '--vs', 'vmagent', '--sink-listen', '127.0.0.1:9'],
      /cannot be combined/,
    ],
  ];
  for (const [name, args, message] of usageErrors) {
    it(`exits 2 on ${name}`, async () => {
      const result = await phoenix(['bench', ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    });
  }

  it('runs a short benchmark through Phoenix and loses nothing', async () => {
    const result = await phoenix([
      'bench',
      '--series',
      '3000',
      '--per-request',
      '500',
      '--duration',
      '2',
      '--concurrency',
      '2',
      '--workers',
      '1',
      '--scenario',
      'passthrough,drop',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    // Progress lines go to stderr, one about every second of every run.
    expect(result.stderr).toMatch(/\[phoenix passthrough round 1\/1\] 1s {2}sent /);
    const report = JSON.parse(result.stdout) as {
      machine: { cores: number; node: string };
      runs: Array<Record<string, number | string>>;
      summaries: Array<Record<string, number | string>>;
    };
    expect(report.machine.node).toBe(process.version);
    expect(report.runs.map((run) => [run['target'], run['scenario']])).toEqual([
      ['phoenix', 'passthrough'],
      ['phoenix', 'drop'],
    ]);
    const [passthrough, drop] = report.runs;
    expect(passthrough!['samplesIn']).toBeGreaterThan(3000);
    expect(passthrough!['samplesOut']).toBe(passthrough!['samplesIn']);
    expect(passthrough!['distinctSeriesOut']).toBe(3000);
    expect(drop!['samplesOut']).toBe(drop!['samplesExpectedOut']);
    const dropShare = 1 - Number(drop!['samplesOut']) / Number(drop!['samplesIn']);
    expect(dropShare).toBeGreaterThan(0.25);
    expect(dropShare).toBeLessThan(0.35);
    for (const run of report.runs) {
      expect(run['samplesLost']).toBe(0);
      expect(run['failedRequests']).toBe(0);
      expect(run['cpuSeconds']).toBeGreaterThan(0);
      expect(run['peakRssBytes']).toBeGreaterThan(20 * 2 ** 20);
      expect(run['latencyP99Ms']).toBeGreaterThanOrEqual(Number(run['latencyP50Ms']));
      expect(run['bytesOut']).toBeGreaterThan(0);
    }
    expect(report.summaries).toHaveLength(2);
  });

  it('sends the same load straight to the sink with --vs direct and prints the latency added', async () => {
    const args = ['--series', '2000', '--per-request', '500', '--duration', '1'];
    const common = [...args, '--concurrency', '2', '--workers', '1', '--scenario', 'drop'];
    const result = await phoenix(['bench', ...common, '--vs', 'direct', '--rounds', '1', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      runs: Array<Record<string, number | string | null>>;
      addedLatency: Array<{ scenario: string; target: string; p50Ms: number; p99Ms: number }>;
    };
    expect(report.runs.map((run) => run['target'])).toEqual(['phoenix', 'direct']);
    const [phoenixRun, direct] = report.runs;
    // No rules between the load and the sink: nothing is dropped, and no process is measured.
    expect(direct!['samplesOut']).toBe(direct!['samplesIn']);
    expect(Number(phoenixRun!['samplesOut'])).toBeLessThan(Number(phoenixRun!['samplesIn']));
    expect(direct!['cpuSeconds']).toBeNull();
    expect(direct!['samplesLost']).toBe(0);
    expect(report.addedLatency).toHaveLength(1);
    const added = report.addedLatency[0]!;
    expect(added.target).toBe('phoenix');
    expect(added.p99Ms).toBeCloseTo(
      Number(phoenixRun!['latencyP99Ms']) - Number(direct!['latencyP99Ms']),
      9,
    );
  });

  it('prints the added latency as a row of the table', async () => {
    const table = await phoenix([
      'bench',
      ...['--series', '2000', '--per-request', '500', '--duration', '1', '--concurrency', '2'],
      ...['--workers', '1', '--scenario', 'passthrough', '--vs', 'direct', '--rounds', '1'],
      // A warm-up by time, at the run's rate.
      ...['--rate', '40', '--warmup', '1s'],
      '--quiet',
    ]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^passthrough\s+direct\s+1\s+—\s/m);
    expect(table.stdout).toMatch(/^passthrough\s+phoenix − direct\s+-?\d+\.\d\d\s+-?\d+\.\d\d$/m);
  });
});
