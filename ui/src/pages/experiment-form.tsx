/**
 * Drafts an experiment from a pipeline: the candidate YAML starts as the active config
 * (plus a `labeldrop` when opened from the Cardinality page), with mode, duration,
 * guardrails and the queries to keep safe.
 */
import { create } from '@bufbuild/protobuf';
import { type FormEvent, useEffect, useState } from 'react';
import {
  ExperimentMode,
  ExperimentSpecSchema,
} from '../../../proto/gen/phoenix/v1/experiment_pb.js';
import type { ConfigIssue } from '../../../proto/gen/phoenix/v1/pipeline_pb.js';
import { configIssues } from '../api/errors.js';
import { canWrite } from '../api/session.js';
import { withLabelDrop } from '../candidate.js';
import { Link } from '../components/link.js';
import { ErrorNote } from '../components/status.js';
import { YamlEditor } from '../components/yaml-editor.js';
import { useDashboard } from '../context.js';
import { navigate } from '../router.js';

export function ExperimentForm({ query }: { readonly query: URLSearchParams }) {
  const { api, session, pricePerThousandSeries } = useDashboard();
  const dropLabel = query.get('dropLabel') ?? '';
  const [pipelines, setPipelines] = useState<string[]>([]);
  const [pipeline, setPipeline] = useState(query.get('pipeline') ?? 'default');
  const [name, setName] = useState(
    dropLabel === ''
      ? `exp-${shortStamp()}`
      : `drop-${dropLabel.replace(/[^a-zA-Z0-9_.-]/g, '-')}-${shortStamp()}`,
  );
  const [candidate, setCandidate] = useState('');
  const [mode, setMode] = useState<ExperimentMode>(ExperimentMode.SHADOW);
  const [fraction, setFraction] = useState(0.1);
  const [durationMinutes, setDurationMinutes] = useState(30);
  const [minDurationSeconds, setMinDurationSeconds] = useState(60);
  const [minReductionPercent, setMinReductionPercent] = useState(0);
  const [maxBrokenQueries, setMaxBrokenQueries] = useState(0);
  const [maxDivergence, setMaxDivergence] = useState(0.01);
  const [automatic, setAutomatic] = useState(false);
  const [queries, setQueries] = useState('');
  const [shadowUpstream, setShadowUpstream] = useState('');
  const [description, setDescription] = useState(dropLabel === '' ? '' : `Drop label ${dropLabel}`);
  const [issues, setIssues] = useState<ConfigIssue[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `api` is stable for a session.
  useEffect(() => {
    api.pipelines
      .listPipelines({})
      .then((list) => setPipelines(list.pipelines.map((entry) => entry.name)), setError);
  }, []);

  // The candidate starts from the baseline's current config.
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-drafted only when the baseline changes.
  useEffect(() => {
    let current = true;
    api.pipelines.getPipeline({ name: pipeline }).then(
      (got) => {
        if (!current) return;
        const active = got.pipeline?.configYaml ?? '';
        try {
          setCandidate(dropLabel === '' ? active : withLabelDrop(active, dropLabel));
        } catch (failure) {
          setCandidate(active);
          setError(failure);
        }
      },
      (failure: unknown) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [pipeline]);

  if (!canWrite(session)) {
    return (
      <section>
        <h2>New experiment</h2>
        <p className="state error">
          Creating an experiment needs an admin token; you are signed in as {session.role}.
        </p>
      </section>
    );
  }

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    // "Save as draft" stores it without running it; the default button starts it too.
    const submitter = (event.nativeEvent as SubmitEvent).submitter;
    const start = submitter?.getAttribute('name') !== 'draft';
    setBusy(true);
    setError(undefined);
    setIssues([]);
    try {
      const spec = create(ExperimentSpecSchema, {
        name: name.trim(),
        pipeline,
        candidateConfigYaml: candidate,
        mode,
        fraction: mode === ExperimentMode.SPLIT ? fraction : 0,
        durationSeconds: Math.round(durationMinutes * 60),
        shadowUpstream: shadowUpstream.trim(),
        guardrails: { minDurationSeconds, minReductionPercent, maxBrokenQueries, maxDivergence },
        queries: {
          promql: queries
            .split('\n')
            .map((line) => line.trim())
            .filter((line) => line !== '' && !line.startsWith('#')),
        },
        auto: automatic,
        pricing: { perThousandSeries: pricePerThousandSeries },
        description,
      });
      const created = await api.experiments.createExperiment({ spec, start });
      navigate(`/experiments/${encodeURIComponent(created.experiment?.spec?.name ?? spec.name)}`);
    } catch (failure) {
      setIssues(configIssues(failure));
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="experiment-form-title">
      <h2 id="experiment-form-title">
        <Link to="/experiments">Experiments</Link> / new
      </h2>
      <form className="experiment-form" onSubmit={submit} aria-label="New experiment">
        <div className="form-grid">
          <label>
            Name
            <input
              name="name"
              value={name}
              onChange={(event) => setName(event.target.value)}
              required
            />
          </label>
          <label>
            Baseline pipeline
            <select
              name="pipeline"
              value={pipeline}
              onChange={(event) => setPipeline(event.target.value)}
            >
              {(pipelines.includes(pipeline) ? pipelines : [pipeline, ...pipelines]).map(
                (entry) => (
                  <option key={entry} value={entry}>
                    {entry}
                  </option>
                ),
              )}
            </select>
          </label>
          <label>
            Mode
            <select
              name="mode"
              value={mode}
              onChange={(event) => setMode(Number(event.target.value) as ExperimentMode)}
            >
              <option value={ExperimentMode.SHADOW}>
                shadow: every series through both, candidate only measured
              </option>
              <option value={ExperimentMode.SPLIT}>
                split: a share of series through the candidate
              </option>
            </select>
          </label>
          {mode === ExperimentMode.SPLIT ? (
            <label>
              Fraction through the candidate
              <input
                name="fraction"
                type="number"
                min="0.01"
                max="1"
                step="0.01"
                value={fraction}
                onChange={(event) => setFraction(Number(event.target.value))}
              />
            </label>
          ) : (
            <label>
              Shadow upstream (optional remote-write URL)
              <input
                name="shadowUpstream"
                value={shadowUpstream}
                onChange={(event) => setShadowUpstream(event.target.value)}
              />
            </label>
          )}
          <label>
            Duration (minutes)
            <input
              name="duration"
              type="number"
              min="1"
              value={durationMinutes}
              onChange={(event) => setDurationMinutes(Number(event.target.value))}
            />
          </label>
          <label>
            Description
            <input
              name="description"
              value={description}
              onChange={(event) => setDescription(event.target.value)}
            />
          </label>
        </div>
        <fieldset>
          <legend>Guardrails</legend>
          <div className="form-grid">
            <label>
              Minimum duration (s)
              <input
                type="number"
                min="0"
                value={minDurationSeconds}
                onChange={(event) => setMinDurationSeconds(Number(event.target.value))}
              />
            </label>
            <label>
              Minimum reduction (%)
              <input
                type="number"
                min="0"
                max="100"
                value={minReductionPercent}
                onChange={(event) => setMinReductionPercent(Number(event.target.value))}
              />
            </label>
            <label>
              Most broken queries
              <input
                type="number"
                min="0"
                value={maxBrokenQueries}
                onChange={(event) => setMaxBrokenQueries(Number(event.target.value))}
              />
            </label>
            <label>
              Largest divergence (0.01 = 1%)
              <input
                type="number"
                min="0"
                step="0.001"
                value={maxDivergence}
                onChange={(event) => setMaxDivergence(Number(event.target.value))}
              />
            </label>
            <label className="checkbox">
              <input
                type="checkbox"
                checked={automatic}
                onChange={(event) => setAutomatic(event.target.checked)}
              />
              Decide automatically when the guardrails pass or fail
            </label>
          </div>
        </fieldset>
        <label>
          Queries to keep safe (PromQL, one per line)
          <textarea
            name="queries"
            className="queries"
            rows={4}
            spellCheck={false}
            value={queries}
            onChange={(event) => setQueries(event.target.value)}
            placeholder={'sum by (code) (rate(http_requests_total[5m]))'}
          />
        </label>
        <YamlEditor
          label="Candidate YAML"
          value={candidate}
          onChange={setCandidate}
          issues={issues}
        />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || candidate === ''}>
            {busy ? 'Creating…' : 'Create and start'}
          </button>
          <button type="submit" name="draft" disabled={busy || candidate === ''}>
            Save as draft
          </button>
        </div>
        <ErrorNote error={error} />
      </form>
    </section>
  );
}

function shortStamp(): string {
  const now = new Date();
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
}
