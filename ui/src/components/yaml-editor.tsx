/**
 * A plain YAML editor: a textarea with a line-number gutter that marks the lines the
 * control plane found wrong, and the issues listed under it with their line and column.
 */
import { useRef } from 'react';
import type { ConfigIssue } from '../../../proto/gen/phoenix/v1/pipeline_pb.js';

export interface YamlEditorProps {
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly issues: readonly ConfigIssue[];
  readonly readOnly?: boolean;
  readonly label: string;
}

export function YamlEditor({ value, onChange, issues, readOnly = false, label }: YamlEditorProps) {
  const gutter = useRef<HTMLDivElement>(null);
  const lineCount = value.split('\n').length;
  const issueLines = new Set(issues.map((issue) => issue.line).filter((line) => line > 0));
  return (
    <div className="yaml-editor">
      <div className="editor-frame">
        <div className="gutter" ref={gutter} aria-hidden="true">
          {Array.from({ length: lineCount }, (_, index) => {
            const line = index + 1;
            return (
              <div
                key={line}
                className={issueLines.has(line) ? 'line-number has-issue' : 'line-number'}
                data-line={line}
              >
                {line}
              </div>
            );
          })}
        </div>
        <textarea
          aria-label={label}
          spellCheck={false}
          wrap="off"
          value={value}
          readOnly={readOnly}
          onChange={(event) => onChange(event.target.value)}
          onScroll={(event) => {
            if (gutter.current !== null) gutter.current.scrollTop = event.currentTarget.scrollTop;
          }}
        />
      </div>
      {issues.length === 0 ? null : (
        <ul className="issues" aria-label="Config issues">
          {issues.map((issue) => (
            <li
              key={`${issue.line}:${issue.column}:${issue.path}`}
              className="state error"
              data-issue-line={issue.line}
            >
              {issue.line > 0
                ? `Line ${issue.line}${issue.column > 0 ? `, column ${issue.column}` : ''}: `
                : ''}
              {issue.path === '' ? '' : <code>{issue.path}</code>}
              {issue.path === '' ? '' : ': '}
              {issue.reason}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
