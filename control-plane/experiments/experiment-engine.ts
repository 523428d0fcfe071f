/**
 * The experiment lifecycle: draft → running → promoted | rolled_back | stopped. While an
 * experiment runs, every proxy on its pipeline runs the candidate beside the baseline (the
 * assignment rides on the config stream) and reports both arms; this engine merges those
 * reports every tick, checks queries, judges the guardrails, and — with `auto` — decides.
 * Every transition is stored with who, when and why, and streamed to watchers.
 */
import { EventEmitter } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  type Experiment,
  type ExperimentEvent,
  ExperimentMode,
  type ExperimentResults,
  ExperimentResultsSchema,
  type ExperimentSpec,
  LiveVerdict,
  type QueryCheck,
  QueryVerdict,
} from '../../proto/gen/phoenix/v1/experiment_pb.js';
import {
  type ExperimentAssignment,
  ExperimentAssignmentSchema,
} from '../../proto/gen/phoenix/v1/proxy_pb.js';
import type { PipelineEvents } from '../services/pipeline-events.js';
import { validateConfigText } from '../services/pipeline-service.js';
import type { ProxyRegistry } from '../services/proxy-registry.js';
import type { PipelineStore } from '../store/pipeline-store.js';
import {
  mergeArm,
  monthlyCost,
  reductionPercent,
  removedGroups,
  type SeriesSketches,
} from './arm-results.js';
import {
  resultsToJson,
  specFromJson,
  specToJson,
  toEventMessage,
  toExperimentMessage,
} from './experiment-messages.js';
import {
  type ExperimentStore,
  FINAL_PHASES,
  type PhaseName,
  type StoredExperiment,
  type StoredExperimentEvent,
} from './experiment-store.js';
import { decide, judgeGuardrails } from './guardrails.js';
import type { QueryChecker } from './query-checker.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** Without a `duration_seconds`, an experiment runs for a day. */
const DEFAULT_DURATION_SECONDS = 86_400;
/** Below this many seconds of data or samples the numbers are called thin. */
const THIN_SECONDS = 10;
const THIN_SAMPLES = 1_000;
/**
 * Live answers are compared from this long after the start, plus the longest look-back of
 * the queries (a `rate(x[5m])` needs five minutes of the candidate's data)…
 */
const LIVE_WARMUP_MS = 10_000;
/** …to this long before now… */
const LIVE_LAG_MS = 5_000;
/** …over at least this long a window. */
const LIVE_MIN_WINDOW_MS = 10_000;

export interface ExperimentEngineOptions {
  readonly store: ExperimentStore;
  readonly pipelines: PipelineStore;
  readonly pipelineEvents: PipelineEvents;
  readonly registry: ProxyRegistry;
  readonly sketches: SeriesSketches;
  readonly queries: QueryChecker;
  /** Time between measurements of running experiments, ms. Default 2000. */
  readonly tickMs?: number;
  /** Time between live query comparisons of a running experiment, ms. Default 10 000. */
  readonly liveCheckIntervalMs?: number;
  readonly nowMs?: () => number;
}

interface Running {
  stored: StoredExperiment;
  spec: ExperimentSpec;
  /** Static verdicts, computed once at start (the candidate does not change). */
  staticChecks: QueryCheck[];
  results: ExperimentResults | undefined;
  /** Live verdicts by query text, from the newest comparison. */
  live: Map<string, { live: LiveVerdict; divergence: number; detail: string }>;
  liveCheckedAtMs: number;
  liveInFlight: boolean;
  /** The longest look-back of the queries, ms. */
  lookBackMs: number;
  deciding: boolean;
}

type EventListener = (event: ExperimentEvent) => void;

export class ExperimentEngine {
  readonly #options: ExperimentEngineOptions;
  readonly #nowMs: () => number;
  readonly #running = new Map<string, Running>();
  readonly #emitter = new EventEmitter();
  #timer: NodeJS.Timeout | undefined;

  private constructor(options: ExperimentEngineOptions) {
    this.#options = options;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#emitter.setMaxListeners(0);
  }

  /** Loads experiments left running by a previous process and starts measuring. */
  static async start(options: ExperimentEngineOptions): Promise<ExperimentEngine> {
    const engine = new ExperimentEngine(options);
    for (const stored of await options.store.list()) {
      if (stored.phase === 'running') engine.#track(stored);
    }
    engine.#timer = setInterval(() => void engine.tick(), options.tickMs ?? 2_000);
    engine.#timer.unref();
    return engine;
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#emitter.removeAllListeners();
  }

