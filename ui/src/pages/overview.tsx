/**
 * Live overview: what flows in and out, how much the pipeline removes, what that is worth,
 * and how every proxy is doing. Fed by the control plane's server-sent events, one point a
 * second; the page never reloads.
 */
import { useEffect, useMemo, useState } from 'react';
import { followOverview, type OverviewPoint } from '../api/overview-stream.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { TimeChart } from '../components/time-chart.js';
import { useDashboard } from '../context.js';
import {
  formatAgo,
  formatCount,
  formatDollars,
  formatRate,
  formatShare,
  monthlyCost,
} from '../format.js';

/** Points kept for the charts: five minutes at one a second. */
const HISTORY_POINTS = 300;

export function OverviewPage() {
  const { token, pricePerThousandSeries, setPricePerThousandSeries } = useDashboard();
  const [points, setPoints] = useState<OverviewPoint[]>([]);
  const [latestPoint, setLatestPoint] = useState<OverviewPoint | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    const abort = new AbortController();
    void followOverview(
      token,
      abort.signal,
      (point) => {
        setError(undefined);
        setLatestPoint(point);
        // Sums that leave out a proxy still being measured would dip; they are not charted.
        if (!point.measuring) {
          setPoints((previous) => [...previous.slice(-(HISTORY_POINTS - 1)), point]);
        }
      },
      setError,
    );
    return () => abort.abort();
  }, [token]);

  // Totals from the newest fully measured point; proxies from the newest point of all.
  const latest = points.at(-1) ?? latestPoint;
  const fleet = latestPoint ?? latest;
  const charts = useMemo(() => {
    const times = points.map((point) => point.atMs);
    const hasActive = points.some((point) => point.activeSeries !== null);
    return {
      times,
      samples: [
        { label: 'in', color: '#c2410c', values: points.map((p) => p.samplesInPerSecond) },
        { label: 'out', color: '#15803d', values: points.map((p) => p.samplesOutPerSecond) },
      ],
      series: hasActive
        ? [
            {
              label: 'active in',
              color: '#c2410c',
              values: points.map((p) => p.activeSeries?.input ?? null),
            },
            {
              label: 'active out',
              color: '#15803d',
              values: points.map((p) => p.activeSeries?.output ?? null),
            },
          ]
        : [
            { label: 'in', color: '#c2410c', values: points.map((p) => p.seriesInPerSecond) },
            { label: 'out', color: '#15803d', values: points.map((p) => p.seriesOutPerSecond) },
          ],
      hasActive,
    };
  }, [points]);

  if (latest === undefined) {
    return (
      <section aria-labelledby="overview-title">
        <h2 id="overview-title">Overview</h2>
        <ErrorNote error={error} />
        {error === undefined ? <Loading what="live rates" /> : null}
      </section>
    );
  }

  const active = latest.activeSeries;
  const reduction =
    active !== null && active.input > 0
      ? 1 - active.output / active.input
      : latest.seriesInPerSecond > 0
        ? 1 - latest.seriesOutPerSecond / latest.seriesInPerSecond
        : Number.NaN;

  return (
    <section aria-labelledby="overview-title">
      <h2 id="overview-title">Overview</h2>
      <ErrorNote error={error} />
      {latest.measuring && points.length === 0 ? (
        <p className="state loading">Measuring rates: they need two reports of each proxy…</p>
      ) : null}
      <div className="stats">
        <Stat label="Samples in" value={formatRate(latest.samplesInPerSecond)} name="samples-in" />
        <Stat
          label="Samples out"
          value={formatRate(latest.samplesOutPerSecond)}
          name="samples-out"
        />
        {active === null ? (
          <>
            <Stat
              label="Series in (per request)"
              value={formatRate(latest.seriesInPerSecond)}
              name="series-in"
            />
            <Stat
              label="Series out (per request)"
              value={formatRate(latest.seriesOutPerSecond)}
              name="series-out"
            />
          </>
        ) : (
          <>
            <Stat label="Active series in" value={formatCount(active.input)} name="series-in" />
            <Stat label="Active series out" value={formatCount(active.output)} name="series-out" />
          </>
        )}
        <Stat label="Reduction" value={formatShare(reduction)} name="reduction" />
        <Stat
          label="Monthly cost before → after"
          value={
            active === null
              ? 'needs series counts'
              : `${formatDollars(monthlyCost(active.input, pricePerThousandSeries))} → ${formatDollars(monthlyCost(active.output, pricePerThousandSeries))}`
          }
          name="cost"
        />
      </div>
      <label className="price">
        Price per 1k series per month ($)
        <input
          type="number"
          min="0"
          step="0.5"
          value={pricePerThousandSeries}
          onChange={(event) => {
            const next = Number(event.target.value);
            if (Number.isFinite(next) && next >= 0) setPricePerThousandSeries(next);
          }}
        />
      </label>
      {active === null ? (
        <p className="hint">
          Active series appear once the control plane measures cardinality (
          <code>/api/v1/status/tsdb</code>); until then series are counted per request.
        </p>
      ) : null}
      <div className="charts">
        <TimeChart title="Samples per second" timesMs={charts.times} lines={charts.samples} />
        <TimeChart
          title={charts.hasActive ? 'Active series' : 'Series per second'}
          timesMs={charts.times}
          lines={charts.series}
        />
      </div>
      <h3>Proxies</h3>
      {fleet === undefined || fleet.proxies.length === 0 ? (
        <Empty>No proxy has reported yet. Start one with --control-plane pointing here.</Empty>
      ) : (
        <div className="table-scroll">
          <table className="proxies">
            <thead>
              <tr>
                <th>Proxy</th>
                <th>Pipeline</th>
                <th>Version applied</th>
                <th>Healthy</th>
                <th>Connected</th>
                <th>Last seen</th>
                <th>Samples in</th>
                <th>Samples out</th>
              </tr>
            </thead>
            <tbody>
              {fleet.proxies.map((proxy) => (
                <tr key={proxy.proxyId}>
                  <td>
                    {proxy.proxyId}
                    <div className="sub">
                      {proxy.listen} · {proxy.version}
                    </div>
                    {proxy.applyError === '' ? null : (
                      <div className="state error">{proxy.applyError}</div>
                    )}
                  </td>
                  <td>{proxy.pipeline}</td>
                  <td>v{proxy.appliedVersion}</td>
                  <td>
                    {proxy.healthy ? (
                      <span className="ok">healthy</span>
                    ) : (
                      <span className="bad">unhealthy</span>
                    )}
                  </td>
                  <td>
                    {proxy.connected ? (
                      <span className="ok">connected</span>
                    ) : (
                      <span className="bad">disconnected</span>
                    )}
                  </td>
                  <td>{formatAgo(proxy.lastSeenMs, fleet.atMs)}</td>
                  <td>{formatRate(proxy.samplesInPerSecond)}</td>
                  <td>{formatRate(proxy.samplesOutPerSecond)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Stat({
  label,
  value,
  name,
}: {
  readonly label: string;
  readonly value: string;
  readonly name: string;
}) {
  return (
    <div className="stat" data-stat={name}>
      <div className="label">{label}</div>
      <div className="value">{value}</div>
    </div>
  );
}
