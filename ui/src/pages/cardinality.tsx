/**
 * Cardinality: which metrics have the most series, which labels of a metric have the most
 * values, before (input) and after (output) the active pipeline's relabel rules, and a
 * one-click experiment that drops a label.
 *
 * The numbers come from AnalysisService: the proxies' cardinality sketches of all traffic,
 * merged by the control plane. Until a proxy has reported any, the page counts a recent
 * request of live traffic instead (the one PreviewPipeline runs on) and says so.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { useEffect, useMemo, useState } from 'react';
import {
  CardinalityView,
  type TopLabelsResponse,
} from '../../../proto/gen/phoenix/v1/analysis_pb.js';
import type { PreviewPipelineResponse } from '../../../proto/gen/phoenix/v1/pipeline_pb.js';
import { canWrite } from '../api/session.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useDashboard } from '../context.js';
import { formatCount, formatDollars, formatShare, monthlyCost } from '../format.js';
import { labelStats, metricCounts } from '../label-stats.js';
import { navigate } from '../router.js';

const TOP_METRICS = 20;
const TOP_LABELS = 20;

interface MetricRow {
  readonly name: string;
  readonly before: number;
  readonly after: number;
}

interface LabelRow {
  readonly label: string;
  readonly before: number;
  /** Undefined: the label is gone after the pipeline. */
  readonly after: number | undefined;
}

interface Measured {
  readonly source: 'sketches' | 'sample';
  readonly metrics: readonly MetricRow[];
  readonly totalBefore: number;
  readonly totalAfter: number;
  readonly proxies: number;
  readonly sample: PreviewPipelineResponse | undefined;
}

