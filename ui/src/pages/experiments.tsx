/** Experiments: the list, the form that drafts one, and one experiment watched live. */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { canWrite } from '../api/session.js';
import { Link } from '../components/link.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useDashboard } from '../context.js';
import { MODE_LABELS, PHASE_LABELS } from '../experiment-labels.js';
import { formatAgo, formatDollars, formatPercent } from '../format.js';
import { segmentsAfter } from '../router.js';
import { useAsync } from '../use-async.js';
import { ExperimentDetail } from './experiment-detail.js';
import { ExperimentForm } from './experiment-form.js';

export function ExperimentsPage({
  path,
  query,
}: {
  readonly path: string;
  readonly query: URLSearchParams;
}) {
  const [name] = segmentsAfter(path, '/experiments');
  if (name === 'new') return <ExperimentForm query={query} />;
  if (name !== undefined) return <ExperimentDetail key={name} name={name} />;
  return <ExperimentList />;
}

function ExperimentList() {
  const { api, session } = useDashboard();
  const [state] = useAsync(() => api.experiments.listExperiments({}), []);
  return (
    <section aria-labelledby="experiments-title">
      <div className="title-row">
        <h2 id="experiments-title">Experiments</h2>
        {canWrite(session) ? (
          <Link to="/experiments/new" className="button primary">
            New experiment
          </Link>
        ) : null}
      </div>
      {state.status === 'loading' ? <Loading what="experiments" /> : null}
      {state.status === 'error' ? <ErrorNote error={state.error} /> : null}
      {state.status === 'ready' && state.value.experiments.length === 0 ? (
        <Empty>
          No experiments yet. Start one from a pipeline, or from a label on the Cardinality page.
        </Empty>
      ) : null}
      {state.status === 'ready' && state.value.experiments.length > 0 ? (
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Pipeline</th>
                <th>Mode</th>
                <th>Phase</th>
                <th>Reduction</th>
                <th>Saving / month</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {state.value.experiments.map((experiment) => {
                const spec = experiment.spec;
                const name = spec?.name ?? '';
                return (
                  <tr key={name}>
                    <td>
                      <Link to={`/experiments/${encodeURIComponent(name)}`}>{name}</Link>
                    </td>
                    <td>{spec?.pipeline}</td>
                    <td>{spec === undefined ? '–' : MODE_LABELS[spec.mode]}</td>
                    <td>
                      <span
                        className={`phase phase-${PHASE_LABELS[experiment.phase].replace(' ', '-')}`}
                      >
                        {PHASE_LABELS[experiment.phase]}
                      </span>
                    </td>
                    <td>
                      {experiment.results === undefined
                        ? '–'
                        : formatPercent(experiment.results.reductionPercent)}
                    </td>
                    <td>
                      {experiment.results === undefined
                        ? '–'
                        : formatDollars(experiment.results.monthlySaving)}
                    </td>
                    <td>
                      {experiment.createdAt === undefined
                        ? '–'
                        : formatAgo(timestampMs(experiment.createdAt))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
