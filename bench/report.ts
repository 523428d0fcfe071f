/**
 * The benchmark's final output: the machine it ran on, a table of the medians per scenario
 * and target with the Phoenix ÷ vmagent ratios, or all of it as JSON for machines.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { repoDir } from './peers.js';
import {
  type AddedLatency,
  addedLatency,
  type Comparison,
  compare,
  type RunResult,
  type RunSummary,
  summarise,
} from './run-result.js';

/** Where the numbers were measured. */
export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly phoenix: string;
  /** `vmagent -version`, when vmagent was part of the run. */
  readonly vmagent: string | undefined;
}

/** The whole report, also the `--json` document. */
export interface BenchReport {
  readonly machine: MachineInfo;
  readonly options: Record<string, unknown>;
  readonly runs: readonly RunResult[];
  readonly summaries: readonly RunSummary[];
  readonly comparisons: readonly Comparison[];
  /** With `--vs direct`: what each target adds to the sender's latency. */
  readonly addedLatency: readonly AddedLatency[];
}

export function machineInfo(vmagentBinary: string | undefined): MachineInfo {
  let cpuModel = 'unknown';
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match !== null) cpuModel = match[1]!.trim();
  } catch {
    // Not Linux: the model stays unknown.
  }
  let phoenix = 'unknown';
  try {
    const pkg = JSON.parse(readFileSync(join(repoDir(), 'package.json'), 'utf8')) as {
      version?: string;
    };
    phoenix = pkg.version ?? phoenix;
  } catch {
    // Run outside the checkout.
  }
  let vmagent: string | undefined;
  if (vmagentBinary !== undefined) {
    // Upstream builds print their version; Debian's prints nothing, so its package says.
    const result = spawnSync(vmagentBinary, ['-version'], { encoding: 'utf8' });
    vmagent =
      `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() ||
      debianPackageVersion(vmagentBinary) ||
      'unknown';
  }
  return { cores: availableParallelism(), cpuModel, node: process.version, phoenix, vmagent };
}

/** `vmagent <version> (Debian package)` from the changelog the package ships beside the binary. */
function debianPackageVersion(binary: string): string | undefined {
  try {
    const changelog = join(
      dirname(binary),
      '..',
      'share',
      'doc',
      'victoria-metrics',
      'changelog.Debian.gz',
    );
    const firstLine = gunzipSync(readFileSync(changelog)).toString('utf8').split('\n')[0] ?? '';
    const version = /\(([^)]+)\)/.exec(firstLine)?.[1];
    return version === undefined ? undefined : `vmagent ${version} (Debian package)`;
  } catch {
    return undefined;
  }
}

export function buildReport(
  machine: MachineInfo,
  options: Record<string, unknown>,
  runs: readonly RunResult[],
): BenchReport {
  const summaries = summarise(runs);
  return {
    machine,
    options,
    runs,
    summaries,
    comparisons: compare(summaries),
    addedLatency: addedLatency(summaries),
  };
}

const COLUMNS = [
  'scenario',
  'target',
  'runs',
  'CPU s / M samples',
  'samples/s',
  'p50 ms',
  'p99 ms',
  'peak RSS MiB',
  'samples in → out',
  'lost',
] as const;

/** The report as a plain-text table (medians per scenario and target, then ratios). */
export function formatReport(report: BenchReport): string {
  const rows: string[][] = [];
  // `direct` runs have no process of their own to measure.
  const measured = (value: number, digits: number): string =>
    Number.isNaN(value) ? '—' : value.toFixed(digits);
  for (const summary of report.summaries) {
    rows.push([
      summary.scenario,
      summary.target,
      String(summary.runs),
      measured(summary.cpuSecondsPerMillionSamples, 2),
      Math.round(summary.samplesPerSecond).toLocaleString('en-US'),
      summary.latencyP50Ms.toFixed(2),
      summary.latencyP99Ms.toFixed(2),
      measured(summary.peakRssBytes / 2 ** 20, 0),
      `${summary.samplesIn.toLocaleString('en-US')} → ${summary.samplesOut.toLocaleString('en-US')}`,
      String(summary.samplesLost + summary.failedRequests),
    ]);
    const comparison = report.comparisons.find((one) => one.scenario === summary.scenario);
    const isLastOfScenario =
      report.summaries.filter((one) => one.scenario === summary.scenario).at(-1) === summary;
    if (comparison !== undefined && isLastOfScenario) {
      rows.push([
        summary.scenario,
        'phoenix ÷ vmagent',
        '',
        `${comparison.cpuRatio.toFixed(2)}×`,
        `${comparison.throughputRatio.toFixed(2)}×`,
        '',
        '',
        `${comparison.peakRssRatio.toFixed(2)}×`,
        '',
        '',
      ]);
    }
    if (isLastOfScenario) {
      for (const added of report.addedLatency.filter((one) => one.scenario === summary.scenario)) {
        rows.push([
          summary.scenario,
          `${added.target} − direct`,
          '',
          '',
          '',
          added.p50Ms.toFixed(2),
          added.p99Ms.toFixed(2),
          '',
          '',
          '',
        ]);
      }
    }
  }
  const widths = COLUMNS.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) =>
        column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  const machine = report.machine;
  return [
    `machine: ${machine.cores} cores, ${machine.cpuModel}, Node.js ${machine.node}, phoenix ${machine.phoenix}` +
      (machine.vmagent === undefined ? '' : `, ${machine.vmagent}`),
    '',
    line(COLUMNS),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    '',
    'lost = samples the sink should have received but did not, plus failed requests (must be 0).',
    ...(report.addedLatency.length === 0
      ? []
      : [
          '<target> − direct = latency the target adds: its p50 and p99 less those of the same load sent straight to the sink.',
        ]),
    ...aggregationLines(report.runs),
    '',
  ].join('\n');
}

/**
 * One line per aggregation run: input series against output series, and the state per
 * tracked input series. vmagent 1.79 has no stream aggregation; in that scenario it runs
 * the plain labeldrop of the same labels, so its row is the relabel baseline.
 */
function aggregationLines(runs: readonly RunResult[]): string[] {
  const lines: string[] = [];
  for (const run of runs) {
    const measured = run.aggregation;
    if (measured === undefined) continue;
    const fewer = 100 * (1 - measured.outputSeries / Math.max(1, measured.inputSeries));
    const perSeries = measured.stateBytes / Math.max(1, measured.trackedSeries);
    lines.push(
      `${run.scenario} round ${run.round}: ${measured.inputSeries.toLocaleString('en-US')} input series → ` +
        `${measured.outputSeries.toLocaleString('en-US')} output series (${fewer.toFixed(1)}% fewer), ` +
        `${measured.groups.toLocaleString('en-US')} groups, state ${(measured.stateBytes / 2 ** 20).toFixed(1)} MiB = ` +
        `${perSeries.toFixed(0)} bytes per tracked input series, ` +
        `${run.cpuSecondsPerMillionSamples.toFixed(2)} µs CPU per sample`,
    );
  }
  if (lines.length > 0) {
    lines.unshift(
      '',
      'aggregation: vmagent 1.79 has no stream aggregation; its row runs the labeldrop of the same labels (the relabel baseline).',
    );
  }
  return lines;
}
