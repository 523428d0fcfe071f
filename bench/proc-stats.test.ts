import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  cpuSeconds,
  findListeningPid,
  listeningInodes,
  parseProcStat,
  parseProcStatus,
  readCpuTimes,
  readMemoryUsage,
  readThreadCpu,
  threadCpuBetween,
} from './proc-stats.js';

/** Burns `ms` of this process' CPU time (not wall time: the machine may be busy). */
function spinCpu(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

describe('parseProcStat', () => {
  it('reads utime and stime after a command name with spaces and parentheses', () => {
    // Fields 14 (utime) = 250 and 15 (stime) = 75 ticks.
    const text =
      '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 5 0';
    expect(parseProcStat(text, 100)).toEqual({ userSeconds: 2.5, systemSeconds: 0.75 });
  });

  it('refuses text without a command name', () => {
    expect(() => parseProcStat('4242 S 1 2 3', 100)).toThrow(/command name/);
  });

  it('sees this process spend CPU', () => {
    const before = cpuSeconds(readCpuTimes(process.pid));
    spinCpu(150);
    // Clock ticks are 10 ms: allow one tick less than what the process itself counted.
    expect(cpuSeconds(readCpuTimes(process.pid)) - before).toBeGreaterThanOrEqual(0.14);
  });
});

describe('parseProcStatus', () => {
  it('reads VmRSS and VmHWM in bytes', () => {
    const text = 'Name:\tnode\nVmPeak:\t 900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n';
    expect(parseProcStatus(text)).toEqual({ rssBytes: 100 * 2 ** 20, peakRssBytes: 200 * 2 ** 20 });
  });

  it('reads this process, peak at least the current size', () => {
    const usage = readMemoryUsage(process.pid);
    expect(usage.rssBytes).toBeGreaterThan(1 << 20);
    expect(usage.peakRssBytes).toBeGreaterThanOrEqual(usage.rssBytes);
  });
});

describe('listening sockets', () => {
  it('parses LISTEN entries of /proc/net/tcp by port', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0',
      '   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 222 1 0',
      '   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0',
    ].join('\n');
    expect(listeningInodes(text, 8080)).toEqual([111]);
    expect(listeningInodes(text, 80)).toEqual([333]);
    expect(listeningInodes(text, 9)).toEqual([]);
  });

  it('finds the process listening on a port', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      expect(findListeningPid(port)).toBe(process.pid);
    } finally {
      server.close();
    }
  });
});

describe('CPU by thread', () => {
  it('names the main thread and sees it work', () => {
    const before = readThreadCpu(process.pid);
    expect(before.get(process.pid)?.name).toBe('main');
    spinCpu(120);
    const spent = threadCpuBetween(before, readThreadCpu(process.pid));
    expect(spent[0]?.name).toBe('main');
    expect(spent[0]?.seconds).toBeGreaterThanOrEqual(0.08);
  });

  it('counts threads that started between readings from zero and sorts by time', () => {
    const before = new Map([[1, { name: 'main', seconds: 5 }]]);
    const after = new Map([
      [1, { name: 'main', seconds: 6 }],
      [2, { name: 'node:2', seconds: 3 }],
    ]);
    expect(threadCpuBetween(before, after)).toEqual([
      { name: 'node:2', threads: 1, seconds: 3 },
      { name: 'main', threads: 1, seconds: 1 },
    ]);
  });
});
