import type { Member, MemberSource } from './members.js';

/** A fixed member list (`--aggregation-members`): reported once, never changes. */
export class StaticMemberSource implements MemberSource {
  readonly #members: readonly Member[];

  constructor(members: readonly Member[]) {
    this.#members = [...members];
  }

  async start(onChange: (members: readonly Member[]) => void): Promise<void> {
    onChange(this.#members);
  }

  async close(): Promise<void> {}
}
