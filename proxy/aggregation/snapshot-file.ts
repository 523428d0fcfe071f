/**
 * The aggregation snapshot on disk: `<dataDir>/aggregation/state.bin`, written to a
 * temporary file, fsynced and renamed so a crash leaves the old snapshot or the new one,
 * never half of one. A header holds a fingerprint of the rules, since the state is only
 * meaningful for the rules that built it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../delivery/atomic-file.js';
import type { AggregationRule } from '../pipeline/aggregation-config.js';

const MAGIC = Buffer.from('PHXAGG01', 'latin1');
const FINGERPRINT_BYTES = 32;

/** A digest of everything in the rules that shapes the state. */
export function rulesFingerprint(rules: readonly AggregationRule[]): Buffer {
  const shape = rules.map((rule) => ({
    match: rule.match.map((selector) => selector.text),
    interval: rule.interval,
    by: rule.by ?? null,
    without: rule.without,
    outputs: rule.outputs,
    // Present only when set, so the fingerprint of rules without them stays as it was.
    ...(rule.quantiles === undefined ? {} : { quantiles: rule.quantiles }),
    ...(rule.dedupIntervalMs === undefined ? {} : { dedupIntervalMs: rule.dedupIntervalMs }),
    staleness: rule.stalenessIntervalMs,
    keepMetricNames: rule.keepMetricNames,
    dropInputLabels: rule.dropInputLabels,
    // Input relabeling decides the groups; a uint64 modulus is not JSON, its text is.
    inputRelabel: (rule.inputRelabelConfigs ?? []).map((relabel) => ({
      ...relabel,
      modulus: relabel.modulus.toString(),
    })),
  }));
  return createHash('sha256').update(JSON.stringify(shape)).digest();
}

export function snapshotPath(dataDir: string): string {
  return path.join(dataDir, 'aggregation', 'state.bin');
}

/** Writes `state` for `rules` atomically. */
export async function writeSnapshotFile(
  dataDir: string,
  rules: readonly AggregationRule[],
  state: Uint8Array,
): Promise<void> {
  await writeFileAtomic(
    snapshotPath(dataDir),
    Buffer.concat([MAGIC, rulesFingerprint(rules), state]),
  );
}

/** Why a snapshot was not used, or the state bytes when it can be. */
export type SnapshotRead =
  | { readonly kind: 'state'; readonly state: Uint8Array }
  | { readonly kind: 'none' }
  | { readonly kind: 'unusable'; readonly reason: string };

export async function readSnapshotFile(
  dataDir: string,
  rules: readonly AggregationRule[],
): Promise<SnapshotRead> {
  let bytes: Buffer;
  try {
    bytes = await readFile(snapshotPath(dataDir));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw error;
  }
  if (
    bytes.length < MAGIC.length + FINGERPRINT_BYTES ||
    !bytes.subarray(0, MAGIC.length).equals(MAGIC)
  ) {
    return { kind: 'unusable', reason: 'not an aggregation snapshot' };
  }
  const fingerprint = bytes.subarray(MAGIC.length, MAGIC.length + FINGERPRINT_BYTES);
  if (!fingerprint.equals(rulesFingerprint(rules))) {
    return { kind: 'unusable', reason: 'written for different aggregation rules' };
  }
  return { kind: 'state', state: new Uint8Array(bytes.subarray(MAGIC.length + FINGERPRINT_BYTES)) };
}
