/** Pipelines: the list, and one pipeline's editor, preview, history, diffs and rollback. */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { canWrite } from '../api/session.js';
import { Link } from '../components/link.js';
import { Empty, ErrorNote, Loading } from '../components/status.js';
import { useDashboard } from '../context.js';
import { formatAgo } from '../format.js';
import { segmentsAfter } from '../router.js';
import { useAsync } from '../use-async.js';
import { PipelineDetail } from './pipeline-detail.js';

export function PipelinesPage({ path }: { readonly path: string }) {
  const [name] = segmentsAfter(path, '/pipelines');
  if (name !== undefined) return <PipelineDetail key={name} name={name} />;
  return <PipelineList />;
}

function PipelineList() {
  const { api, session } = useDashboard();
  const [state] = useAsync(() => api.pipelines.listPipelines({}), []);
  return (
    <section aria-labelledby="pipelines-title">
      <div className="title-row">
        <h2 id="pipelines-title">Pipelines</h2>
        {canWrite(session) ? (
          <Link to="/pipelines/new" className="button primary">
            New pipeline
          </Link>
        ) : null}
      </div>
      {state.status === 'loading' ? <Loading what="pipelines" /> : null}
      {state.status === 'error' ? <ErrorNote error={state.error} /> : null}
      {state.status === 'ready' && state.value.pipelines.length === 0 ? (
        <Empty>No pipelines yet.</Empty>
      ) : null}
      {state.status === 'ready' && state.value.pipelines.length > 0 ? (
        <div className="table-scroll">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Version</th>
                <th>Rules</th>
                <th>Changed</th>
                <th>By</th>
                <th>Message</th>
              </tr>
            </thead>
            <tbody>
              {state.value.pipelines.map((pipeline) => (
                <tr key={pipeline.name}>
                  <td>
                    <Link to={`/pipelines/${encodeURIComponent(pipeline.name)}`}>
                      {pipeline.name}
                    </Link>
                  </td>
                  <td>v{pipeline.version}</td>
                  <td>{pipeline.ruleCount}</td>
                  <td>
                    {pipeline.createdAt === undefined
                      ? '–'
                      : formatAgo(timestampMs(pipeline.createdAt))}
                  </td>
                  <td>{pipeline.author}</td>
                  <td>{pipeline.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
