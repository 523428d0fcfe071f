/** The command did what was asked (for a server: it shut down cleanly). */
export const EXIT_OK = 0;
/** The command failed at run time (a port in use, workers that would not start). */
export const EXIT_FAILURE = 1;
/** Bad usage or bad configuration: unknown flag, invalid value, invalid config file. */
export const EXIT_USAGE = 2;

/**
 * Reports bad usage of `phoenix <command>` on stderr, pointing at the command's help, and
 * returns {@link EXIT_USAGE}, so every command words the refusal the same way.
 */
export function reportUsageError(
  command: string,
  message: string,
  writeStderr: (text: string) => void = (text) => {
    process.stderr.write(text);
  },
): number {
  writeStderr(`phoenix ${command}: ${message}\n\nRun \`phoenix ${command} --help\` for usage.\n`);
  return EXIT_USAGE;
}
