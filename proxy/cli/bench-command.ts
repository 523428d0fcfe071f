import { parseArgs } from 'node:util';
import type { BenchOptions } from '../../bench/e2e.js';
import { peerBinary } from '../../bench/peers.js';
import { buildReport, formatReport, machineInfo } from '../../bench/report.js';
import { SCENARIO_NAMES, type ScenarioName } from '../../bench/scenarios.js';
import { BENCH_FORMATS, type BenchFormat } from '../../bench/workload-formats.js';
import { defaultWorkerCount } from '../server/options.js';
import { EXIT_FAILURE, EXIT_OK, reportUsageError } from './exit-codes.js';
import { FlagValueError, parseCount, parseDuration, parseListenAddress } from './flag-values.js';
import type { Command } from './main.js';

const FLAGS = {
  target: { type: 'string' },
  'target-pid': { type: 'string' },
  'sink-listen': { type: 'string', default: '127.0.0.1:0' },
  series: { type: 'string', default: '100000' },
  'per-request': { type: 'string', default: '2000' },
  duration: { type: 'string', default: '10s' },
  concurrency: { type: 'string', default: '4' },
  scenario: { type: 'string', default: 'all' },
  format: { type: 'string', default: 'rw1' },
  vs: { type: 'string' },
  warmup: { type: 'string' },
  rounds: { type: 'string' },
  workers: { type: 'string' },
  'phoenix-arg': { type: 'string', multiple: true },
  rate: { type: 'string' },
  'cpu-prof': { type: 'string' },
  vmagent: { type: 'string' },
  'drain-timeout': { type: 'string', default: '60s' },
  'no-distinct': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function usage(): string {
  return [
    'Usage: phoenix bench [flags]',
    '',
    'Pushes a Kubernetes-style remote-write workload through a target (by default a',
    '`phoenix proxy` it starts; with --vs vmagent also vmagent, alternating) into a built-in',
    'sink, and reports the target process CPU seconds per million samples, samples/s,',
    'p50/p99 latency, peak RSS, bytes and samples in and out, and lost samples.',
    '',
    'Flags:',
    '  --series N              distinct series, all sent once per round (default 100000)',
    '  --per-request N         series (one sample each) per request (default 2000)',
    '  --duration DURATION     how long to push per run, e.g. 20s; a plain number is seconds (default 10s)',
    '  --concurrency N         requests in flight, one keep-alive connection each (default 4)',
    `  --scenario LIST         comma-separated: ${SCENARIO_NAMES.join(', ')}; or all (default all)`,
    '  --format FORMAT         wire format sent: rw1 (remote write 1.0), rw2 (remote write 2.0)',
    '                          or otlp (OTLP protobuf over HTTP to /v1/metrics) (default rw1)',
    '  --vs LIST               comma-separated: vmagent (measure vmagent too, with the same',
    '                          rules, alternating runs) and/or direct (send the same load',
    '                          straight to the sink too: the latency each target adds is',
    '                          printed as <target> − direct)',
    '  --rounds N              rounds of runs per scenario (default 3 with --vs, else 1)',
    `  --workers N             Phoenix --workers (default ${defaultWorkerCount()}, as phoenix proxy)`,
    '  --phoenix-arg ARG       one more argument for `phoenix proxy` (repeatable), e.g.',
    '                          --phoenix-arg=--delivery --phoenix-arg=sync',
    '  --rate N                requests per second instead of as fast as possible',
    '  --warmup DURATION       warm each target up by sending this long (at --rate, if given)',
    '                          instead of one round of the workload as fast as possible',
    '  --cpu-prof DIR          write V8 CPU profiles of Phoenix (main thread and workers) to DIR',
    '  --vmagent PATH          vmagent binary (default .peers/usr/bin/vmagent)',
    '  --target URL            measure a running target instead (its remote-write URL); it must',
    '                          forward to --sink-listen; --scenario names the rules it applies',
    '  --target-pid N          pid of --target (default: the process listening on its port)',
    '  --sink-listen HOST:PORT sink address (default 127.0.0.1:0, a free port)',
    '  --drain-timeout DURATION longest wait for the sink to receive everything (default 60s)',
    '  --no-distinct           do not count distinct series at the sink (saves bench CPU)',
    '  --json                  print the report as JSON instead of a table',
    '  --quiet                 no progress lines on stderr',
    '  -h, --help              show this help',
    '',
    'The load generator and the sink run in this process, on the same cores as the target.',
    '',
  ].join('\n');
}

/** `phoenix bench`: the end-to-end benchmark harness. */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'benchmark a proxy end to end (and against vmagent with --vs vmagent)',
  run: runBench,
};

