/**
 * How the control-plane commands print what they got: `table` for people, `json` and
 * `yaml` (the API's JSON mapping: camelCase names, 64-bit integers as strings, times as
 * RFC 3339) for scripts.
 */
import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Where a command writes; the CLI passes the process streams, tests pass collectors. */
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Checks `--output`; the message names the allowed values. */
export function parseOutputFormat(text: string): OutputFormat {
  if ((OUTPUT_FORMATS as readonly string[]).includes(text)) return text as OutputFormat;
  throw new Error(`--output ${JSON.stringify(text)} must be one of ${OUTPUT_FORMATS.join(', ')}`);
}

/** `value` (already in JSON shape) as JSON or YAML text, newline-terminated. */
export function formatData(format: 'json' | 'yaml', value: unknown): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value);
}

/** Rows as aligned columns under upper-case headers, two spaces apart. */
export function formatTable(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return `${[line(headers.map((header) => header.toUpperCase())), ...rows.map(line)].join('\n')}\n`;
}
