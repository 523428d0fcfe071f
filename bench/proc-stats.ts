/**
 * What Linux' `/proc` says about a process: CPU time (all its threads, worker threads and
 * Go's runtime threads included), resident memory and its high-water mark, and which
 * process listens on a TCP port. The harness measures the process under test from the
 * outside with these, so Phoenix and vmagent are measured the same way.
 */

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** CPU time a process has used so far, in seconds. */
export interface CpuTimes {
  readonly userSeconds: number;
  readonly systemSeconds: number;
}

/** Resident memory of a process, in bytes. */
export interface MemoryUsage {
  readonly rssBytes: number;
  /** The peak resident set size since the process started (`VmHWM`). */
  readonly peakRssBytes: number;
}

let clockTicksPerSecond: number | undefined;

/** `sysconf(_SC_CLK_TCK)`: the unit of the CPU times in `/proc/PID/stat` (100 on Linux). */
export function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
    } catch {
      clockTicksPerSecond = Number.NaN;
    }
    if (!Number.isFinite(clockTicksPerSecond) || clockTicksPerSecond <= 0) {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/**
 * Parses the text of `/proc/PID/stat`. The command name (field 2) is in parentheses and
 * may itself hold spaces and parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(text: string, ticksPerSecond: number): CpuTimes {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('no command name in /proc/PID/stat');
  // After ") " come field 3 (state), 4 (ppid), ... field 14 is utime and 15 stime.
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error('utime/stime missing in /proc/PID/stat');
  }
  return { userSeconds: utime / ticksPerSecond, systemSeconds: stime / ticksPerSecond };
}

/** Parses `VmRSS` and `VmHWM` (kB) of `/proc/PID/status`. */
export function parseProcStatus(text: string): MemoryUsage {
  const kilobytes = (key: string): number => {
    const match = new RegExp(`^${key}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
    if (match === null) throw new Error(`${key} missing in /proc/PID/status`);
    return Number(match[1]) * 1024;
  };
  return { rssBytes: kilobytes('VmRSS'), peakRssBytes: kilobytes('VmHWM') };
}

/** CPU seconds used so far by process `pid`, all threads. */
export function readCpuTimes(pid: number): CpuTimes {
  return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'), clockTicks());
}

/** Total of user and system CPU seconds. */
export function cpuSeconds(times: CpuTimes): number {
  return times.userSeconds + times.systemSeconds;
}

export function readMemoryUsage(pid: number): MemoryUsage {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/**
 * Socket inodes listening on `port` in the text of `/proc/net/tcp` or `/proc/net/tcp6`
 * (state `0A` is LISTEN; addresses are hex `ADDR:PORT`).
 */
export function listeningInodes(procNetTcp: string, port: number): number[] {
  const inodes: number[] = [];
  for (const line of procNetTcp.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (local === undefined || fields[3] !== '0A') continue;
    const localPort = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (localPort === port) inodes.push(Number(fields[9]));
  }
  return inodes;
}

/**
 * The process listening on a TCP port, found through the socket inodes of `/proc/net/tcp*`
 * and the file descriptors of every process we may read. Undefined when none is found.
 */
export function findListeningPid(port: number): number | undefined {
  const inodes = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const inode of listeningInodes(readFileSync(table, 'utf8'), port)) inodes.add(inode);
    } catch {
      // tcp6 is missing when IPv6 is off.
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`));
        if (match !== null && inodes.has(Number(match[1]))) return Number(entry);
      } catch {
        // The descriptor closed while we looked.
      }
    }
  }
  return undefined;
}

/** CPU seconds of one thread of a process. */
export interface ThreadCpu {
  readonly name: string;
  readonly seconds: number;
}

/**
 * CPU seconds of every thread of `pid` by thread id (`/proc/PID/task/TID/stat`), named
 * `main` for the main thread and `COMM:TID` for the others.
 */
export function readThreadCpu(pid: number): Map<number, ThreadCpu> {
  const threads = new Map<number, ThreadCpu>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      // Node names every thread "node": the main thread is the one whose id is the pid.
      const name = Number(tid) === pid ? 'main' : `${comm}:${tid}`;
      threads.set(Number(tid), { name, seconds: cpuSeconds(parseProcStat(text, clockTicks())) });
    } catch {
      // The thread ended while we looked.
    }
  }
  return threads;
}

/**
 * CPU seconds each thread name spent between two {@link readThreadCpu} readings, largest
 * first; threads that started in between count from zero.
 */
export function threadCpuBetween(
  before: ReadonlyMap<number, ThreadCpu>,
  after: ReadonlyMap<number, ThreadCpu>,
): Array<{ name: string; threads: number; seconds: number }> {
  const byName = new Map<string, { threads: number; seconds: number }>();
  for (const [tid, thread] of after) {
    const spent = thread.seconds - (before.get(tid)?.seconds ?? 0);
    const entry = byName.get(thread.name) ?? { threads: 0, seconds: 0 };
    entry.threads++;
    entry.seconds += spent;
    byName.set(thread.name, entry);
  }
  return [...byName]
    .map(([name, entry]) => ({ name, ...entry }))
    .sort((a, b) => b.seconds - a.seconds);
}