async function runBench(args: string[]): Promise<number> {
  let options: BenchOptions;
  let json: boolean;
  try {
    const values = parseArgs({
      args,
      options: FLAGS,
      strict: true,
      allowPositionals: false,
    }).values;
    if (values.help) {
      process.stdout.write(usage());
      return EXIT_OK;
    }
    json = values.json;
    options = benchOptions(values);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return reportUsageError('bench', message);
  }
  try {
    const machine = machineInfo(options.vsVmagent ? options.vmagentBinary : undefined);
    // Loaded on use: the harness needs dev dependencies (snappy) that `phoenix proxy` does not.
    const { runBenchmark } = await import('../../bench/e2e.js');
    const runs = await runBenchmark(options);
    const { onProgress: _onProgress, ...shownOptions } = options;
    const report = buildReport(machine, { ...shownOptions }, runs);
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    const broken = runs.some((run) => run.samplesLost !== 0 || run.failedRequests !== 0);
    if (broken) process.stderr.write('phoenix bench: samples were lost or requests failed\n');
    return broken ? EXIT_FAILURE : EXIT_OK;
  } catch (error) {
    process.stderr.write(
      `phoenix bench: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return EXIT_FAILURE;
  }
}

type FlagValues = ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values'];

function positive(flag: string, text: string): number {
  const value = parseCount(flag, text);
  if (value < 1) throw new FlagValueError(`${flag} ${value} must be >= 1`);
  return value;
}

/** `--duration 20` (seconds) or `--duration 20s`. */
function durationMs(flag: string, text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : parseDuration(flag, text);
  if (ms < 1) throw new FlagValueError(`${flag} ${JSON.stringify(text)} must be > 0`);
  return ms;
}

function scenarioList(text: string): ScenarioName[] {
  if (text === 'all') return [...SCENARIO_NAMES];
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
      throw new FlagValueError(
        `--scenario ${JSON.stringify(name)} is not one of ${SCENARIO_NAMES.join(', ')}, all`,
      );
    }
  }
  return names as ScenarioName[];
}

function benchOptions(values: FlagValues): BenchOptions {
  const versus = values.vs === undefined ? [] : values.vs.split(',').map((name) => name.trim());
  for (const name of versus) {
    if (name !== 'vmagent' && name !== 'direct') {
      throw new FlagValueError(
        `--vs ${JSON.stringify(values.vs)}: ${JSON.stringify(name)} is not vmagent or direct`,
      );
    }
  }
  const vsVmagent = versus.includes('vmagent');
  const vsDirect = versus.includes('direct');
  const format = values.format as BenchFormat;
  if (!(BENCH_FORMATS as readonly string[]).includes(format)) {
    throw new FlagValueError(
      `--format ${JSON.stringify(values.format)} must be one of ${BENCH_FORMATS.join(', ')}`,
    );
  }
  if (vsVmagent && format !== 'rw1') {
    throw new FlagValueError(`--vs vmagent needs --format rw1: vmagent takes neither rw2 nor otlp`);
  }
  if (vsDirect && format !== 'rw1') {
    throw new FlagValueError('--vs direct needs --format rw1: the sink takes remote write 1.0');
  }
  const sink = parseListenAddress(values['sink-listen']);
  if (values.target !== undefined) {
    if (vsVmagent) throw new FlagValueError('--target and --vs vmagent cannot be combined');
    if (sink.port === 0) {
      throw new FlagValueError('--target needs --sink-listen with a fixed port to forward to');
    }
    try {
      new URL(values.target);
    } catch {
      throw new FlagValueError(`--target ${JSON.stringify(values.target)} is not a URL`);
    }
  }
  return {
    seriesCount: positive('--series', values.series),
    seriesPerRequest: positive('--per-request', values['per-request']),
    durationMs: durationMs('--duration', values.duration),
    concurrency: positive('--concurrency', values.concurrency),
    scenarios: scenarioList(values.scenario),
    format,
    vsVmagent,
    vsDirect,
    rounds:
      values.rounds === undefined
        ? versus.length > 0
          ? 3
          : 1
        : positive('--rounds', values.rounds),
    phoenixWorkers:
      values.workers === undefined ? defaultWorkerCount() : positive('--workers', values.workers),
    phoenixArgs: values['phoenix-arg'] ?? [],
    requestsPerSecond: values.rate === undefined ? undefined : positive('--rate', values.rate),
    warmupMs: values.warmup === undefined ? undefined : durationMs('--warmup', values.warmup),
    targetUrl: values.target,
    targetPid:
      values['target-pid'] === undefined
        ? undefined
        : positive('--target-pid', values['target-pid']),
    sinkHost: sink.host,
    sinkPort: sink.port,
    cpuProfileDir: values['cpu-prof'],
    vmagentBinary: vsVmagent ? (values.vmagent ?? peerBinary('vmagent')) : values.vmagent,
    drainTimeoutMs: durationMs('--drain-timeout', values['drain-timeout']),
    countDistinctSeries: !values['no-distinct'],
    onProgress: values.quiet
      ? undefined
      : (line: string) => {
          process.stderr.write(`${line}\n`);
        },
  };
}
