/**
 * A child process whose stdout and stderr are collected (not printed) so that a failure can
 * quote them: the benchmark targets and the test helpers' peers both start children this way.
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** How to start a {@link LoggedChild}. */
export interface LoggedChildOptions {
  readonly cwd?: string | undefined;
  /** Default: this process's environment. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Keep this many of the last characters of the combined output. */
  readonly maxLogChars: number;
}

/** A started child with its output kept. */
export interface LoggedChild {
  readonly child: ChildProcess;
  /** The last `maxLogChars` characters of stdout and stderr, interleaved. */
  log(): string;
  /** Resolves once the child exited or failed to spawn. */
  readonly exited: Promise<void>;
  /** Exit code, or the signal name, once the child has exited; otherwise undefined. */
  exitStatus(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
  stop(graceMs: number): Promise<void>;
}

/** Starts `command` with `args`, collecting its output. */
export function spawnLogged(
  command: string,
  args: readonly string[],
  options: LoggedChildOptions,
): LoggedChild {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let status: string | undefined;
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > options.maxLogChars) output = output.slice(-options.maxLogChars);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = code === null ? String(signal) : String(code);
      resolve();
    });
    child.once('error', (error) => {
      status = `spawn error: ${error.message}`;
      resolve();
    });
  });
  return {
    child,
    log: () => output,
    exited,
    exitStatus: () => status,
    async stop(graceMs) {
      if (status !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
