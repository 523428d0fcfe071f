import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsMemberSource } from './dns-source.js';
import { startTestDnsServer, type TestDnsServer } from './dns-test-server.js';
import { type Member, MemberListError, parseMemberList, sameMembers } from './members.js';
import { StaticMemberSource } from './static-source.js';

describe('parseMemberList', () => {
  const cases: Array<{ text: string; members?: Member[]; error?: string }> = [
    {
      text: 'a=http://127.0.0.1:1/api/v1/write,b=http://127.0.0.1:2',
      members: [
        { name: 'a', url: 'http://127.0.0.1:1/api/v1/write' },
        { name: 'b', url: 'http://127.0.0.1:2/api/v1/write' },
      ],
    },
    { text: 'a', error: 'member "a" must be name=url' },
    { text: 'a=nope', error: 'member a: "nope" is not a URL' },
    { text: 'a=ftp://x', error: 'member a: ftp://x/ must use http: or https:' },
    { text: 'a=http://x,a=http://y', error: 'member name "a" appears twice' },
    { text: ' , ', error: 'the member list is empty' },
  ];
  for (const testCase of cases) {
    it(testCase.text, () => {
      if (testCase.error !== undefined) {
        expect(() => parseMemberList(testCase.text)).toThrow(new MemberListError(testCase.error));
      } else {
        expect(parseMemberList(testCase.text)).toEqual(testCase.members);
      }
    });
  }

  it('compares lists regardless of order', () => {
    const one = parseMemberList('a=http://x,b=http://y');
    expect(sameMembers(one, [...one].reverse())).toBe(true);
    expect(sameMembers(one, parseMemberList('a=http://x,b=http://z'))).toBe(false);
  });
});

describe('StaticMemberSource', () => {
  it('reports its list once', async () => {
    const seen: Array<readonly Member[]> = [];
    const source = new StaticMemberSource(parseMemberList('a=http://x'));
    await source.start((members) => seen.push(members));
    await source.close();
    expect(seen).toEqual([[{ name: 'a', url: 'http://x/api/v1/write' }]]);
  });
});

describe('DnsMemberSource against a DNS server on the loopback', () => {
  let dns: TestDnsServer;
  beforeAll(async () => {
    dns = await startTestDnsServer();
  });
  afterAll(async () => {
    await dns.close();
  });

  async function waitFor<T>(read: () => T | undefined, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = read();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('follows SRV records as they change, reporting only changes', async () => {
    dns.setSrv('_phoenix._tcp.aggregators.test', [
      { target: '127.0.0.1', port: 7001 },
      { target: '127.0.0.1', port: 7002 },
    ]);
    const seen: Member[][] = [];
    const source = new DnsMemberSource({
      address: '_phoenix._tcp.aggregators.test:0',
      refreshIntervalMs: 50,
      servers: [dns.address],
    });
    await source.start((members) =>
      seen.push([...members].sort((a, b) => a.name.localeCompare(b.name))),
    );
    expect(seen).toEqual([
      [
        { name: '127.0.0.1:7001', url: 'http://127.0.0.1:7001/api/v1/write' },
        { name: '127.0.0.1:7002', url: 'http://127.0.0.1:7002/api/v1/write' },
      ],
    ]);
    const queriesBefore = dns.queries();
    await waitFor(() => (dns.queries() >= queriesBefore + 3 ? true : undefined));
    expect(seen).toHaveLength(1);
    dns.setSrv('_phoenix._tcp.aggregators.test', [{ target: '127.0.0.1', port: 7002 }]);
    await waitFor(() => (seen.length === 2 ? true : undefined));
    expect(seen[1]).toEqual([
      { name: '127.0.0.1:7002', url: 'http://127.0.0.1:7002/api/v1/write' },
    ]);
    await source.close();
  });

  it('reads A records with the given port, and keeps the last list when the name vanishes', async () => {
    dns.setA('aggregators.test', ['127.0.0.2', '127.0.0.3']);
    const seen: Member[][] = [];
    const errors: string[] = [];
    const source = new DnsMemberSource({
      address: 'aggregators.test:9091',
      refreshIntervalMs: 50,
      servers: [dns.address],
      onError: (message) => errors.push(message),
    });
    await source.start((members) => seen.push([...members]));
    expect(seen[0]?.map((member) => member.name).sort()).toEqual([
      '127.0.0.2:9091',
      '127.0.0.3:9091',
    ]);
    dns.setA('aggregators.test', []);
    await waitFor(() => (errors.length > 0 ? true : undefined));
    expect(errors[0]).toBe('lookup of aggregators.test failed: queryA ENODATA aggregators.test');
    expect(seen).toHaveLength(1);
    await source.close();
  });

  it('refuses an address without a usable port', () => {
    expect(
      () => new DnsMemberSource({ address: 'aggregators.test', refreshIntervalMs: 1 }),
    ).toThrow('DNS member address "aggregators.test" must be host:port');
    expect(
      () => new DnsMemberSource({ address: 'aggregators.test:0', refreshIntervalMs: 1 }),
    ).toThrow('A records need a port other than 0');
  });
});
