/**
 * One pipeline: edit its YAML with validation at the line, preview it on live traffic,
 * apply it, and read or roll back its history. `name` `new` creates a pipeline.
 */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { useEffect, useRef, useState } from 'react';
import type {
  ConfigIssue,
  Pipeline,
  PreviewPipelineResponse,
} from '../../../proto/gen/phoenix/v1/pipeline_pb.js';
import { configIssues, describeError } from '../api/errors.js';
import { canWrite } from '../api/session.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { Link } from '../components/link.js';
import { PreviewTable } from '../components/preview-table.js';
import { ErrorNote, Loading } from '../components/status.js';
import { YamlEditor } from '../components/yaml-editor.js';
import { useDashboard } from '../context.js';
import { formatAgo } from '../format.js';
import { navigate } from '../router.js';

const NEW_PIPELINE_YAML = 'relabel_configs:\n  - action: labeldrop\n    regex: pod_template_hash\n';
/** Wait after the last keystroke before validating, in ms. */
const VALIDATE_DELAY_MS = 400;

export function PipelineDetail({ name }: { readonly name: string }) {
  const creating = name === 'new';
  const { api, session } = useDashboard();
  const writable = canWrite(session);
  const [pipeline, setPipeline] = useState<Pipeline | undefined>(undefined);
  const [history, setHistory] = useState<Pipeline[]>([]);
  const [loadError, setLoadError] = useState<unknown>(undefined);
  const [text, setText] = useState(creating ? NEW_PIPELINE_YAML : '');
  const [newName, setNewName] = useState('');
  const [message, setMessage] = useState('');
  const [issues, setIssues] = useState<ConfigIssue[]>([]);
  const [validity, setValidity] = useState('');
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState('');
  const [preview, setPreview] = useState<PreviewPipelineResponse | undefined>(undefined);
  const [previewing, setPreviewing] = useState(false);
  const [diff, setDiff] = useState<{ title: string; text: string } | undefined>(undefined);
  const [rollbackTo, setRollbackTo] = useState<number | undefined>(undefined);
  const validation = useRef(0);

  const load = async () => {
    if (creating) return;
    try {
      const [got, past] = await Promise.all([
        api.pipelines.getPipeline({ name }),
        api.pipelines.getPipelineHistory({ name }),
      ]);
      setPipeline(got.pipeline);
      setText(got.pipeline?.configYaml ?? '');
      setHistory(past.versions);
      setLoadError(undefined);
    } catch (error) {
      setLoadError(error);
    }
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: reloads only when the pipeline changes.
  useEffect(() => {
    void load();
  }, [name]);

  // Validate as the user types, so an error shows at its line before Apply.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `api` is stable for a session.
  useEffect(() => {
    if (text === '') return;
    const run = ++validation.current;
    const timer = setTimeout(async () => {
      try {
        const result = await api.pipelines.validatePipeline({ configYaml: text });
        if (run !== validation.current) return;
        setIssues([]);
        setValidity(`Valid: ${result.ruleCount} relabel rule${result.ruleCount === 1 ? '' : 's'}.`);
      } catch (error) {
        if (run !== validation.current) return;
        const found = configIssues(error);
        setIssues(found);
        setValidity(found.length === 0 ? describeError(error) : '');
      }
    }, VALIDATE_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text]);

  const runPreview = async () => {
    setPreviewing(true);
    setActionError(undefined);
    try {
      setPreview(
        await api.pipelines.previewPipeline({
          pipeline: { case: 'configYaml', value: text },
          liveSample: true,
          maxSeries: 200,
        }),
      );
    } catch (error) {
      setIssues(configIssues(error));
      setActionError(error);
    } finally {
      setPreviewing(false);
    }
  };

  const apply = async () => {
    setActionError(undefined);
    setNotice('');
    try {
      if (creating) {
        const created = await api.pipelines.createPipeline({
          name: newName.trim(),
          configYaml: text,
          message,
        });
        navigate(`/pipelines/${encodeURIComponent(created.pipeline?.name ?? newName.trim())}`);
        return;
      }
      const updated = await api.pipelines.updatePipeline({
        name,
        configYaml: text,
        message,
        ...(pipeline === undefined ? {} : { expectedVersion: pipeline.version }),
      });
      setMessage('');
      await load();
      setNotice(
        updated.pipeline?.version === pipeline?.version
          ? 'No change: the config is identical to the current version.'
          : `Applied as version ${updated.pipeline?.version}.`,
      );
    } catch (error) {
      setIssues(configIssues(error));
      setActionError(error);
    }
  };

  const showDiff = async (from: number, to: number) => {
    setActionError(undefined);
    try {
      const result = await api.pipelines.diffPipelineVersions({
        name,
        fromVersion: from,
        toVersion: to,
      });
      setDiff({ title: `v${from} → v${to}`, text: result.diff });
    } catch (error) {
      setActionError(error);
    }
  };

  const rollback = async (toVersion: number) => {
    setRollbackTo(undefined);
    setActionError(undefined);
    try {
      const result = await api.pipelines.rollbackPipeline({
        name,
        toVersion,
        ...(pipeline === undefined ? {} : { expectedVersion: pipeline.version }),
      });
      // Reload first, so the notice appears together with the history that shows it.
      await load();
      setNotice(
        `Rolled back: version ${result.pipeline?.version} has the config of version ${toVersion}.`,
      );
    } catch (error) {
      setActionError(error);
    }
  };

  if (!creating && pipeline === undefined && loadError === undefined)
    return <Loading what={`pipeline ${name}`} />;

  return (
    <section aria-labelledby="pipeline-title">
      <div className="title-row">
        <h2 id="pipeline-title">
          <Link to="/pipelines">Pipelines</Link> / {creating ? 'new' : name}
          {pipeline === undefined ? null : <span className="badge">v{pipeline.version}</span>}
        </h2>
        {creating ? null : (
          <Link to={`/experiments/new?pipeline=${encodeURIComponent(name)}`} className="button">
            Experiment with a change
          </Link>
        )}
      </div>
      <ErrorNote error={loadError} />
      {creating ? (
        <label>
          Name
          <input
            value={newName}
            onChange={(event) => setNewName(event.target.value)}
            placeholder="default"
          />
        </label>
      ) : null}
      <YamlEditor
        label="Pipeline YAML"
        value={text}
        onChange={setText}
        issues={issues}
        readOnly={!writable}
      />
      <p
        className={
          issues.length > 0 || (validity !== '' && !validity.startsWith('Valid'))
            ? 'state error'
            : 'state ok'
        }
        data-validity
      >
        {validity}
      </p>
      <div className="actions">
        <button type="button" onClick={runPreview} disabled={previewing}>
          {previewing ? 'Previewing…' : 'Preview on live traffic'}
        </button>
        {writable ? (
          <>
            <input
              className="message"
              placeholder="Why this change (optional)"
              value={message}
              onChange={(event) => setMessage(event.target.value)}
            />
            <button
              type="button"
              className="primary"
              onClick={apply}
              disabled={creating && newName.trim() === ''}
            >
              {creating ? 'Create' : 'Apply'}
            </button>
          </>
        ) : (
          <span className="hint">
            Viewers can validate and preview; applying needs an admin token.
          </span>
        )}
      </div>
      {notice === '' ? null : (
        <p className="state ok" role="status">
          {notice}
        </p>
      )}
      <ErrorNote error={actionError} />
      {preview === undefined ? null : <PreviewTable preview={preview} />}
      {creating ? null : (
        <>
          <h3>History</h3>
          <div className="table-scroll">
            <table className="history">
              <thead>
                <tr>
                  <th>Version</th>
                  <th>When</th>
                  <th>By</th>
                  <th>Message</th>
                  <th>Rules</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {history.map((version, index) => {
                  const previous = history[index + 1];
                  const latest = history[0];
                  return (
                    <tr key={version.version}>
                      <td>v{version.version}</td>
                      <td>
                        {version.createdAt === undefined
                          ? '–'
                          : formatAgo(timestampMs(version.createdAt))}
                      </td>
                      <td>{version.author}</td>
                      <td>{version.message}</td>
                      <td>{version.ruleCount}</td>
                      <td className="row-actions">
                        {previous === undefined ? null : (
                          <button
                            type="button"
                            onClick={() => showDiff(previous.version, version.version)}
                          >
                            Diff with v{previous.version}
                          </button>
                        )}
                        {writable && latest !== undefined && version.version !== latest.version ? (
                          <button type="button" onClick={() => setRollbackTo(version.version)}>
                            Roll back to v{version.version}
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          {diff === undefined ? null : (
            <section className="diff" aria-label={`Diff ${diff.title}`}>
              <h4>Diff {diff.title}</h4>
              <pre>
                {diff.text.split('\n').map((line, index) => (
                  <span
                    // biome-ignore lint/suspicious/noArrayIndexKey: lines of a fixed text.
                    key={index}
                    className={
                      line.startsWith('+')
                        ? 'added'
                        : line.startsWith('-')
                          ? 'removed'
                          : line.startsWith('@@')
                            ? 'hunk'
                            : ''
                    }
                  >
                    {line}
                    {'\n'}
                  </span>
                ))}
              </pre>
            </section>
          )}
        </>
      )}
      {rollbackTo === undefined ? null : (
        <ConfirmDialog
          title={`Roll back ${name}?`}
          message={`Version ${rollbackTo}'s config becomes a new version, and every proxy following ${name} switches to it within a second.`}
          confirmLabel={`Roll back to v${rollbackTo}`}
          onConfirm={() => void rollback(rollbackTo)}
          onCancel={() => setRollbackTo(undefined)}
        />
      )}
    </section>
  );
}
