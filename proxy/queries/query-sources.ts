/**
 * Where the PromQL that people depend on comes from: Prometheus rule files, Grafana
 * dashboards (one JSON file or a directory of them), plain lists of queries, and
 * Prometheus' query log. Every query keeps its origin so a report can say which alert,
 * recording rule or panel would break.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export type QuerySourceKind = 'rule' | 'dashboard' | 'list' | 'query-log';

/** Where one query was found. */
export interface QueryOrigin {
  readonly kind: QuerySourceKind;
  /** The file, as given (or found in a dashboard directory). */
  readonly file: string;
  /**
   * Inside the file: `group "api" / alert "HighErrorRate"`, `dashboard "API" / panel
   * "Errors" / target A`, `variable "job"`, `line 3`.
   */
  readonly location: string;
}

/** A query and where it came from. */
export interface SourcedQuery {
  readonly query: string;
  readonly origin: QueryOrigin;
}

/** A source that cannot be read: the file and what is wrong with it. */
export class QuerySourceError extends Error {
  override readonly name = 'QuerySourceError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new QuerySourceError(file, `cannot read: ${(error as Error).message}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a Prometheus rule file (`groups[].rules[]` with `record` or `alert` and `expr`). */
export async function loadRuleFile(file: string): Promise<SourcedQuery[]> {
  return parseRuleFile(await readText(file), file);
}

/** Parses the text of a rule file; `file` names it in origins and errors. */
export function parseRuleFile(text: string, file: string): SourcedQuery[] {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new QuerySourceError(file, `invalid YAML: ${(error as Error).message}`);
  }
  if (document === null || document === undefined) return [];
  if (!isRecord(document) || !Array.isArray(document.groups)) {
    throw new QuerySourceError(file, 'expected a rule file with a `groups` list');
  }
  const queries: SourcedQuery[] = [];
  document.groups.forEach((group: unknown, groupIndex) => {
    if (!isRecord(group) || !Array.isArray(group.rules)) {
      throw new QuerySourceError(file, `groups[${groupIndex}]: expected \`name\` and \`rules\``);
    }
    const groupName = typeof group.name === 'string' ? group.name : `#${groupIndex}`;
    group.rules.forEach((rule: unknown, ruleIndex) => {
      const path = `groups[${groupIndex}].rules[${ruleIndex}]`;
      if (!isRecord(rule) || rule.expr === undefined || rule.expr === null) {
        throw new QuerySourceError(file, `${path}: expected a rule with \`expr\``);
      }
      const kind = typeof rule.alert === 'string' ? 'alert' : 'record';
      const name = typeof rule.alert === 'string' ? rule.alert : String(rule.record ?? path);
      queries.push({
        query: String(rule.expr).trim(),
        origin: { kind: 'rule', file, location: `group "${groupName}" / ${kind} "${name}"` },
      });
    });
  });
  return queries;
}

/** Datasource types whose targets also have `expr` but are not PromQL. */
const NON_PROMQL_DATASOURCES = new Set(['loki', 'elasticsearch', 'tempo', 'influxdb', 'graphite']);

function datasourceType(value: unknown): string | undefined {
  if (isRecord(value) && typeof value.type === 'string') return value.type;
  return undefined;
}

/**
 * Reads a Grafana dashboard (the JSON model, or the API's `{ "dashboard": ... }`), or every
 * `*.json` file below a directory.
 */
export async function loadDashboards(path: string): Promise<SourcedQuery[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    throw new QuerySourceError(path, `cannot read: ${(error as Error).message}`);
  }
  if (!info.isDirectory()) return parseDashboard(await readText(path), path);
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.json'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  const queries: SourcedQuery[] = [];
  for (const file of files) queries.push(...parseDashboard(await readText(file), file));
  return queries;
}