  /** What proxies on `pipeline` must run beside it, if an experiment runs on it. */
  assignment(pipeline: string): ExperimentAssignment | undefined {
    for (const running of this.#running.values()) {
      if (running.stored.pipeline !== pipeline) continue;
      const spec = running.spec;
      return create(ExperimentAssignmentSchema, {
        name: spec.name,
        mode: spec.mode === ExperimentMode.SPLIT ? 'split' : 'shadow',
        fraction: spec.fraction,
        candidateConfigYaml: spec.candidateConfigYaml,
        shadowUpstream: spec.mode === ExperimentMode.SHADOW ? spec.shadowUpstream : '',
      });
    }
    return undefined;
  }

  async create(spec: ExperimentSpec, start: boolean, actor: string): Promise<Experiment> {
    await this.#validate(spec);
    const now = this.#nowMs();
    const stored: StoredExperiment = {
      name: spec.name,
      pipeline: spec.pipeline,
      specJson: specToJson(spec),
      phase: 'draft',
      baselineVersion: 0,
      promotedVersion: 0,
      createdBy: actor,
      createdAtMs: now,
      startedAtMs: undefined,
      endedAtMs: undefined,
      decisionReason: '',
      resultsJson: undefined,
    };
    const event = this.#event(spec.name, 'created', 'draft', actor, spec.description);
    await this.#options.store.create(stored, event);
    this.#publish(event);
    if (start) return this.start(spec.name, actor);
    return toExperimentMessage(stored, undefined);
  }

