import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { peerBinary } from './peers.js';
import { pollUntil } from './poll.js';
import { type RunningPrometheus, startPrometheus } from './prometheus.js';
import { type RemoteWriteReceiver, startRemoteWriteReceiver } from './remote-write-receiver.js';
import {
  type ExposedSample,
  renderExposition,
  type ScrapeTarget,
  startScrapeTarget,
} from './scrape-target.js';

/** One row of a relabel table: rules in `relabel_config` YAML shape, input and expected output. */
export interface RelabelCase {
  name: string;
  rules: object[];
  input: Record<string, string>;
  /** `null` when the rules drop the series. */
  output: Record<string, string> | null;
}

/**
 * Label that tells the cases' series apart inside one scrape. Each case's write path keeps
 * only its own series by this label and removes it before the case's rules run, so the
 * rules see exactly the case's input.
 */
export const CASE_LABEL = 'phoenix_conformance_case';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Why a case cannot be fed to Prometheus through a scrape, or undefined when it can. A
 * scrape needs a valid metric name and label names, and it treats an empty label as absent.
 * (Labels with the reserved `__` prefix do pass through a scrape unchanged.)
 */
export function whyNotScrapeable(relabelCase: RelabelCase): string | undefined {
  const name = relabelCase.input['__name__'];
  if (name === undefined || !METRIC_NAME.test(name)) return 'input has no valid __name__';
  for (const [label, value] of Object.entries(relabelCase.input)) {
    if (label === '__name__') continue;
    if (!LABEL_NAME.test(label)) return `input label ${label} is not a valid label name`;
    if (label === CASE_LABEL) return `input uses ${CASE_LABEL}`;
    if (value === '') return `input label ${label} is empty`;
  }
  return undefined;
}

/** Which of the scrape-time labels a case's input brings itself; decides its scrape job. */
function scrapeGroup(input: Record<string, string>): 'none' | 'job' | 'instance' | 'job-instance' {
  const hasJob = 'job' in input;
  const hasInstance = 'instance' in input;
  if (hasJob && hasInstance) return 'job-instance';
  if (hasJob) return 'job';
  if (hasInstance) return 'instance';
  return 'none';
}

/**
 * Scrape jobs that hand each case's input to the write path unchanged. `honor_labels`
 * keeps a `job` or `instance` that the input has; the ones it lacks, which every scrape
 * adds, are removed again by `metric_relabel_configs`. One job per combination, each
 * scraping its own path of the target.
 */
function scrapeConfigs(targetAddress: string, groups: readonly string[]): object[] {
  return groups.map((group) => {
    const missing = ['job', 'instance'].filter((label) => !group.split('-').includes(label));
    return {
      job_name: `conformance-${group}`,
      honor_labels: true,
      metrics_path: `/cases/${group}`,
      static_configs: [{ targets: [targetAddress] }],
      metric_relabel_configs:
        missing.length === 0 ? [] : [{ action: 'labeldrop', regex: missing.join('|') }],
    };
  });
}

/** What came out of the write path of one case. */
export interface CaseOutcome {
  relabelCase: RelabelCase;
  /** Label sets received for the case: none when dropped, one when kept. */
  received: Record<string, string>[];
}

/** Everything a conformance run needs to stop afterwards. */
export interface ConformanceRun {
  outcomes: CaseOutcome[];
  sender: RunningPrometheus;
  stop(): Promise<void>;
}

/**
 * How many `routeCase` calls run at once. Each may start a process (Phoenix); a few at a
 * time keeps a 2-core machine responsive enough that none misses its readiness deadline.
 */
const ROUTE_CONCURRENCY = 4;

