import { phoenixVersion } from '../server/version.js';
import { analyzeCommand } from './analyze-command.js';
import { benchCommand } from './bench-command.js';
import { checkQueriesCommand } from './check-queries-command.js';
import { controlPlaneCommand } from './control-plane-command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import { experimentCommand } from './experiment-command.js';
import { operatorCommand } from './operator-command.js';
import { pipelineCommand } from './pipeline-command.js';
import { proxiesCommand } from './proxies-command.js';
import { proxyCommand } from './proxy-command.js';
import { upCommand } from './up-command.js';

/** One `phoenix <name>` command. */
export interface Command {
  readonly name: string;
  /** One line for `phoenix --help`. */
  readonly summary: string;
  /**
   * Runs the command with the arguments after its name. Resolves to the exit status, or
   * never resolves when the command serves until a signal ends the process.
   */
  run(args: string[]): Promise<number>;
}

/** Every command `bin/phoenix` knows, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  upCommand,
  proxyCommand,
  controlPlaneCommand,
  pipelineCommand,
  checkQueriesCommand,
  experimentCommand,
  analyzeCommand,
  proxiesCommand,
  operatorCommand,
  benchCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return [
    'Usage: phoenix <command> [flags]',
    '',
    'Phoenix is a metrics cost-optimisation proxy for Prometheus remote write.',
    '',
    'Commands:',
    ...lines,
    '',
    'Flags:',
    '  -h, --help     show this help',
    '  -v, --version  print the version',
    '',
    'Run `phoenix <command> --help` for the flags of a command.',
    '',
  ].join('\n');
}

/** Dispatches `argv` (without `node` and the script) to a command; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(usage());
    return first === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    process.stdout.write(`phoenix ${phoenixVersion()}\n`);
    return EXIT_OK;
  }
  const command = COMMANDS.find((candidate) => candidate.name === first);
  if (command === undefined) {
    process.stderr.write(`phoenix: unknown command ${JSON.stringify(first)}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  return command.run(rest);
}

/**
 * Entry of `bin/phoenix`: runs {@link main} and exits with its status. The exit is
 * explicit because a server's idle keep-alive connections would otherwise hold the
 * process open after a graceful shutdown.
 */
export async function runCli(argv: string[] = process.argv.slice(2)): Promise<never> {
  let status: number;
  try {
    status = await main(argv);
  } catch (error) {
    process.stderr.write(`phoenix: ${error instanceof Error ? error.message : String(error)}\n`);
    status = EXIT_FAILURE;
  }
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(status);
}
