import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { WriteRequestSchema } from '../../proto/gen/prometheus/remote_pb.js';
import {
  LabelSchema,
  SampleSchema,
  TimeSeriesSchema,
} from '../../proto/gen/prometheus/types_pb.js';
import { TIER_RULE_LABEL } from '../aggregation/classify.js';
import { parseAggregationRules } from '../pipeline/aggregation-config.js';
import { GroupRouter } from './group-router.js';
import { MemberRing } from './routing-key.js';

const rules = parseAggregationRules(
  [
    { match: 'http_requests_total', interval: '10s', by: ['job'], outputs: ['total'] },
    { match: 'http_requests_total', interval: '10s', without: ['pod'], outputs: ['total'] },
    { match: 'queue_depth', interval: '10s', by: ['queue'], outputs: ['max'] },
  ],
  'test.yaml',
);

function series(labels: Record<string, string>) {
  return create(TimeSeriesSchema, {
    labels: Object.keys(labels)
      .sort()
      .map((name) => create(LabelSchema, { name, value: labels[name]! })),
    samples: [create(SampleSchema, { value: 1, timestamp: 1000n })],
  });
}

/** 40 jobs × 5 pods × 2 instances of http_requests_total, plus series no rule selects. */
function request(): Uint8Array {
  const timeseries = [];
  for (let job = 0; job < 40; job++) {
    for (let pod = 0; pod < 5; pod++) {
      for (let instance = 0; instance < 2; instance++) {
        timeseries.push(
          series({
            __name__: 'http_requests_total',
            job: `job-${job}`,
            pod: `pod-${pod}`,
            instance: `i-${instance}`,
          }),
        );
      }
    }
  }
  timeseries.push(series({ __name__: 'unrelated', job: 'x' }));
  return toBinary(WriteRequestSchema, create(WriteRequestSchema, { timeseries }));
}

interface Copy {
  labels: Record<string, string>;
  member: string;
}

function copies(parts: Uint8Array[], ring: MemberRing): Copy[] {
  return parts.flatMap((part, index) =>
    fromBinary(WriteRequestSchema, part).timeseries.map((timeSeries) => ({
      labels: Object.fromEntries(timeSeries.labels.map((label) => [label.name, label.value])),
      member: ring.names[index]!,
    })),
  );
}

/** Owner of each group: `rule|group labels` → member, failing if a group has two owners. */
function groupOwners(routed: Copy[]): Map<string, string> {
  const owners = new Map<string, string>();
  for (const copy of routed) {
    const rule = copy.labels[TIER_RULE_LABEL];
    const group =
      rule === '0' ? `0|${copy.labels.job}` : `${rule}|${copy.labels.job}|${copy.labels.instance}`;
    const owner = owners.get(group);
    if (owner !== undefined) expect(owner, group).toBe(copy.member);
    owners.set(group, copy.member);
  }
  return owners;
}

describe('GroupRouter', () => {
  it('sends every series once per rule that selects it, each group to one member', () => {
    const router = new GroupRouter(rules);
    const ring = new MemberRing(['a', 'b', 'c']);
    const routed = router.route(request(), ring);
    const all = copies(routed.parts, ring);
    expect(routed.copies).toBe(800);
    expect(all).toHaveLength(800);
    expect(all.some((copy) => copy.labels.__name__ === 'unrelated')).toBe(false);
    const owners = groupOwners(all);
    // 40 groups of rule 0 (by job) and 80 of rule 1 (without pod).
    expect(owners.size).toBe(120);
    for (const member of ['a', 'b', 'c']) {
      expect([...owners.values()].filter((owner) => owner === member).length).toBeGreaterThan(20);
    }
  });

  it('keeps label names sorted around the rule mark', () => {
    const router = new GroupRouter(rules);
    const ring = new MemberRing(['a']);
    const [part] = router.route(request(), ring).parts;
    for (const timeSeries of fromBinary(WriteRequestSchema, part!).timeseries) {
      const names = timeSeries.labels.map((label) => label.name);
      expect(names).toEqual([...names].sort());
      expect(names.filter((name) => name === TIER_RULE_LABEL)).toHaveLength(1);
      expect(timeSeries.samples).toHaveLength(1);
    }
  });

  it('moves only the groups whose owner changed when a member joins or leaves', () => {
    const router = new GroupRouter(rules);
    const three = new MemberRing(['a', 'b', 'c']);
    const four = new MemberRing(['a', 'b', 'c', 'd']);
    const withoutB = new MemberRing(['a', 'c']);
    const before = groupOwners(copies(router.route(request(), three).parts, three));
    const joined = router.route(request(), four, three);
    const afterJoin = groupOwners(copies(joined.parts, four));
    let moved = 0;
    for (const [group, owner] of afterJoin) {
      if (owner !== before.get(group)) {
        expect(owner, group).toBe('d');
        moved++;
      }
    }
    // About a quarter of 120 groups move to the new member; none move between the others.
    expect(moved).toBeGreaterThan(12);
    expect(moved).toBeLessThan(50);
    expect(joined.movedFrom.get(3)).toEqual(new Set(['a', 'b', 'c']));
    expect(joined.movedFrom.get(0)).toBeUndefined();

    const left = router.route(request(), withoutB, three);
    const afterLeave = groupOwners(copies(left.parts, withoutB));
    for (const [group, owner] of afterLeave) {
      if (before.get(group) !== 'b') expect(owner, group).toBe(before.get(group));
    }
    expect([...left.movedFrom.values()].every((from) => from.size === 1 && from.has('b'))).toBe(
      true,
    );
  });

  it('routes a series another member already marked by its mark alone, as it is', () => {
    const router = new GroupRouter(rules);
    const ring = new MemberRing(['a', 'b']);
    const marked = toBinary(
      WriteRequestSchema,
      create(WriteRequestSchema, {
        timeseries: [
          series({ __name__: 'http_requests_total', job: 'j', pod: 'p', [TIER_RULE_LABEL]: '1' }),
        ],
      }),
    );
    const routed = router.route(marked, ring);
    const all = copies(routed.parts, ring);
    expect(all).toHaveLength(1);
    expect(all[0]!.labels[TIER_RULE_LABEL]).toBe('1');
    const bad = toBinary(
      WriteRequestSchema,
      create(WriteRequestSchema, {
        timeseries: [series({ __name__: 'http_requests_total', [TIER_RULE_LABEL]: '9' })],
      }),
    );
    expect(() => router.route(bad, ring)).toThrow(
      `${TIER_RULE_LABEL}="9" names no aggregation rule`,
    );
  });
});