/** `mapper(0..count-1)` with at most `concurrency` calls pending, results in index order. */
async function mapWithConcurrency<T>(
  count: number,
  concurrency: number,
  mapper: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      results[index] = await mapper(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return results;
}

/** How long to wait for the series a case is expected to keep. */
const ARRIVAL_TIMEOUT_MS = 25_000;
/**
 * After every expected series arrived: extra time for writes that should not happen, i.e.
 * series the table expects dropped. All queues read the same WAL at the same pace, so a few
 * batch deadlines are plenty.
 */
const SETTLE_MS = 3_000;

/**
 * Feeds every case's input to one real Prometheus by scraping it, and gives each case its
 * own `remote_write` entry with `[keep this case, drop the case label, ...case rules]` as
 * `write_relabel_configs`, writing to a receiver path of its own. With `withWriteRules`
 * false the case rules are left out, and `routeCase` can put something between sender and
 * receiver: it gets the receiver URL for the case and returns the URL the sender writes to
 * (Phoenix started with the case's rules, forwarding to that receiver URL). Waits until the cases that should keep a series have one (or a
 * timeout), then a little longer for ones that should not.
 */
export async function runCasesThroughPrometheus(
  cases: readonly RelabelCase[],
  options: {
    withWriteRules: boolean;
    routeCase?: (caseIndex: number, caseReceiverUrl: string) => Promise<string>;
  },
): Promise<ConformanceRun> {
  let target: ScrapeTarget | undefined;
  let receiver: RemoteWriteReceiver | undefined;
  let sender: RunningPrometheus | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled([sender?.stop()]);
    await Promise.allSettled([target?.close(), receiver?.close()]);
  };
  try {
    const samplesByGroup = new Map<string, ExposedSample[]>();
    cases.forEach((relabelCase, caseIndex) => {
      const { __name__: name, ...labels } = relabelCase.input;
      const group = scrapeGroup(relabelCase.input);
      const samples = samplesByGroup.get(group) ?? [];
      samples.push({
        name: name!,
        labels: { ...labels, [CASE_LABEL]: String(caseIndex) },
        value: caseIndex,
      });
      samplesByGroup.set(group, samples);
    });
    const bodies = new Map(
      [...samplesByGroup].map(([group, samples]) => [`/cases/${group}`, renderExposition(samples)]),
    );
    target = await startScrapeTarget((path) => bodies.get(path));
    receiver = await startRemoteWriteReceiver();
    const receiverUrl = receiver.url;
    const caseUrls = await mapWithConcurrency(cases.length, ROUTE_CONCURRENCY, (caseIndex) => {
      const caseReceiverUrl = `${receiverUrl}/case/${caseIndex}`;
      return options.routeCase?.(caseIndex, caseReceiverUrl) ?? Promise.resolve(caseReceiverUrl);
    });
    const remoteWrite = cases.map((relabelCase, caseIndex) => ({
      name: `case-${caseIndex}`,
      url: caseUrls[caseIndex],
      write_relabel_configs: [
        { action: 'keep', source_labels: [CASE_LABEL], regex: String(caseIndex) },
        { action: 'labeldrop', regex: CASE_LABEL },
        ...(options.withWriteRules ? relabelCase.rules : []),
      ],
      queue_config: {
        batch_send_deadline: '1s',
        min_shards: 1,
        max_shards: 1,
        min_backoff: '100ms',
        max_backoff: '1s',
      },
      metadata_config: { send: false },
    }));
    const senderConfig = {
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: scrapeConfigs(target.address, [...samplesByGroup.keys()]),
      remote_write: remoteWrite,
    };
    try {
      sender = await startPrometheus({ name: 'relabel-sender', config: senderConfig });
    } catch (error) {
      if (!options.withWriteRules) throw error;
      const rejected = await casesPrometheusRejects(cases);
      const detail = rejected.map(({ name, reason }) => `\n  ${name}: ${reason}`).join('');
      throw new Error(`Prometheus rejected the rules of ${rejected.length} case(s):${detail}`, {
        cause: error,
      });
    }

    const activeReceiver = receiver;
    const expectKept = cases.flatMap((relabelCase, caseIndex) =>
      relabelCase.output === null ? [] : [caseIndex],
    );
    await pollUntil(
      async () =>
        expectKept.every((caseIndex) => activeReceiver.series(`/case/${caseIndex}`).length > 0)
          ? true
          : undefined,
      {
        description: 'a series for every case expected to keep one',
        timeoutMs: ARRIVAL_TIMEOUT_MS,
      },
    ).catch(() => {
      // Cases still missing are reported one by one by the caller's assertions.
    });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    if (activeReceiver.decodeErrors.length > 0) {
      throw new Error(
        `receiver could not decode writes: ${activeReceiver.decodeErrors.join('; ')}`,
      );
    }
    const outcomes = cases.map((relabelCase, caseIndex) => ({
      relabelCase,
      received: activeReceiver.series(`/case/${caseIndex}`).map((series) => series.labels),
    }));
    return { outcomes, sender, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A label set with its labels sorted by name, so two sets compare with toEqual by value. */
export function sortedLabels(labels: Record<string, string>): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const execFileAsync = promisify(execFile);

/**
 * Names the cases whose rules Prometheus refuses to load, by checking each case's rules
 * alone with `promtool check config`. Runs only after a combined config failed, since it
 * costs one promtool process per case.
 */
export async function casesPrometheusRejects(
  cases: readonly RelabelCase[],
): Promise<{ name: string; reason: string }[]> {
  const promtool = peerBinary('promtool');
  const workDir = await mkdtemp(join(tmpdir(), 'phoenix-promtool-'));
  const rejected: { name: string; reason: string }[] = [];
  try {
    // Two at a time: one per core.
    for (let start = 0; start < cases.length; start += 2) {
      await Promise.all(
        cases.slice(start, start + 2).map(async (relabelCase, offset) => {
          const configPath = join(workDir, `case-${start + offset}.yml`);
          const config = {
            remote_write: [
              { url: 'http://127.0.0.1:9/write', write_relabel_configs: relabelCase.rules },
            ],
          };
          await writeFile(configPath, stringify(config));
          try {
            await execFileAsync(promtool, ['check', 'config', configPath]);
          } catch (error) {
            const output = error as { stdout?: string; stderr?: string };
            const reason = `${output.stdout ?? ''}${output.stderr ?? ''}`
              .replaceAll(configPath, 'config')
              .trim();
            rejected.push({ name: relabelCase.name, reason });
          }
        }),
      );
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return rejected;
}