/** Parses one dashboard's JSON text; `file` names it in origins and errors. */
export function parseDashboard(text: string, file: string): SourcedQuery[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new QuerySourceError(file, `invalid JSON: ${(error as Error).message}`);
  }
  const dashboard =
    isRecord(document) && isRecord(document.dashboard) ? document.dashboard : document;
  if (
    !isRecord(dashboard) ||
    (!Array.isArray(dashboard.panels) && !Array.isArray(dashboard.rows))
  ) {
    throw new QuerySourceError(file, 'expected a Grafana dashboard with `panels` or `rows`');
  }
  const title = typeof dashboard.title === 'string' ? dashboard.title : file;
  const queries: SourcedQuery[] = [];
  const origin = (location: string): QueryOrigin => ({
    kind: 'dashboard',
    file,
    location: `dashboard "${title}" / ${location}`,
  });
  const visitPanel = (panel: unknown, inheritedType: string | undefined): void => {
    if (!isRecord(panel)) return;
    const panelType = datasourceType(panel.datasource) ?? inheritedType;
    const panelTitle =
      typeof panel.title === 'string' && panel.title !== ''
        ? panel.title
        : `id ${String(panel.id ?? '?')}`;
    if (Array.isArray(panel.targets)) {
      panel.targets.forEach((target: unknown, index) => {
        if (!isRecord(target) || typeof target.expr !== 'string' || target.expr.trim() === '')
          return;
        const type = datasourceType(target.datasource) ?? panelType;
        if (type !== undefined && NON_PROMQL_DATASOURCES.has(type)) return;
        const refId = typeof target.refId === 'string' ? target.refId : `#${index}`;
        queries.push({
          query: target.expr.trim(),
          origin: origin(`panel "${panelTitle}" / target ${refId}`),
        });
      });
    }
    // Collapsed rows keep their panels inside the row panel.
    if (Array.isArray(panel.panels)) for (const inner of panel.panels) visitPanel(inner, panelType);
  };
  if (Array.isArray(dashboard.panels))
    for (const panel of dashboard.panels) visitPanel(panel, undefined);
  // Dashboards from before Grafana 5 keep panels in `rows`.
  if (Array.isArray(dashboard.rows)) {
    for (const row of dashboard.rows) {
      if (isRecord(row) && Array.isArray(row.panels))
        for (const panel of row.panels) visitPanel(panel, undefined);
    }
  }
  const templating = isRecord(dashboard.templating) ? dashboard.templating.list : undefined;
  if (Array.isArray(templating)) {
    for (const variable of templating) {
      if (!isRecord(variable) || variable.type !== 'query') continue;
      const type = datasourceType(variable.datasource);
      if (type !== undefined && type !== 'prometheus') continue;
      const raw = isRecord(variable.query) ? variable.query.query : variable.query;
      if (typeof raw !== 'string') continue;
      const query = variableQuery(raw.trim());
      if (query !== undefined) {
        queries.push({ query, origin: origin(`variable "${String(variable.name ?? '?')}"`) });
      }
    }
  }
  return queries;
}

/**
 * The PromQL a Prometheus template variable depends on: `label_values(sel, label)` reads
 * `label` of `sel` (written as `group by (label) (sel)`), `query_result(q)` runs `q`,
 * `metrics(re)` lists names. `label_values(label)` and `label_names()` read no metric.
 */
export function variableQuery(text: string): string | undefined {
  const labelValues = /^label_values\s*\((.*),\s*([A-Za-z_][A-Za-z0-9_]*|\$\w+)\s*\)$/s.exec(text);
  if (labelValues !== null) return `group by (${labelValues[2]}) (${labelValues[1]!.trim()})`;
  const queryResult = /^query_result\s*\((.*)\)$/s.exec(text);
  if (queryResult !== null) return queryResult[1]!.trim();
  const metrics = /^metrics\s*\((.*)\)$/s.exec(text);
  if (metrics !== null)
    return `group by (__name__) ({__name__=~${JSON.stringify(metrics[1]!.trim())}})`;
  if (/^(label_values|label_names)\s*\(/.test(text) || text === '') return undefined;
  return text;
}

/** Reads a list of queries: one per line, blank lines and `#` comments skipped. */
export async function loadQueryList(file: string): Promise<SourcedQuery[]> {
  return parseQueryList(await readText(file), file);
}

export function parseQueryList(text: string, file: string): SourcedQuery[] {
  const queries: SourcedQuery[] = [];
  text.split('\n').forEach((line, index) => {
    const query = line.trim();
    if (query === '' || query.startsWith('#')) return;
    queries.push({ query, origin: { kind: 'list', file, location: `line ${index + 1}` } });
  });
  return queries;
}

/**
 * Reads Prometheus' query log (`--query.log-file`, later `query_log_file` in the config):
 * JSON lines with `params.query`. A query logged many times is listed once, at its first
 * line, with the count.
 */
export async function loadQueryLog(file: string): Promise<SourcedQuery[]> {
  return parseQueryLog(await readText(file), file);
}

export function parseQueryLog(text: string, file: string): SourcedQuery[] {
  const seen = new Map<string, { line: number; count: number }>();
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch (error) {
      throw new QuerySourceError(
        file,
        `line ${index + 1}: invalid JSON: ${(error as Error).message}`,
      );
    }
    const params = isRecord(entry) ? entry.params : undefined;
    const query = isRecord(params) ? params.query : undefined;
    if (typeof query !== 'string') {
      throw new QuerySourceError(file, `line ${index + 1}: expected an entry with params.query`);
    }
    const known = seen.get(query);
    if (known === undefined) seen.set(query, { line: index + 1, count: 1 });
    else known.count++;
  });
  return [...seen].map(([query, { line, count }]) => ({
    query,
    origin: {
      kind: 'query-log',
      file,
      location: count === 1 ? `line ${line}` : `line ${line} (logged ${count} times)`,
    },
  }));
}
