/** The command did what was asked (for a server: it shut down cleanly). */
export const EXIT_OK = 0;
/** The command failed at run time (a port in use, workers that would not start). */
export const EXIT_FAILURE = 1;
/** Bad usage or bad configuration: unknown flag, invalid value, invalid config file. */
export const EXIT_USAGE = 2;
