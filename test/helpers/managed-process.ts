import type { ChildProcess } from 'node:child_process';
import { spawnLogged } from '../../bench/logged-child.js';
import { PollAbortError } from './poll.js';

/** Keep this much of a child's combined output for error messages. */
const MAX_LOG_CHARS = 64 * 1024;
/** How long a child gets to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;

/** Children still running in this test process; killed if the process exits early. */
const runningChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test file that crashes or times out must not leave Prometheus servers behind.
  process.on('exit', () => {
    for (const child of runningChildren) child.kill('SIGKILL');
  });
}

/** A child process started by a test, with its output kept for failure messages. */
export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last {@link MAX_LOG_CHARS} characters of stdout and stderr, interleaved. */
  log(): string;
  /** Exit code, or the signal name, once the child has exited; otherwise undefined. */
  exitStatus(): string | undefined;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the child is gone. */
  stop(): Promise<void>;
}

/** Starts `command` with `args`; its output is collected, not printed. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): ManagedProcess {
  installExitHook();
  const logged = spawnLogged(command, args, {
    cwd: options.cwd,
    env: options.env,
    maxLogChars: MAX_LOG_CHARS,
  });
  const child = logged.child;
  runningChildren.add(child);
  const forget = (): void => {
    runningChildren.delete(child);
  };
  child.once('exit', forget);
  child.once('error', forget);
  return {
    name,
    child,
    log: logged.log,
    exitStatus: logged.exitStatus,
    stop: () => logged.stop(STOP_GRACE_MS),
  };
}

/**
 * Fails fast when a child died during a wait, quoting its output; used inside polls so a
 * peer that rejected its config is reported as such rather than as a timeout.
 */
export function assertRunning(process: ManagedProcess): void {
  const status = process.exitStatus();
  if (status !== undefined) {
    throw new ChildExitedError(
      `${process.name} exited (${status}) before it was ready; output:\n${process.log()}`,
    );
  }
}

/** A child exited while a test was waiting for it: no point in waiting any longer. */
export class ChildExitedError extends PollAbortError {
  override readonly name: string = 'ChildExitedError';
}
