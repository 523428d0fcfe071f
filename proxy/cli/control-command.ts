/**
 * The frame every `phoenix <command> <subcommand>` of the control API shares: parse the
 * flags, print the usage for `--help` or no subcommand, connect with the shared client
 * flags, run the subcommand, and turn what it throws into one of the exit statuses — 2 for
 * bad usage (named by the command), 1 for a refusal or failure of the control plane, with
 * the line of a config error when the control plane names one.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConnectError } from '@connectrpc/connect';
import { ConfigIssueSchema } from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import { type ControlClientContext, controlClientContext } from './control-client-flags.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, reportUsageError } from './exit-codes.js';
import type { CommandIo } from './output-format.js';

/** A mistake of the caller: exit status 2 with the command's usage hint. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>
>;

export interface ControlCommandSpec<O extends Options> {
  /** `pipeline`, `experiment`, … as in `phoenix <name>`. */
  readonly name: string;
  readonly flags: O;
  readonly usage: () => string;
  /** Runs a subcommand; resolves to the exit status. */
  readonly run: (
    subcommand: string,
    rest: readonly string[],
    values: ReturnType<
      typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>
    >['values'],
    context: ControlClientContext,
  ) => Promise<number>;
  /** More errors that mean bad usage (exit 2), besides {@link UsageError}. */
  readonly isUsageError?: (error: unknown) => error is Error;
  /** Errors whose own message is the whole story (exit 1), not a control-plane error. */
  readonly isLocalFailure?: (error: unknown) => error is Error;
  /** How a config error's line is named (`line 3`, `candidate line 3`). */
  readonly configLine?: (line: number) => string;
}

export async function runControlCommand<O extends Options>(
  spec: ControlCommandSpec<O>,
  args: string[],
  io: CommandIo,
): Promise<number> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args, options: spec.flags, strict: true, allowPositionals: true });
  } catch (error) {
    return reportUsageError(spec.name, (error as Error).message, io.stderr);
  }
  const { values, positionals } = parsed;
  const [subcommand, ...rest] = positionals;
  const help = (values as { help?: boolean }).help === true;
  if (help || subcommand === undefined) {
    io.stdout(spec.usage());
    return help ? EXIT_OK : EXIT_USAGE;
  }
  let context: ControlClientContext;
  try {
    context = await controlClientContext(values as Parameters<typeof controlClientContext>[0]);
  } catch (error) {
    return reportUsageError(spec.name, (error as Error).message, io.stderr);
  }
  try {
    return await spec.run(subcommand, rest, values, context);
  } catch (error) {
    if (error instanceof UsageError || spec.isUsageError?.(error)) {
      return reportUsageError(spec.name, (error as Error).message, io.stderr);
    }
    if (spec.isLocalFailure?.(error)) {
      io.stderr(`phoenix ${spec.name}: ${error.message}\n`);
      return EXIT_FAILURE;
    }
    const connectError = ConnectError.from(error);
    const issue = connectError.findDetails(ConfigIssueSchema)[0];
    const line = spec.configLine ?? ((number: number) => `line ${number}`);
    const where = issue === undefined || issue.line === 0 ? '' : ` (${line(issue.line)})`;
    io.stderr(`phoenix ${spec.name}: ${connectError.message}${where}\n`);
    return EXIT_FAILURE;
  }
}

/** The one positional argument a subcommand takes, else a {@link UsageError}. */
export function onePositional(rest: readonly string[], what: string): string {
  if (rest.length !== 1) throw new UsageError(`expected ${what}`);
  return rest[0]!;
}
