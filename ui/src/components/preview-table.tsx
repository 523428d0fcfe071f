/** The result of a preview: counts, hits per rule, and the series before and after. */
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type {
  PreviewPipelineResponse,
  PreviewSeries,
} from '../../../proto/gen/phoenix/v1/pipeline_pb.js';
import { formatAgo, formatCount } from '../format.js';

export function PreviewTable({ preview }: { readonly preview: PreviewPipelineResponse }) {
  return (
    <section className="preview" aria-label="Preview">
      <h3>Preview</h3>
      <p>
        {preview.sampleProxyId === ''
          ? 'On the given request: '
          : `On a request proxy ${preview.sampleProxyId} received ${preview.sampleTime === undefined ? '' : formatAgo(timestampMs(preview.sampleTime))}: `}
        <strong data-preview="series-in">{formatCount(preview.seriesIn)}</strong> series in,{' '}
        <strong data-preview="series-out">{formatCount(preview.seriesOut)}</strong> out (
        {formatCount(preview.seriesDropped)} dropped); samples {formatCount(preview.samplesIn)} in,{' '}
        {formatCount(preview.samplesOut)} out.
        {preview.truncated ? ' Lists are cut.' : ''}
      </p>
      {preview.ruleHits.length === 0 ? null : (
        <ul className="rule-hits">
          {preview.ruleHits.map((hit) => (
            <li key={hit.rule}>
              rule {hit.rule} ({hit.action}): {formatCount(hit.series)} series
            </li>
          ))}
        </ul>
      )}
      <div className="before-after">
        <SeriesList title="Before" series={preview.before} />
        <SeriesList title="After" series={preview.after} />
      </div>
    </section>
  );
}

function SeriesList({
  title,
  series,
}: {
  readonly title: string;
  readonly series: readonly PreviewSeries[];
}) {
  return (
    <div>
      <h4>
        {title} ({series.length})
      </h4>
      <ol className="series" aria-label={`Series ${title.toLowerCase()}`}>
        {series.map((entry, index) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list.
          <li key={index}>
            <code>{renderSeries(entry)}</code>
          </li>
        ))}
      </ol>
    </div>
  );
}

/** `name{a="1", b="2"}` as PromQL writes a series. */
export function renderSeries(series: PreviewSeries): string {
  const name = series.labels.find((label) => label.name === '__name__')?.value ?? '';
  const rest = series.labels
    .filter((label) => label.name !== '__name__')
    .map((label) => `${label.name}=${JSON.stringify(label.value)}`);
  return `${name}{${rest.join(', ')}}`;
}
