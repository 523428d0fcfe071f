/**
 * The guardrails of an experiment, judged on its latest results. Each is passed, failed, or
 * pending (not decidable yet); an automatic decision promotes when all pass and rolls back
 * when one has failed.
 */
import { create } from '@bufbuild/protobuf';
import {
  type ExperimentResults,
  type GuardrailCheck,
  GuardrailCheckSchema,
  type Guardrails,
  LiveVerdict,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';

/** Live answers may differ by this much when the spec does not say (1%). */
export const DEFAULT_MAX_DIVERGENCE = 0.01;

export interface GuardrailInputs {
  readonly guardrails: Guardrails | undefined;
  readonly results: ExperimentResults;
  readonly elapsedSeconds: number;
  /** Whether the results rest on enough data to judge a reduction. */
  readonly thin: boolean;
  /** Whether the experiment has query APIs to compare live answers on. */
  readonly liveConfigured: boolean;
  /** Whether a live comparison has completed since the minimum duration passed. */
  readonly liveChecked: boolean;
}

function check(name: string, state: 'passed' | 'failed' | 'pending', detail: string) {
  return create(GuardrailCheckSchema, {
    name,
    passed: state === 'passed',
    pending: state === 'pending',
    detail,
  });
}

export function judgeGuardrails(inputs: GuardrailInputs): GuardrailCheck[] {
  const { results, elapsedSeconds } = inputs;
  const guardrails = inputs.guardrails;
  const minDuration = guardrails?.minDurationSeconds ?? 0;
  const durationDone = elapsedSeconds >= minDuration;
  const checks: GuardrailCheck[] = [
    check(
      'min_duration',
      durationDone ? 'passed' : 'pending',
      `${Math.floor(elapsedSeconds)} s of ${minDuration} s`,
    ),
  ];

  const minReduction = guardrails?.minReductionPercent ?? 0;
  const reduction = results.reductionPercent;
  const reductionText = `${reduction.toFixed(1)}% (needs ≥ ${minReduction}%)`;
  if (inputs.thin || !durationDone) {
    const why = inputs.thin ? 'data still thin' : 'judged once min_duration has passed';
    checks.push(check('min_reduction', 'pending', `${reductionText}; ${why}`));
  } else {
    checks.push(
      check('min_reduction', reduction >= minReduction ? 'passed' : 'failed', reductionText),
    );
  }

  const maxBroken = guardrails?.maxBrokenQueries ?? 0;
  const broken = results.brokenQueries;
  checks.push(
    check(
      'broken_queries',
      broken <= maxBroken ? 'passed' : 'failed',
      `${broken} broken (at most ${maxBroken})`,
    ),
  );

  const maxDivergence =
    guardrails?.maxDivergence !== undefined && guardrails.maxDivergence > 0
      ? guardrails.maxDivergence
      : DEFAULT_MAX_DIVERGENCE;
  if (!inputs.liveConfigured) {
    checks.push(
      check('max_divergence', 'passed', 'no query APIs configured: live answers not compared'),
    );
  } else if (!inputs.liveChecked) {
    checks.push(check('max_divergence', 'pending', 'live answers not compared yet'));
  } else {
    const compared = results.queries.filter(
      (query) => query.live === LiveVerdict.MATCH || query.live === LiveVerdict.DIVERGED,
    );
    const worst = results.maxDivergence;
    const detail = `largest divergence ${(worst * 100).toFixed(2)}% over ${compared.length} queries (at most ${(maxDivergence * 100).toFixed(2)}%)`;
    checks.push(check('max_divergence', worst <= maxDivergence ? 'passed' : 'failed', detail));
  }
  return checks;
}

/** What the guardrails call for: nothing yet, promotion, or rollback (with why). */
export function decide(
  checks: readonly GuardrailCheck[],
): { readonly kind: 'wait' } | { readonly kind: 'promote' | 'rollback'; readonly reason: string } {
  const failed = checks.filter((item) => !item.passed && !item.pending);
  const durationPending = checks.some((item) => item.name === 'min_duration' && item.pending);
  if (durationPending) return { kind: 'wait' };
  if (failed.length > 0) {
    return {
      kind: 'rollback',
      reason: `guardrails failed: ${failed.map((item) => `${item.name}: ${item.detail}`).join('; ')}`,
    };
  }
  if (checks.every((item) => item.passed)) {
    return {
      kind: 'promote',
      reason: `guardrails passed: ${checks.map((item) => `${item.name}: ${item.detail}`).join('; ')}`,
    };
  }
  return { kind: 'wait' };
}
