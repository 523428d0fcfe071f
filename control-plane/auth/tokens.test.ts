import { describe, expect, it } from 'vitest';
import { parseTokenFile, roleAllows, TokenFileError } from './tokens.js';

const TOKEN_A = 'aaaaaaaaaaaaaaaaaaaa';
const TOKEN_B = 'bbbbbbbbbbbbbbbbbbbb';

describe('parseTokenFile', () => {
  it('reads a YAML list or a tokens: mapping, and finds principals by token', () => {
    const forms = [
      `- { name: ops, token: ${TOKEN_A}, role: admin }\n- { name: edge, token: ${TOKEN_B}, role: proxy }\n`,
      `tokens:\n  - name: ops\n    token: ${TOKEN_A}\n    role: admin\n  - name: edge\n    token: ${TOKEN_B}\n    role: proxy\n`,
      JSON.stringify({
        tokens: [
          { name: 'ops', token: TOKEN_A, role: 'admin' },
          { name: 'edge', token: TOKEN_B, role: 'proxy' },
        ],
      }),
    ];
    for (const text of forms) {
      const tokens = parseTokenFile(text, 'tokens.yaml');
      expect(tokens.size).toBe(2);
      expect(tokens.authenticate(TOKEN_A)).toEqual({ name: 'ops', role: 'admin' });
      expect(tokens.authenticate(TOKEN_B)).toEqual({ name: 'edge', role: 'proxy' });
      expect(tokens.authenticate(`${TOKEN_A}x`)).toBeUndefined();
      expect(tokens.authenticate('')).toBeUndefined();
    }
  });

  const invalid: Array<[string, string, RegExp]> = [
    ['empty file', '', /expected a non-empty list/],
    ['not a list', 'tokens: 3', /expected a non-empty list/],
    [
      'an unknown role',
      `- { name: a, token: ${TOKEN_A}, role: root }`,
      /tokens\[0\]\.role: must be one of viewer, admin, proxy/,
    ],
    [
      'a short token',
      '- { name: a, token: short, role: admin }',
      /tokens\[0\]\.token: must be a string of at least 16/,
    ],
    [
      'a missing name',
      `- { token: ${TOKEN_A}, role: admin }`,
      /tokens\[0\]\.name: must be a non-empty string/,
    ],
    [
      'an unknown key',
      `- { name: a, token: ${TOKEN_A}, role: admin, scope: x }`,
      /tokens\[0\]: unknown key "scope"/,
    ],
    [
      'a duplicate name',
      `- { name: a, token: ${TOKEN_A}, role: admin }\n- { name: a, token: ${TOKEN_B}, role: viewer }`,
      /tokens\[1\]\.name: duplicate name "a"/,
    ],
    [
      'a duplicate token',
      `- { name: a, token: ${TOKEN_A}, role: admin }\n- { name: b, token: ${TOKEN_A}, role: viewer }`,
      /tokens\[1\]\.token: same token as an earlier entry/,
    ],
    ['invalid YAML', '- [', /tokens\.yaml: invalid YAML/],
  ];
  for (const [name, text, message] of invalid) {
    it(`refuses ${name}`, () => {
      expect(() => parseTokenFile(text, 'tokens.yaml')).toThrow(TokenFileError);
      expect(() => parseTokenFile(text, 'tokens.yaml')).toThrow(message);
    });
  }
});

describe('roleAllows', () => {
  const table: Array<
    [Parameters<typeof roleAllows>[0], Parameters<typeof roleAllows>[1], boolean]
  > = [
    ['viewer', 'viewer', true],
    ['viewer', 'admin', false],
    ['viewer', 'proxy', false],
    ['admin', 'viewer', true],
    ['admin', 'admin', true],
    ['admin', 'proxy', true],
    ['proxy', 'proxy', true],
    ['proxy', 'viewer', false],
    ['proxy', 'admin', false],
  ];
  for (const [held, needed, allowed] of table) {
    it(`${held} ${allowed ? 'may' : 'may not'} call ${needed} methods`, () => {
      expect(roleAllows(held, needed)).toBe(allowed);
    });
  }
});
