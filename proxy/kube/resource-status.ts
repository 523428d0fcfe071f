/**
 * Building the `status` the operator writes, so that reconciling an unchanged resource
 * produces exactly the status it already has: no write, no watch event, no loop.
 */
import type { ReadyCondition } from './phoenix-resources.js';

/** The outcome of one reconcile, before it becomes a status. */
export interface ReconcileOutcome<Phase extends string = string> {
  readonly phase: Phase;
  /** The `Ready` condition's status: whether the control plane has what the spec says. */
  readonly ready: boolean;
  /** `Ready` condition's reason: `Applied`, `InvalidConfig`, `ControlPlaneError`, … */
  readonly reason: string;
  readonly message: string;
}

/**
 * The `Ready` condition for `outcome`; `lastTransitionTime` stays that of `previous`
 * unless the condition's status flips.
 */
export function readyCondition(
  previous: readonly ReadyCondition[] | undefined,
  outcome: ReconcileOutcome,
  observedGeneration: number,
  now: Date = new Date(),
): ReadyCondition {
  const status = outcome.ready ? 'True' : 'False';
  const before = previous?.find((condition) => condition.type === 'Ready');
  return {
    type: 'Ready',
    status,
    reason: outcome.reason,
    message: outcome.message,
    observedGeneration,
    lastTransitionTime:
      before !== undefined && before.status === status
        ? before.lastTransitionTime
        : now.toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

/** Whether two status objects differ (key order ignored). */
export function statusDiffers(current: unknown, next: unknown): boolean {
  return canonicalJson(current) !== canonicalJson(next);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) =>
    field !== null && typeof field === 'object' && !Array.isArray(field)
      ? Object.fromEntries(
          Object.entries(field as Record<string, unknown>).sort(([left], [right]) =>
            left < right ? -1 : left > right ? 1 : 0,
          ),
        )
      : field,
  );
}
