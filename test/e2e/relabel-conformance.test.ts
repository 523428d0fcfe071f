/**
 * Checks the relabel table (`proxy/pipeline/relabel-cases.ts`) against a real Prometheus
 * 2.42, then runs every case through `phoenix proxy` end to end: a Prometheus sender with
 * no rules, Phoenix with the case's rules, and the same receiver. Phoenix's output must
 * equal the table and what Prometheus itself made of the case.
 *
 * How a case reaches Prometheus's relabelling faithfully: one sender scrapes every case's
 * input as a separate series, told apart by an extra case label. Each case has its own
 * `remote_write` entry whose `write_relabel_configs` are `keep` (this case's series only),
 * `labeldrop` (the case label), then the case's own rules, so the rules see exactly the
 * case's input. The scrape adds `job` and `instance`: `honor_labels` keeps the input's own
 * values and `metric_relabel_configs` removes the ones the input lacks (see
 * `test/helpers/relabel-conformance.ts`). Cases whose input a scrape cannot carry (no
 * metric name, empty values) are listed and left out; at least most of the table must run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relabelCases } from '../../proxy/pipeline/relabel-cases.js';
import { type RunningPhoenix, startPhoenix } from '../helpers/phoenix.js';
import {
  type ConformanceRun,
  type RelabelCase,
  runCasesThroughPrometheus,
  sortedLabels,
  whyNotScrapeable,
} from '../helpers/relabel-conformance.js';

const scrapeableCases: RelabelCase[] = relabelCases.filter(
  (relabelCase) => whyNotScrapeable(relabelCase) === undefined,
);
const leftOut = relabelCases.flatMap((relabelCase) => {
  const reason = whyNotScrapeable(relabelCase);
  return reason === undefined ? [] : [`${relabelCase.name}: ${reason}`];
});

/** What the receiver should get for a case: nothing, or one series with these labels. */
function expectedSeries(relabelCase: RelabelCase): [string, string][][] {
  return relabelCase.output === null ? [] : [sortedLabels(relabelCase.output)];
}

/** Prometheus's own result per case name, for comparing Phoenix with it directly. */
const prometheusResults = new Map<string, [string, string][][]>();

describe('relabel table vs Prometheus 2.42 write_relabel_configs', () => {
  let run: ConformanceRun | undefined;

  beforeAll(async () => {
    run = await runCasesThroughPrometheus(scrapeableCases, { withWriteRules: true });
    for (const outcome of run.outcomes) {
      prometheusResults.set(outcome.relabelCase.name, outcome.received.map(sortedLabels));
    }
  }, 90_000);

  afterAll(async () => {
    await run?.stop();
  });

  it('feeds most of the table to Prometheus', () => {
    expect(relabelCases.length).toBeGreaterThan(0);
    // Listed so a reader sees which cases only the unit tests cover.
    expect(leftOut.length, `cases left out:\n${leftOut.join('\n')}`).toBeLessThanOrEqual(
      relabelCases.length / 4,
    );
  });

  it.each(scrapeableCases.map((relabelCase, caseIndex) => ({ name: relabelCase.name, caseIndex })))(
    '$name',
    ({ caseIndex }) => {
      const outcome = run!.outcomes[caseIndex]!;
      expect(outcome.received.map(sortedLabels)).toEqual(expectedSeries(outcome.relabelCase));
    },
  );
});

/**
 * Phoenix has one pipeline per process, so each case gets its own `phoenix proxy` with the
 * case's rules as its config; the sender applies no rules of its own.
 */
describe('phoenix proxy vs Prometheus 2.42, whole table', () => {
  const proxies: RunningPhoenix[] = [];
  const startFailures = new Map<number, string>();
  let run: ConformanceRun | undefined;

  beforeAll(async () => {
    run = await runCasesThroughPrometheus(scrapeableCases, {
      withWriteRules: false,
      routeCase: async (caseIndex, caseReceiverUrl) => {
        try {
          const phoenix = await startPhoenix({
            upstreamUrl: caseReceiverUrl,
            config: { relabel_configs: scrapeableCases[caseIndex]!.rules },
          });
          proxies.push(phoenix);
          return phoenix.remoteWriteUrl;
        } catch (error) {
          startFailures.set(caseIndex, error instanceof Error ? error.message : String(error));
          // Writes go nowhere the case looks, so the case fails with the reason above.
          return `${caseReceiverUrl}-phoenix-did-not-start`;
        }
      },
    });
  }, 120_000);

  afterAll(async () => {
    await run?.stop();
    await Promise.allSettled(proxies.map((phoenix) => phoenix.stop()));
  });

  it.each(scrapeableCases.map((relabelCase, caseIndex) => ({ name: relabelCase.name, caseIndex })))(
    '$name',
    ({ caseIndex }) => {
      expect(startFailures.get(caseIndex)).toBeUndefined();
      const outcome = run!.outcomes[caseIndex]!;
      const phoenixResult = outcome.received.map(sortedLabels);
      expect(phoenixResult).toEqual(expectedSeries(outcome.relabelCase));
      const prometheusResult = prometheusResults.get(outcome.relabelCase.name);
      if (prometheusResult !== undefined) expect(phoenixResult).toEqual(prometheusResult);
    },
  );
});
