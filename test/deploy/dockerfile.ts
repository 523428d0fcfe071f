/**
 * A small Dockerfile parser, enough to lint deploy/Dockerfile without a container engine:
 * instructions with their line, flags (`--from=build`), and arguments in exec (JSON) or
 * shell form; line continuations, comments and `ARG` defaults in `FROM` are handled the
 * way BuildKit handles them. Heredocs and escape-directive changes are not (the file
 * uses neither; the parser refuses a heredoc rather than misreading it).
 */

/** One instruction, with `${ARG}` references in FROM already replaced by ARG defaults. */
export interface DockerInstruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  readonly keyword: string;
  /** 1-based line where the instruction starts. */
  readonly line: number;
  /** `--name=value` flags before the arguments, e.g. `{ from: 'build' }`. */
  readonly flags: Readonly<Record<string, string>>;
  /** Arguments: the JSON array of the exec form, or whitespace-split words of the shell form. */
  readonly args: readonly string[];
  /** Whether the arguments were written in exec (JSON array) form. */
  readonly execForm: boolean;
  /** Index of the build stage (FROM ... starts a new one); -1 before the first FROM. */
  readonly stage: number;
}

/** A build stage: its FROM image, optional `AS` name, and its instructions. */
export interface DockerStage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly DockerInstruction[];
}

export interface ParsedDockerfile {
  readonly instructions: readonly DockerInstruction[];
  readonly stages: readonly DockerStage[];
}

/** Parses Dockerfile text; throws with the line number on what it cannot read. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const instructions: DockerInstruction[] = [];
  const argDefaults = new Map<string, string>();
  const stages: { image: string; name: string | undefined; instructions: DockerInstruction[] }[] =
    [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const startLine = index + 1;
    let logical = lines[index] ?? '';
    if (/^\s*(#.*)?$/.test(logical)) continue;
    // A trailing backslash continues the instruction; comment lines inside it are dropped.
    while (/\\\s*$/.test(logical) && index + 1 < lines.length) {
      logical = logical.replace(/\\\s*$/, ' ');
      index++;
      let next = lines[index] ?? '';
      while (/^\s*#/.test(next) && index + 1 < lines.length) {
        index++;
        next = lines[index] ?? '';
      }
      logical += next;
    }
    const match = /^\s*([A-Za-z]+)\s*(.*)$/.exec(logical);
    if (match === null)
      throw new Error(`line ${startLine}: cannot read ${JSON.stringify(logical)}`);
    const keyword = (match[1] ?? '').toUpperCase();
    let rest = (match[2] ?? '').trim();
    if (/<<-?\s*["']?[A-Za-z]/.test(rest)) {
      throw new Error(`line ${startLine}: heredocs are not supported by this parser`);
    }
    const flags: Record<string, string> = {};
    for (;;) {
      const flag = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
      if (flag === null || keyword === 'RUN' || keyword === 'CMD' || keyword === 'ENTRYPOINT') {
        break;
      }
      flags[flag[1] ?? ''] = flag[2] ?? 'true';
      rest = rest.slice(flag[0].length);
    }
    let args: string[];
    let execForm = false;
    if (rest.startsWith('[')) {
      const parsed: unknown = JSON.parse(rest);
      if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
        throw new Error(`line ${startLine}: exec form must be a JSON array of strings`);
      }
      args = parsed;
      execForm = true;
    } else {
      args = rest.split(/\s+/).filter((word) => word !== '');
    }
    if (keyword === 'ARG' && stages.length === 0) {
      for (const word of args) {
        const [name, value] = word.split('=', 2);
        if (name !== undefined && value !== undefined) argDefaults.set(name, value);
      }
    }
    if (keyword === 'FROM') {
      const image = (args[0] ?? '').replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name) => {
        const value = argDefaults.get(name);
        if (value === undefined) throw new Error(`line ${startLine}: ARG ${name} has no default`);
        return value;
      });
      args = [image, ...args.slice(1)];
      const asIndex = args.findIndex((word) => word.toUpperCase() === 'AS');
      stages.push({ image, name: asIndex >= 0 ? args[asIndex + 1] : undefined, instructions: [] });
    }
    const instruction: DockerInstruction = {
      keyword,
      line: startLine,
      flags,
      args,
      execForm,
      stage: stages.length - 1,
    };
    instructions.push(instruction);
    stages.at(-1)?.instructions.push(instruction);
  }
  return { instructions, stages };
}

/** `COPY`/`ADD` sources and destination: every argument but the last is a source. */
export function copySources(instruction: DockerInstruction): {
  sources: readonly string[];
  destination: string;
} {
  return { sources: instruction.args.slice(0, -1), destination: instruction.args.at(-1) ?? '' };
}
