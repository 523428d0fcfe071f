/** A flag value that does not parse; the CLI answers it with exit status 2. */
export class FlagValueError extends Error {
  override readonly name = 'FlagValueError';
}

/** A whole number, such as `--workers 4`. */
export function parseCount(flag: string, text: string): number {
  if (!/^\d{1,15}$/.test(text)) {
    throw new FlagValueError(`${flag} ${JSON.stringify(text)} is not a whole number`);
  }
  return Number(text);
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** A size in bytes: `33554432`, `32MiB`, `512KiB`. Binary units only, to be unambiguous. */
export function parseByteSize(flag: string, text: string): number {
  const match = /^(\d{1,15})\s*([a-zA-Z]*)$/.exec(text.trim());
  const multiplier = match === null ? undefined : BYTE_UNITS[match[2]!.toLowerCase()];
  if (match === null || multiplier === undefined) {
    throw new FlagValueError(
      `${flag} ${JSON.stringify(text)} is not a size (bytes, or a number with KiB, MiB, GiB)`,
    );
  }
  return Number(match[1]) * multiplier;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A duration in Prometheus' style, returned in milliseconds: `500ms`, `30s`, `1m30s`. */
export function parseDuration(flag: string, text: string): number {
  const pattern = /(\d+)(ms|s|m|h)/y;
  let totalMs = 0;
  let position = 0;
  while (position < text.length) {
    pattern.lastIndex = position;
    const match = pattern.exec(text);
    if (match === null) break;
    totalMs += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    position = pattern.lastIndex;
  }
  if (text === '' || position !== text.length) {
    throw new FlagValueError(
      `${flag} ${JSON.stringify(text)} is not a duration (like 500ms, 30s, 1m30s)`,
    );
  }
  return totalMs;
}

/** `host:port`, `[v6addr]:port` or `:port` (all interfaces). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (match === null) {
    throw new FlagValueError(
      `--listen ${JSON.stringify(text)} is not HOST:PORT (like 127.0.0.1:9091 or [::1]:9091)`,
    );
  }
  const host = match[1] ?? (match[2] === '' ? '0.0.0.0' : match[2]!);
  return { host, port: Number(match[3]) };
}