  async start(name: string, actor: string): Promise<Experiment> {
    const stored = await this.#mustGet(name);
    const pipeline = await this.#options.pipelines.get(stored.pipeline);
    if (pipeline === undefined) {
      throw new ConnectError(
        `pipeline ${JSON.stringify(stored.pipeline)} does not exist`,
        Code.FailedPrecondition,
      );
    }
    for (const running of this.#running.values()) {
      if (running.stored.pipeline === stored.pipeline && running.stored.name !== name) {
        throw new ConnectError(
          `experiment ${JSON.stringify(running.stored.name)} already runs on pipeline ${JSON.stringify(stored.pipeline)}`,
          Code.FailedPrecondition,
        );
      }
    }
    const now = this.#nowMs();
    const event = this.#event(
      name,
      'started',
      'running',
      actor,
      `baseline version ${pipeline.version}`,
    );
    const started = await this.#options.store.transition(name, ['draft'], {
      phase: 'running',
      event,
      baselineVersion: pipeline.version,
      startedAtMs: now,
    });
    this.#track(started);
    this.#publish(event);
    this.#options.pipelineEvents.changed(started.pipeline);
    // The first results (static query checks, guardrails) are there at once.
    const running = this.#running.get(name);
    if (running !== undefined) await this.#measure(running).catch(() => undefined);
    return toExperimentMessage(started, this.#running.get(name)?.results);
  }

  promote(name: string, actor: string, reason: string): Promise<Experiment> {
    return this.#end(name, 'promoted', actor, reason);
  }

  rollback(name: string, actor: string, reason: string): Promise<Experiment> {
    return this.#end(name, 'rolled_back', actor, reason);
  }

  stop(name: string, actor: string, reason: string): Promise<Experiment> {
    return this.#end(name, 'stopped', actor, reason);
  }

  async get(name: string): Promise<Experiment> {
    const stored = await this.#mustGet(name);
    return toExperimentMessage(stored, this.#running.get(name)?.results);
  }

  async list(): Promise<Experiment[]> {
    return (await this.#options.store.list()).map((stored) =>
      toExperimentMessage(stored, this.#running.get(stored.name)?.results),
    );
  }

  /**
   * The experiment's stored events, then new ones until it ends or `signal` aborts. A
   * `results` event goes out at every measurement while it runs.
   */
  async *watch(name: string, signal: AbortSignal): AsyncGenerator<ExperimentEvent> {
    const queue: ExperimentEvent[] = [];
    let wake: (() => void) | undefined;
    const listener: EventListener = (event) => {
      if (event.experiment !== name) return;
      queue.push(event);
      wake?.();
    };
    // Listening before reading the history, so nothing falls between the two.
    this.#emitter.on('event', listener);
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      await this.#mustGet(name);
      const history = await this.#options.store.events(name);
      for (const stored of history) yield toEventMessage(stored);
      // Events published while the history was read are in both: keep one copy.
      const stored = new Set(history.map((event) => `${event.type}@${event.atMs}`));
      const fresh = queue.filter(
        (event) =>
          !stored.has(`${event.type}@${event.at === undefined ? 0 : timestampMs(event.at)}`),
      );
      queue.splice(0, queue.length, ...fresh);
      let ended = FINAL_PHASES.has((await this.#mustGet(name)).phase);
      while (!signal.aborted && !ended) {
        const next = queue.shift();
        if (next === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (queue.length > 0 || signal.aborted) resolve();
          });
          wake = undefined;
          continue;
        }
        yield next;
        if (next.type === 'promoted' || next.type === 'rolled_back' || next.type === 'stopped') {
          ended = true;
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#emitter.off('event', listener);
    }
  }

  /** Measures every running experiment once, and decides those with `auto`. */
  async tick(): Promise<void> {
    for (const running of [...this.#running.values()]) {
      try {
        await this.#measure(running);
      } catch (error) {
        running.results = undefined;
        process.emitWarning(
          `experiment ${running.stored.name}: measurement failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  }

  async #measure(running: Running): Promise<void> {
    const { spec, stored } = running;
    const now = this.#nowMs();
    const elapsedSeconds = (now - (stored.startedAtMs ?? now)) / 1000;
    const reports = this.#options.registry.armReports(spec.name);
    const baseline = mergeArm(
      reports.filter((report) => report.arm === 'baseline'),
      this.#options.sketches,
      spec.pricing,
    );
    const candidate = mergeArm(
      reports.filter((report) => report.arm === 'candidate'),
      this.#options.sketches,
      spec.pricing,
    );
    const queries = running.staticChecks.map((check) => {
      const live = running.live.get(check.query);
      return live === undefined
        ? check
        : { ...check, live: live.live, divergence: live.divergence, liveDetail: live.detail };
    });
    const compared = queries.filter(
      (query) =>
        query.verdict !== QueryVerdict.BROKEN &&
        (query.live === LiveVerdict.MATCH || query.live === LiveVerdict.DIVERGED),
    );
    const samples = Number(baseline.results.samplesIn + candidate.results.samplesIn);
    const seconds = Math.max(baseline.seconds, candidate.seconds);
    const thin = seconds < THIN_SECONDS || samples < THIN_SAMPLES;
    const proxies = new Set(reports.map((report) => report.proxyId)).size;
    const results = create(ExperimentResultsSchema, {
      baseline: baseline.results,
      candidate: candidate.results,
      reductionPercent: reductionPercent(baseline.results, candidate.results),
      confidence: thin
        ? `thin: ${seconds.toFixed(0)} s and ${samples} samples from ${proxies} proxies so far`
        : `steady: ${seconds.toFixed(0)} s and ${samples} samples from ${proxies} proxies`,
      removed: removedGroups(baseline.outputSketch, candidate.outputSketch, this.#options.sketches),
      queries,
      brokenQueries: queries.filter((query) => query.verdict === QueryVerdict.BROKEN).length,
      maxDivergence: compared.reduce((worst, query) => Math.max(worst, query.divergence), 0),
      proxiesReporting: proxies,
      elapsedSeconds,
      monthlySaving: savingOf(baseline.results, candidate.results, spec),
    });
    const liveConfigured = spec.baselineQueryUrl !== '' && spec.candidateQueryUrl !== '';
    const minDuration = spec.guardrails?.minDurationSeconds ?? 0;
    results.guardrails = judgeGuardrails({
      guardrails: spec.guardrails,
      results,
      elapsedSeconds,
      thin,
      liveConfigured,
      liveChecked: running.liveCheckedAtMs >= (stored.startedAtMs ?? 0) + minDuration * 1000,
    });
    running.results = results;
    this.#publish(
      toEventMessage(
        {
          experiment: spec.name,
          type: 'results',
          phase: 'running',
          actor: '',
          reason: '',
          atMs: now,
        },
        results,
      ),
    );
    if (liveConfigured) this.#maybeCompareLive(running, now);
    const duration = spec.durationSeconds > 0 ? spec.durationSeconds : DEFAULT_DURATION_SECONDS;
    if (spec.auto && !running.deciding) {
      const decision = decide(results.guardrails);
      if (decision.kind !== 'wait') {
        running.deciding = true;
        await this.#end(
          spec.name,
          decision.kind === 'promote' ? 'promoted' : 'rolled_back',
          'auto',
          decision.reason,
        ).catch(() => {
          running.deciding = false;
        });
        return;
      }
    }
    if (elapsedSeconds >= duration && !running.deciding) {
      running.deciding = true;
      await this.#end(
        spec.name,
        'stopped',
        'auto',
        `duration of ${duration} s elapsed without a decision`,
      ).catch(() => {
        running.deciding = false;
      });
    }
  }

  /** Compares the live answers of the queries on both arms, at most every interval. */
  #maybeCompareLive(running: Running, now: number): void {
    const interval = this.#options.liveCheckIntervalMs ?? 10_000;
    if (running.liveInFlight || now - running.liveCheckedAtMs < interval) return;
    // The first moments of the candidate's data are partial (a rate needs two samples, an
    // aggregate its first flush), and the newest moments may not be written yet.
    const startMs = (running.stored.startedAtMs ?? now) + LIVE_WARMUP_MS + running.lookBackMs;
    const endMs = now - LIVE_LAG_MS;
    if (endMs - startMs < LIVE_MIN_WINDOW_MS) return;
    const queries = running.staticChecks.filter((check) => check.verdict !== QueryVerdict.INVALID);
    if (queries.length === 0) return;
    running.liveInFlight = true;
    void this.#options.queries
      .compareLive({
        queries: queries.map((check) => check.query),
        baselineUrl: running.spec.baselineQueryUrl,
        candidateUrl: running.spec.candidateQueryUrl,
        startMs,
        endMs,
        tolerance: running.spec.guardrails?.maxDivergence ?? 0,
      })
      .then((answers) => {
        running.live = answers;
        running.liveCheckedAtMs = now;
      })
      .catch((error: unknown) => {
        process.emitWarning(
          `experiment ${running.spec.name}: live comparison failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      })
      .finally(() => {
        running.liveInFlight = false;
      });
  }

  async #end(name: string, phase: PhaseName, actor: string, reason: string): Promise<Experiment> {
    const running = this.#running.get(name);
    const stored = running?.stored ?? (await this.#mustGet(name));
    const from: PhaseName[] = phase === 'stopped' ? ['running', 'draft'] : ['running'];
    if (!from.includes(stored.phase)) {
      throw new ConnectError(
        `experiment ${JSON.stringify(name)} is ${stored.phase}; only a running experiment can be ${phase.replace('_', ' ')}`,
        Code.FailedPrecondition,
      );
    }
    const now = this.#nowMs();
    let promotedVersion: number | undefined;
    if (phase === 'promoted') {
      const spec = running?.spec;
      if (spec === undefined)
        throw new ConnectError('experiment is not running', Code.FailedPrecondition);
      const version = await this.#options.pipelines.update({
        name: stored.pipeline,
        configYaml: spec.candidateConfigYaml,
        author: actor,
        message: `promote experiment ${name}${reason === '' ? '' : `: ${reason}`}`,
      });
      promotedVersion = version.version;
    }
    const eventReason =
      promotedVersion === undefined
        ? reason
        : `${reason}${reason === '' ? '' : '; '}pipeline version ${promotedVersion}`;
    const event = this.#event(name, phase, phase, actor, eventReason);
    const ended = await this.#options.store.transition(name, from, {
      phase,
      event,
      endedAtMs: now,
      decisionReason: reason,
      ...(promotedVersion === undefined ? {} : { promotedVersion }),
      ...(running?.results === undefined ? {} : { resultsJson: resultsToJson(running.results) }),
    });
    this.#running.delete(name);
    this.#publish(event);
    // One config change carries both the new version (if promoted) and the end of the arm.
    this.#options.pipelineEvents.changed(ended.pipeline);
    return toExperimentMessage(ended, undefined);
  }

  #track(stored: StoredExperiment): void {
    const spec = specFromJson(stored.specJson);
    const staticChecks = this.#staticChecks(spec);
    this.#running.set(stored.name, {
      stored,
      spec,
      staticChecks,
      lookBackMs: staticChecks.reduce(
        (longest, check) => Math.max(longest, this.#options.queries.lookBackMs(check.query)),
        0,
      ),
      results: undefined,
      live: new Map(),
      liveCheckedAtMs: 0,
      liveInFlight: false,
      deciding: false,
    });
  }

  #staticChecks(spec: ExperimentSpec): QueryCheck[] {
    return this.#options.queries.checkStatic(spec.candidateConfigYaml, spec.queries);
  }

  async #validate(spec: ExperimentSpec): Promise<void> {
    const invalid = (message: string) => new ConnectError(message, Code.InvalidArgument);
    if (!NAME.test(spec.name)) {
      throw invalid(
        `name ${JSON.stringify(spec.name)} must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit`,
      );
    }
    if ((await this.#options.pipelines.get(spec.pipeline)) === undefined) {
      throw new ConnectError(
        `pipeline: ${JSON.stringify(spec.pipeline)} does not exist`,
        Code.FailedPrecondition,
      );
    }
    validateConfigText(spec.candidateConfigYaml);
    if (spec.mode === ExperimentMode.UNSPECIFIED) throw invalid('mode: give shadow or split');
    if (spec.mode === ExperimentMode.SPLIT && !(spec.fraction > 0 && spec.fraction <= 1)) {
      throw invalid(`fraction: ${spec.fraction} is not in (0, 1] (split mode needs a share)`);
    }
    if (spec.mode === ExperimentMode.SPLIT && spec.shadowUpstream !== '') {
      throw invalid('shadow_upstream: only shadow mode writes to a shadow upstream');
    }
    for (const [field, value] of [
      ['shadow_upstream', spec.shadowUpstream],
      ['baseline_query_url', spec.baselineQueryUrl],
      ['candidate_query_url', spec.candidateQueryUrl],
    ] as const) {
      if (value === '') continue;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw invalid(`${field}: ${JSON.stringify(value)} is not a URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw invalid(`${field}: ${JSON.stringify(value)} must be http or https`);
      }
    }
    if ((spec.baselineQueryUrl === '') !== (spec.candidateQueryUrl === '')) {
      throw invalid('baseline_query_url and candidate_query_url: give both or neither');
    }
    const guardrails = spec.guardrails;
    if (guardrails !== undefined) {
      if (!(guardrails.minReductionPercent >= 0 && guardrails.minReductionPercent <= 100)) {
        throw invalid(
          `guardrails.min_reduction_percent: ${guardrails.minReductionPercent} is not in [0, 100]`,
        );
      }
      if (!(guardrails.maxDivergence >= 0)) {
        throw invalid(`guardrails.max_divergence: ${guardrails.maxDivergence} is negative`);
      }
    }
    // Sources that do not load (bad YAML, bad JSON) are refused here, with their name.
    this.#staticChecks(spec);
  }

  async #mustGet(name: string): Promise<StoredExperiment> {
    const stored = await this.#options.store.get(name);
    if (stored === undefined) {
      throw new ConnectError(`no experiment ${JSON.stringify(name)}`, Code.NotFound);
    }
    return stored;
  }

  #event(
    experiment: string,
    type: string,
    phase: PhaseName,
    actor: string,
    reason: string,
  ): StoredExperimentEvent {
    return { experiment, type, phase, actor, reason, atMs: this.#nowMs() };
  }

  #publish(event: StoredExperimentEvent | ExperimentEvent): void {
    const message = 'atMs' in event ? toEventMessage(event) : event;
    this.#emitter.emit('event', message);
  }
}

/** Monthly saving of the candidate at the baseline's traffic. */
function savingOf(
  baseline: { seriesIn: bigint; seriesOut: bigint; samplesOut: bigint },
  candidate: { seriesIn: bigint; seriesOut: bigint; samplesOut: bigint },
  spec: ExperimentSpec,
): number {
  if (baseline.seriesIn === 0n || candidate.seriesIn === 0n) return 0;
  // Scale the candidate to the baseline's input, which only matters in split mode.
  const scale = Number(baseline.seriesIn) / Number(candidate.seriesIn);
  const before = monthlyCost(Number(baseline.seriesOut), 0, spec.pricing);
  const after = monthlyCost(Number(candidate.seriesOut) * scale, 0, spec.pricing);
  return before - after;
}
