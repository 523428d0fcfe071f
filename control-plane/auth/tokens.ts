/**
 * Bearer tokens of the control API and the roles they carry, read from `--token-file`.
 * Tokens are kept only as SHA-256 digests after loading and compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

/**
 * `viewer` reads pipelines and proxies; `admin` also writes pipelines (and may do what the
 * other roles do); `proxy` is what a proxy uses to register, watch its config and report.
 */
export const ROLES = ['viewer', 'admin', 'proxy'] as const;
export type Role = (typeof ROLES)[number];

/** Who made a call: the token's name, which is recorded as the author of what it writes. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

/** The roles a token's role stands in for. */
const GRANTS: Readonly<Record<Role, readonly Role[]>> = {
  viewer: ['viewer'],
  admin: ['viewer', 'admin', 'proxy'],
  proxy: ['proxy'],
};

/** Whether a caller with `held` may call a method that needs `needed`. */
export function roleAllows(held: Role, needed: Role): boolean {
  return GRANTS[held].includes(needed);
}

/** A token file that cannot be used; the message names the file and the entry. */
export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
}

interface TokenEntry {
  readonly principal: Principal;
  readonly digest: Buffer;
}

/** The loaded tokens; {@link TokenSet.authenticate} finds the principal of a bearer token. */
export class TokenSet {
  readonly #entries: readonly TokenEntry[];

  constructor(
    tokens: ReadonlyArray<{ readonly name: string; readonly token: string; readonly role: Role }>,
  ) {
    this.#entries = tokens.map(({ name, token, role }) => ({
      principal: { name, role },
      digest: sha256(token),
    }));
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The principal whose token this is, or undefined. Every entry is compared, always. */
  authenticate(token: string): Principal | undefined {
    const digest = sha256(token);
    let found: Principal | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, digest)) found ??= entry.principal;
    }
    return found;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Parses a token file: YAML or JSON, either a list or `{ tokens: [...] }`, each entry
 * `{ name, token, role }`. Names and tokens must be unique; tokens at least 16 characters.
 */
export function parseTokenFile(text: string, sourceName: string): TokenSet {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new TokenFileError(`${sourceName}: invalid YAML: ${(error as Error).message}`);
  }
  const list =
    document !== null && typeof document === 'object' && !Array.isArray(document)
      ? (document as Record<string, unknown>)['tokens']
      : document;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TokenFileError(
      `${sourceName}: expected a non-empty list of tokens (or tokens: [...])`,
    );
  }
  const names = new Set<string>();
  const secrets = new Set<string>();
  const tokens = list.map((entry: unknown, index) => {
    const where = `${sourceName}: tokens[${index}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new TokenFileError(`${where}: expected a mapping with name, token and role`);
    }
    const fields = entry as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      if (key !== 'name' && key !== 'token' && key !== 'role') {
        throw new TokenFileError(`${where}: unknown key ${JSON.stringify(key)}`);
      }
    }
    const { name, token, role } = fields;
    if (typeof name !== 'string' || name === '') {
      throw new TokenFileError(`${where}.name: must be a non-empty string`);
    }
    if (typeof token !== 'string' || token.length < 16) {
      throw new TokenFileError(`${where}.token: must be a string of at least 16 characters`);
    }
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
      throw new TokenFileError(`${where}.role: must be one of ${ROLES.join(', ')}`);
    }
    if (names.has(name))
      throw new TokenFileError(`${where}.name: duplicate name ${JSON.stringify(name)}`);
    if (secrets.has(token))
      throw new TokenFileError(`${where}.token: same token as an earlier entry`);
    names.add(name);
    secrets.add(token);
    return { name, token, role: role as Role };
  });
  return new TokenSet(tokens);
}

/** Reads and parses the token file at `path`. */
export async function loadTokenFile(path: string): Promise<TokenSet> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TokenFileError(`${path}: cannot read the token file: ${(error as Error).message}`);
  }
  return parseTokenFile(text, path);
}