export function CardinalityPage() {
  const { api, session, pricePerThousandSeries } = useDashboard();
  const [pipelines, setPipelines] = useState<string[]>([]);
  const [pipeline, setPipeline] = useState('default');
  const [measured, setMeasured] = useState<Measured | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [metric, setMetric] = useState<string | undefined>(undefined);
  const [labels, setLabels] = useState<LabelRow[] | undefined>(undefined);
  const [labelsError, setLabelsError] = useState<unknown>(undefined);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `api` is stable for a session.
  useEffect(() => {
    api.pipelines.listPipelines({}).then(
      (list) => setPipelines(list.pipelines.map((entry) => entry.name)),
      () => undefined,
    );
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: reloaded per pipeline.
  useEffect(() => {
    let current = true;
    setMeasured(undefined);
    setError(undefined);
    (async () => {
      const [input, output] = await Promise.all([
        api.analysis.topMetrics({ limit: TOP_METRICS, view: CardinalityView.INPUT }),
        api.analysis.topMetrics({ limit: 1000, view: CardinalityView.OUTPUT }),
      ]).catch(() => [undefined, undefined] as const);
      if (input !== undefined && output !== undefined && input.metrics.length > 0) {
        const after = new Map(
          output.metrics.map((entry) => [entry.name, Number(entry.activeSeries)]),
        );
        return {
          source: 'sketches',
          metrics: input.metrics.map((entry) => ({
            name: entry.name,
            before: Number(entry.activeSeries),
            after: after.get(entry.name) ?? 0,
          })),
          totalBefore: Number(input.totalSeries),
          totalAfter: Number(output.totalSeries),
          proxies: input.proxies,
          sample: undefined,
        } satisfies Measured;
      }
      const sample = await api.pipelines.previewPipeline({
        pipeline: { case: 'name', value: pipeline },
        liveSample: true,
        maxSeries: 1000,
      });
      const after = new Map(metricCounts(sample.after).map((entry) => [entry.name, entry.value]));
      return {
        source: 'sample',
        metrics: metricCounts(sample.before)
          .slice(0, TOP_METRICS)
          .map((entry) => ({
            name: entry.name,
            before: entry.value,
            after: after.get(entry.name) ?? 0,
          })),
        totalBefore: sample.seriesIn,
        totalAfter: sample.seriesOut,
        proxies: 1,
        sample,
      } satisfies Measured;
    })().then(
      (result) => current && setMeasured(result),
      (failure: unknown) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [pipeline]);

  const chosen = metric ?? measured?.metrics[0]?.name;

  // biome-ignore lint/correctness/useExhaustiveDependencies: reloaded per metric.
  useEffect(() => {
    if (measured === undefined || chosen === undefined) return;
    let current = true;
    setLabels(undefined);
    setLabelsError(undefined);
    if (measured.sample !== undefined) {
      const sample = measured.sample;
      const after = new Map(
        labelStats(sample.after, chosen).map((stat) => [stat.label, stat.distinctValues]),
      );
      setLabels(
        labelStats(sample.before, chosen).map((stat) => ({
          label: stat.label,
          before: stat.distinctValues,
          after: after.get(stat.label),
        })),
      );
      return;
    }
    const topLabels = (view: CardinalityView) =>
      api.analysis
        // The output list is longer so a label just past the input's top list is not
        // taken for dropped.
        .topLabels({
          metric: chosen,
          limit: view === CardinalityView.OUTPUT ? 4 * TOP_LABELS : TOP_LABELS,
          view,
        })
        .catch((failure: unknown) => {
          // A metric the pipeline drops entirely has no output series at all.
          if (
            view === CardinalityView.OUTPUT &&
            failure instanceof ConnectError &&
            failure.code === Code.NotFound
          ) {
            return undefined;
          }
          throw failure;
        });
    Promise.all([topLabels(CardinalityView.INPUT), topLabels(CardinalityView.OUTPUT)]).then(
      ([input, output]) => current && setLabels(labelRows(input, output)),
      (failure: unknown) => current && setLabelsError(failure),
    );
    return () => {
      current = false;
    };
  }, [measured, chosen]);

  const reduction = useMemo(
    () =>
      measured === undefined || measured.totalBefore === 0
        ? Number.NaN
        : 1 - measured.totalAfter / measured.totalBefore,
    [measured],
  );

  return (
    <section aria-labelledby="cardinality-title">
      <div className="title-row">
        <h2 id="cardinality-title">Cardinality</h2>
        <label className="inline">
          Pipeline
          <select value={pipeline} onChange={(event) => setPipeline(event.target.value)}>
            {(pipelines.includes(pipeline) ? pipelines : [pipeline, ...pipelines]).map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={error} />
      {measured === undefined && error === undefined ? <Loading what="cardinality" /> : null}
      {measured === undefined ? null : (
        <>
          <p className="hint" data-source={measured.source}>
            {measured.source === 'sketches'
              ? `Active series measured by ${measured.proxies} prox${measured.proxies === 1 ? 'y' : 'ies'} on all traffic; "after" is after the relabel rules, before aggregation.`
              : `No proxy has reported cardinality yet: counted on one recent request of live traffic (${formatCount(measured.totalBefore)} series).`}
          </p>
          <div className="stats">
            <div className="stat" data-stat="active-in">
              <div className="label">Active series before</div>
              <div className="value">{formatCount(measured.totalBefore)}</div>
            </div>
            <div className="stat" data-stat="active-out">
              <div className="label">Active series after</div>
              <div className="value">{formatCount(measured.totalAfter)}</div>
            </div>
            <div className="stat">
              <div className="label">Reduction</div>
              <div className="value">{formatShare(reduction)}</div>
            </div>
            <div className="stat">
              <div className="label">Monthly cost before → after</div>
              <div className="value small">
                {formatDollars(monthlyCost(measured.totalBefore, pricePerThousandSeries))} →{' '}
                {formatDollars(monthlyCost(measured.totalAfter, pricePerThousandSeries))}
              </div>
            </div>
          </div>
        </>
      )}
      {measured !== undefined && measured.metrics.length === 0 ? (
        <Empty>No traffic seen yet: send remote write to a proxy of this pipeline.</Empty>
      ) : null}
      {measured === undefined || measured.metrics.length === 0 ? null : (
        <div className="split-view">
          <div>
            <h3>Top metrics by series</h3>
            <div className="table-scroll">
              <table className="metrics" aria-label="Top metrics">
                <thead>
                  <tr>
                    <th>Metric</th>
                    <th>Before</th>
                    <th>After</th>
                    <th>Removed</th>
                  </tr>
                </thead>
                <tbody>
                  {measured.metrics.map((row) => (
                    <tr
                      key={row.name}
                      className={row.name === chosen ? 'selected' : ''}
                      data-metric={row.name}
                    >
                      <td>
                        <button type="button" className="link" onClick={() => setMetric(row.name)}>
                          {row.name}
                        </button>
                      </td>
                      <td>{formatCount(row.before)}</td>
                      <td>{formatCount(row.after)}</td>
                      <td>{row.before === 0 ? '–' : formatShare(1 - row.after / row.before)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
          <div>
            <h3>Labels of {chosen ?? '…'} by distinct values</h3>
            <ErrorNote error={labelsError} />
            {labels === undefined && labelsError === undefined ? <Loading what="labels" /> : null}
            {labels !== undefined && labels.length === 0 ? (
              <Empty>This metric has no labels.</Empty>
            ) : null}
            {labels === undefined || labels.length === 0 ? null : (
              <div className="table-scroll">
                <table className="labels" aria-label="Top labels">
                  <thead>
                    <tr>
                      <th>Label</th>
                      <th>Values before</th>
                      <th>Values after</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {labels.map((row) => (
                      <tr key={row.label} data-label={row.label}>
                        <td>{row.label}</td>
                        <td>{formatCount(row.before)}</td>
                        <td>{row.after === undefined ? 'dropped' : formatCount(row.after)}</td>
                        <td>
                          {canWrite(session) && row.after !== undefined ? (
                            <button
                              type="button"
                              onClick={() =>
                                navigate(
                                  `/experiments/new?pipeline=${encodeURIComponent(pipeline)}&dropLabel=${encodeURIComponent(row.label)}`,
                                )
                              }
                            >
                              Try dropping {row.label}
                            </button>
                          ) : null}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        </div>
      )}
    </section>
  );
}

function labelRows(
  input: TopLabelsResponse | undefined,
  output: TopLabelsResponse | undefined,
): LabelRow[] {
  const after = new Map(
    (output?.labels ?? []).map((label) => [label.name, Number(label.distinctValues)]),
  );
  return (input?.labels ?? [])
    .filter((label) => label.name !== '__name__')
    .map((label) => ({
      label: label.name,
      before: Number(label.distinctValues),
      after: after.get(label.name),
    }));
}
