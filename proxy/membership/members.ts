/**
 * The aggregators a gateway of the two-tier layout routes to, and where their list comes
 * from (docs/aggregation-tier.md). Sources: a static list, DNS (A or SRV records,
 * re-resolved periodically) and Kubernetes EndpointSlices.
 */

/** One aggregator a gateway can route to. */
export interface Member {
  readonly name: string;
  readonly url: string;
}

/** Where the current member list comes from; calls `onChange` with the whole list. */
export interface MemberSource {
  start(onChange: (members: readonly Member[]) => void): Promise<void>;
  close(): Promise<void>;
}

/** A member list that cannot be used; the message names the entry and the reason. */
export class MemberListError extends Error {
  override readonly name = 'MemberListError';
}

/** Members sorted by name, so two lists with the same members compare equal. */
export function sortedMembers(members: readonly Member[]): Member[] {
  return [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether two lists hold the same names with the same URLs, in any order. */
export function sameMembers(a: readonly Member[], b: readonly Member[]): boolean {
  if (a.length !== b.length) return false;
  const left = sortedMembers(a);
  const right = sortedMembers(b);
  return left.every(
    (member, index) => member.name === right[index]!.name && member.url === right[index]!.url,
  );
}

/**
 * Parses `name=url,name=url` (the `--aggregation-members` flag). A URL without a path
 * gets `/api/v1/write`. Names must be distinct: they seed the rendezvous hash.
 */
export function parseMemberList(text: string): Member[] {
  const members: Member[] = [];
  for (const entry of text.split(',')) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    const equals = trimmed.indexOf('=');
    if (equals <= 0) {
      throw new MemberListError(`member ${JSON.stringify(trimmed)} must be name=url`);
    }
    const name = trimmed.slice(0, equals);
    members.push({ name, url: memberUrl(trimmed.slice(equals + 1), name) });
  }
  if (members.length === 0) throw new MemberListError('the member list is empty');
  const seen = new Set<string>();
  for (const member of members) {
    if (seen.has(member.name)) {
      throw new MemberListError(`member name ${JSON.stringify(member.name)} appears twice`);
    }
    seen.add(member.name);
  }
  return members;
}

/** The remote-write URL of a member, checked; `/api/v1/write` when no path is given. */
export function memberUrl(text: string, name: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MemberListError(`member ${name}: ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new MemberListError(`member ${name}: ${url.href} must use http: or https:`);
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/api/v1/write';
  return url.href;
}
