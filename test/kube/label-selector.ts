/**
 * Kubernetes label selectors as the loopback API server evaluates them: comma-separated
 * requirements, each `key=value`, `key==value`, `key!=value`, `key`, `!key`,
 * `key in (a,b)` or `key notin (a,b)`; an object matches when every requirement holds.
 */

export type LabelSelector = (labels: Readonly<Record<string, string>> | undefined) => boolean;

/** A selector that cannot be parsed; the API server answers it with 400 Bad Request. */
export class LabelSelectorError extends Error {
  override readonly name = 'LabelSelectorError';
}

type Requirement = (labels: Readonly<Record<string, string>>) => boolean;

/** Splits on commas that are not inside a `( … )` value set. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const character of text) {
    if (character === '(') depth += 1;
    if (character === ')') depth -= 1;
    if (character === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += character;
    }
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

function parseRequirement(text: string): Requirement {
  const setMatch = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (setMatch !== null) {
    const [, key, operator, valueList] = setMatch as unknown as [string, string, string, string];
    const values = new Set(valueList.split(',').map((value) => value.trim()));
    return operator === 'in'
      ? (labels) => key in labels && values.has(labels[key]!)
      : (labels) => !(key in labels) || !values.has(labels[key]!);
  }
  const notEqual = /^([^\s!=]+)\s*!=\s*(\S*)$/.exec(text);
  if (notEqual !== null) {
    const [, key, value] = notEqual as unknown as [string, string, string];
    return (labels) => labels[key] !== value;
  }
  const equal = /^([^\s!=]+)\s*==?\s*(\S*)$/.exec(text);
  if (equal !== null) {
    const [, key, value] = equal as unknown as [string, string, string];
    return (labels) => labels[key] === value;
  }
  const absent = /^!([^\s!=]+)$/.exec(text);
  if (absent !== null) {
    const key = absent[1]!;
    return (labels) => !(key in labels);
  }
  if (/^[^\s!=(),]+$/.test(text)) return (labels) => text in labels;
  throw new LabelSelectorError(`unable to parse requirement: ${JSON.stringify(text)}`);
}

/** Parses `text` once; the returned function tests an object's `metadata.labels`. */
export function parseLabelSelector(text: string | null): LabelSelector {
  if (text === null || text.trim() === '') return () => true;
  const requirements = splitRequirements(text).map(parseRequirement);
  return (labels) => requirements.every((requirement) => requirement(labels ?? {}));
}
