/**
 * One experiment, live: the arms side by side, a chart of both arms fed by the
 * `results` events of WatchExperiment, the query-safety table, guardrails, the event log,
 * and (for admins, while it runs) promote and roll back behind a confirmation.
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { useEffect, useMemo, useState } from 'react';
import {
  type ArmResults,
  type Experiment,
  type ExperimentEvent,
  ExperimentPhase,
  type ExperimentResults,
} from '../../../proto/gen/phoenix/v1/experiment_pb.js';
import { canWrite } from '../api/session.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { Link } from '../components/link.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { TimeChart } from '../components/time-chart.js';
import { useDashboard } from '../context.js';
import { LIVE_LABELS, MODE_LABELS, PHASE_LABELS, VERDICT_LABELS } from '../experiment-labels.js';
import {
  formatBytes,
  formatCount,
  formatDollars,
  formatDuration,
  formatNanoseconds,
  formatPercent,
  formatRate,
  formatShare,
} from '../format.js';

interface ResultPoint {
  readonly atMs: number;
  readonly results: ExperimentResults;
}

type Decision = 'promote' | 'rollback' | 'stop';

export function ExperimentDetail({ name }: { readonly name: string }) {
  const { api, session } = useDashboard();
  const [experiment, setExperiment] = useState<Experiment | undefined>(undefined);
  const [events, setEvents] = useState<ExperimentEvent[]>([]);
  const [points, setPoints] = useState<ResultPoint[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [watchError, setWatchError] = useState<unknown>(undefined);
  const [decision, setDecision] = useState<Decision | undefined>(undefined);
  const [reason, setReason] = useState('');

  const refresh = async () => {
    try {
      const got = await api.experiments.getExperiment({ name });
      setExperiment(got.experiment);
      setError(undefined);
    } catch (failure) {
      setError(failure);
    }
  };

  // biome-ignore lint/correctness/useExhaustiveDependencies: one watch per experiment.
  useEffect(() => {
    void refresh();
    const abort = new AbortController();
    (async () => {
      try {
        for await (const response of api.experiments.watchExperiment(
          { name },
          { signal: abort.signal },
        )) {
          const event = response.event;
          if (event === undefined) continue;
          setEvents((previous) => [...previous, event]);
          if (event.results !== undefined) {
            const results = event.results;
            const atMs = event.at === undefined ? Date.now() : timestampMs(event.at);
            setPoints((previous) => [...previous.slice(-599), { atMs, results }]);
          }
          if (event.type !== 'results') void refresh();
        }
      } catch (failure) {
        if (!abort.signal.aborted) setWatchError(failure);
      }
    })();
    return () => abort.abort();
  }, [name]);

  const chart = useMemo(() => {
    const times = points.map((point) => point.atMs);
    return {
      times,
      series: [
        {
          label: 'baseline series out',
          color: '#c2410c',
          values: points.map((p) => num(p.results.baseline?.seriesOut)),
        },
        {
          label: 'candidate series out',
          color: '#15803d',
          values: points.map((p) => num(p.results.candidate?.seriesOut)),
        },
      ],
      samples: [
        {
          label: 'baseline samples/s',
          color: '#c2410c',
          values: points.map((p) => p.results.baseline?.samplesPerSecond ?? null),
        },
        {
          label: 'candidate samples/s',
          color: '#15803d',
          values: points.map((p) => p.results.candidate?.samplesPerSecond ?? null),
        },
      ],
    };
  }, [points]);

  const start = async () => {
    setError(undefined);
    try {
      await api.experiments.startExperiment({ name });
      await refresh();
    } catch (failure) {
      setError(failure);
    }
  };

  const decide = async (kind: Decision) => {
    setDecision(undefined);
    setError(undefined);
    try {
      const request = { name, reason };
      if (kind === 'promote') await api.experiments.promoteExperiment(request);
      else if (kind === 'rollback') await api.experiments.rollbackExperiment(request);
      else await api.experiments.stopExperiment(request);
      setReason('');
      await refresh();
    } catch (failure) {
      setError(failure);
    }
  };

  if (experiment === undefined) {
    return (
      <section>
        <h2>
          <Link to="/experiments">Experiments</Link> / {name}
        </h2>
        {error === undefined ? (
          <Loading what={`experiment ${name}`} />
        ) : (
          <ErrorNote error={error} />
        )}
      </section>
    );
  }

  const spec = experiment.spec;
  const results = points.at(-1)?.results ?? experiment.results;
  const running = experiment.phase === ExperimentPhase.RUNNING;
  const phase = PHASE_LABELS[experiment.phase];

  return (
    <section aria-labelledby="experiment-title">
      <div className="title-row">
        <h2 id="experiment-title">
          <Link to="/experiments">Experiments</Link> / {name}{' '}
          <span className={`phase phase-${phase.replace(' ', '-')}`} data-phase={phase}>
            {phase}
          </span>
        </h2>
      </div>
      <p className="sub">
        Pipeline{' '}
        <Link to={`/pipelines/${encodeURIComponent(spec?.pipeline ?? '')}`}>{spec?.pipeline}</Link>{' '}
        v{experiment.baselineVersion} · {spec === undefined ? '' : MODE_LABELS[spec.mode]}
        {spec?.mode === 2 ? ` (${formatShare(spec.fraction)} of series)` : ''} · runs{' '}
        {formatDuration(spec?.durationSeconds ?? 0)} · by {experiment.createdBy}
        {experiment.promotedVersion > 0 ? ` · promoted as v${experiment.promotedVersion}` : ''}
        {experiment.decisionReason === '' ? '' : ` · ${experiment.decisionReason}`}
      </p>
      <ErrorNote error={error} />
      {watchError === undefined ? null : <ErrorNote error={watchError} />}
      {experiment.phase === ExperimentPhase.DRAFT && canWrite(session) ? (
        <div className="actions">
          <button type="button" className="primary" onClick={() => void start()}>
            Start
          </button>
          <span className="hint">A draft runs nothing until it is started.</span>
        </div>
      ) : null}
      {running && canWrite(session) ? (
        <div className="actions decide">
          <input
            className="message"
            placeholder="Reason (optional)"
            value={reason}
            onChange={(event) => setReason(event.target.value)}
          />
          <button type="button" className="primary" onClick={() => setDecision('promote')}>
            Promote
          </button>
          <button type="button" className="danger" onClick={() => setDecision('rollback')}>
            Roll back
          </button>
          <button type="button" onClick={() => setDecision('stop')}>
            Stop
          </button>
        </div>
      ) : null}
      {results === undefined ? (
        <Empty>No measurements yet: the proxies report every few seconds.</Empty>
      ) : (
        <>
          <div className="stats">
            <div className="stat" data-stat="reduction">
              <div className="label">Reduction</div>
              <div className="value">{formatPercent(results.reductionPercent)}</div>
            </div>
            <div className="stat" data-stat="saving">
              <div className="label">Saving per month</div>
              <div className="value">{formatDollars(results.monthlySaving)}</div>
            </div>
            <div className="stat">
              <div className="label">Broken queries</div>
              <div className="value">{results.brokenQueries}</div>
            </div>
            <div className="stat">
              <div className="label">Confidence</div>
              <div className="value small">{results.confidence || '–'}</div>
            </div>
            <div className="stat">
              <div className="label">Proxies · elapsed</div>
              <div className="value small">
                {results.proxiesReporting} · {formatDuration(results.elapsedSeconds)}
              </div>
            </div>
          </div>
          <ArmsTable baseline={results.baseline} candidate={results.candidate} />
          {results.guardrails.length === 0 ? null : (
            <>
              <h3>Guardrails</h3>
              <ul className="guardrails">
                {results.guardrails.map((guardrail) => (
                  <li
                    key={guardrail.name}
                    className={guardrail.pending ? 'pending' : guardrail.passed ? 'ok' : 'bad'}
                  >
                    <strong>{guardrail.name}</strong>:{' '}
                    {guardrail.pending ? 'pending' : guardrail.passed ? 'passed' : 'failed'}
                    {guardrail.detail === '' ? '' : ` — ${guardrail.detail}`}
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
      <div className="charts">
        <TimeChart title="Output series per arm" timesMs={chart.times} lines={chart.series} />
        <TimeChart
          title="Samples per second per arm"
          timesMs={chart.times}
          lines={chart.samples}
          format={formatCount}
        />
      </div>
      <h3>Query safety</h3>
      {results === undefined || results.queries.length === 0 ? (
        <Empty>No queries were given to check.</Empty>
      ) : (
        <div className="table-scroll">
          <table className="queries">
            <thead>
              <tr>
                <th>Query</th>
                <th>Origin</th>
                <th>Verdict</th>
                <th>Reason</th>
                <th>Live</th>
              </tr>
            </thead>
            <tbody>
              {results.queries.map((check, index) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: the same query may come from two origins.
                <tr key={index} data-verdict={VERDICT_LABELS[check.verdict]}>
                  <td>
                    <code>{check.query}</code>
                  </td>
                  <td>{check.origin}</td>
                  <td>
                    <span className={`verdict verdict-${VERDICT_LABELS[check.verdict]}`}>
                      {VERDICT_LABELS[check.verdict]}
                    </span>
                  </td>
                  <td>{check.reason}</td>
                  <td>
                    {LIVE_LABELS[check.live]}
                    {check.divergence > 0 ? ` (${formatShare(check.divergence)})` : ''}
                    {check.liveDetail === '' ? '' : <div className="sub">{check.liveDetail}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {results === undefined || results.removed.length === 0 ? null : (
        <>
          <h3>What the candidate removes</h3>
          <div className="table-scroll">
            <table>
              <thead>
                <tr>
                  <th>Metric</th>
                  <th>Dropped labels</th>
                  <th>Series baseline → candidate</th>
                </tr>
              </thead>
              <tbody>
                {results.removed.map((group) => (
                  <tr key={group.metric}>
                    <td>{group.metric}</td>
                    <td>{group.droppedLabels.join(', ')}</td>
                    <td>
                      {formatCount(Number(group.baselineSeries))} →{' '}
                      {formatCount(Number(group.candidateSeries))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <h3>Candidate</h3>
      <pre className="config">{spec?.candidateConfigYaml}</pre>
      <h3>Events</h3>
      <EventLog events={events} />
      {decision === undefined ? null : (
        <ConfirmDialog
          title={
            decision === 'promote'
              ? `Promote ${name}?`
              : decision === 'rollback'
                ? `Roll back ${name}?`
                : `Stop ${name}?`
          }
          message={
            decision === 'promote'
              ? `The candidate becomes a new version of pipeline ${spec?.pipeline}, and every proxy following it switches within a second.`
              : decision === 'rollback'
                ? `The candidate stops everywhere; pipeline ${spec?.pipeline} stays as it is.`
                : 'The experiment ends without a decision; nothing changes in the pipeline.'
          }
          confirmLabel={
            decision === 'promote' ? 'Promote' : decision === 'rollback' ? 'Roll back' : 'Stop'
          }
          onConfirm={() => void decide(decision)}
          onCancel={() => setDecision(undefined)}
        />
      )}
    </section>
  );
}

function num(value: bigint | undefined): number | null {
  return value === undefined ? null : Number(value);
}

function ArmsTable({
  baseline,
  candidate,
}: {
  readonly baseline: ArmResults | undefined;
  readonly candidate: ArmResults | undefined;
}) {
  const rows: Array<[string, (arm: ArmResults) => string]> = [
    ['Series in', (arm) => formatCount(Number(arm.seriesIn))],
    ['Series out', (arm) => formatCount(Number(arm.seriesOut))],
    ['Samples in', (arm) => formatCount(Number(arm.samplesIn))],
    ['Samples out', (arm) => formatCount(Number(arm.samplesOut))],
    ['Samples/s', (arm) => formatRate(arm.samplesPerSecond)],
    ['Bytes out', (arm) => formatBytes(Number(arm.bytesOut))],
    ['Bytes/s', (arm) => `${formatBytes(arm.bytesPerSecond)}/s`],
    ['CPU per sample', (arm) => formatNanoseconds(arm.cpuNsPerSample)],
    ['Cost per month', (arm) => formatDollars(arm.monthlyCost)],
  ];
  return (
    <div className="table-scroll">
      <table className="arms" aria-label="Arms">
        <thead>
          <tr>
            <th />
            <th>Baseline</th>
            <th>Candidate</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([label, render]) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td>{baseline === undefined ? '–' : render(baseline)}</td>
              <td>{candidate === undefined ? '–' : render(candidate)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function EventLog({ events }: { readonly events: readonly ExperimentEvent[] }) {
  const shown = events.filter((event) => event.type !== 'results');
  const resultCount = events.length - shown.length;
  if (events.length === 0) return <Empty>No events yet.</Empty>;
  return (
    <>
      <ol className="event-log" aria-label="Event log">
        {shown.map((event, index) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: events arrive in order and are never removed.
          <li key={index} data-event={event.type}>
            <time>
              {event.at === undefined ? '' : new Date(timestampMs(event.at)).toLocaleTimeString()}
            </time>{' '}
            <strong>{event.type.replace('_', ' ')}</strong> by {event.actor || 'unknown'}
            {event.reason === '' ? '' : `: ${event.reason}`}
          </li>
        ))}
      </ol>
      <p className="sub">{resultCount} measurement updates received.</p>
    </>
  );
}
