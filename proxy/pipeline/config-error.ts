/**
 * The one error type of the pipeline model: a config that cannot be used, with where and why.
 * The proxy's CLI prints `message` and exits; the control plane returns `path` and `reason`
 * to the client so an editor can point at the field.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The file name or other label of the config text, e.g. `phoenix.yaml`. */
  readonly sourceName: string;
  /** Where in the document, e.g. `relabel_configs[2].regex`; empty for the document itself. */
  readonly path: string;
  /** What is wrong, without the location. */
  readonly reason: string;
  /** 1-based line of the offending node in the source text, when known. */
  readonly line: number | undefined;
  /** 1-based column of the offending node in the source text, when known. */
  readonly column: number | undefined;

  constructor(
    sourceName: string,
    path: string,
    reason: string,
    position?: { readonly line: number; readonly column: number },
  ) {
    super(formatConfigErrorMessage(sourceName, path, reason, position));
    this.sourceName = sourceName;
    this.path = path;
    this.reason = reason;
    this.line = position?.line;
    this.column = position?.column;
  }
}

/**
 * `phoenix.yaml: relabel_configs[2].regex: invalid regex ...` for a field, and
 * `phoenix.yaml:3:7: <reason>` for a problem that has no config path (YAML syntax errors),
 * where the line and column are all a reader can go by.
 */
function formatConfigErrorMessage(
  sourceName: string,
  path: string,
  reason: string,
  position: { readonly line: number; readonly column: number } | undefined,
): string {
  if (path !== '') return `${sourceName}: ${path}: ${reason}`;
  if (position !== undefined) return `${sourceName}:${position.line}:${position.column}: ${reason}`;
  return `${sourceName}: ${reason}`;
}
