import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phoenixBinary, REPO_DIR } from '../../test/helpers/peers.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.js';

const TESTDATA = join(REPO_DIR, 'proxy', 'queries', 'testdata');
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'phoenix-check-queries-'));
});
afterAll(() => rm(workDir, { recursive: true, force: true }));

/** Runs the built `bin/phoenix check-queries` in the test data folder. */
async function run(args: string[]): Promise<{ status: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      phoenixBinary(),
      ['check-queries', ...args],
      {
        cwd: TESTDATA,
      },
    );
    return { status: 0, out: stdout, err: stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { status: failed.code, out: failed.stdout, err: failed.stderr };
  }
}

describe('phoenix check-queries', () => {
  it('prints a table of verdicts and exits 1 when a query is broken', async () => {
    const result = await run([
      '--pipeline',
      'pipeline.yaml',
      '--rules',
      'api-rules.yaml',
      '--dashboards',
      'dashboards',
      '--queries',
      'queries.txt',
      '--query-log',
      'query.log',
    ]);
    expect(result.status).toBe(EXIT_FAILURE);
    const lines = result.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^VERDICT\s+ORIGIN\s+REASON$/);
    expect(lines[1]).toMatch(
      /^broken\s+api-rules\.yaml: group "api\.rules" \/ record "job:http_request_duration_seconds:p99"\s+http_request_duration_seconds_bucket is aggregated by aggregations\[1\]/,
    );
    expect(result.out).toContain(
      'dashboards/api-overview.json: dashboard "API overview" / panel "Debug requests" / target A',
    );
    expect(result.out).toMatch(
      /invalid\s+queries\.txt: line 7\s+does not parse: unexpected "by" at line 1, column 70/,
    );
    expect(lines.at(-1)).toBe('23 queries: 7 broken, 3 changed, 12 safe, 1 invalid');
  });

  it('exits 0 when nothing is broken, and prints JSON with --json', async () => {
    const pipeline = join(workDir, 'harmless.yaml');
    await writeFile(
      pipeline,
      'relabel_configs:\n  - source_labels: [__name__]\n    regex: unused_.*\n    action: drop\n',
    );
    const result = await run(['--pipeline', pipeline, '--rules', 'api-rules.yaml', '--json']);
    expect(result.status).toBe(EXIT_OK);
    const report = JSON.parse(result.out) as {
      summary: Record<string, number>;
      results: { verdict: string; origin: { location: string } }[];
    };
    expect(report.summary).toEqual({ queries: 7, safe: 7, changed: 0, broken: 0, invalid: 0 });
    expect(report.results[0]!.origin.location).toBe(
      'group "api.rules" / record "job:http_requests:rate5m"',
    );
  });

  // Six runs of the CLI one after the other: slow on a busy machine.
  it('exits 2 with the reason on bad usage or unreadable input', { timeout: 90_000 }, async () => {
    const badPipeline = join(workDir, 'bad.yaml');
    await writeFile(badPipeline, 'relabel_configs:\n  - action: dorp\n');
    const cases: [string[], string][] = [
      [['--rules', 'api-rules.yaml'], '--pipeline FILE is required'],
      [
        ['--pipeline', 'pipeline.yaml'],
        'give at least one of --rules, --dashboards, --queries, --query-log',
      ],
      [['--pipeline', 'pipeline.yaml', '--rulez', 'x'], "Unknown option '--rulez'"],
      [
        ['--pipeline', badPipeline, '--rules', 'api-rules.yaml'],
        'bad.yaml: relabel_configs[0].action: unknown relabel action "dorp"',
      ],
      [['--pipeline', 'pipeline.yaml', '--dashboards', 'missing-dir'], 'missing-dir: cannot read'],
      [
        ['--pipeline', 'pipeline.yaml', '--rules', 'queries.txt'],
        'queries.txt: expected a rule file with a `groups` list',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await run(args);
      expect(result.status, args.join(' ')).toBe(EXIT_USAGE);
      expect(result.err).toContain(`phoenix check-queries: ${message}`);
    }
  });

  it('prints its help', async () => {
    const result = await run(['--help']);
    expect(result.status).toBe(EXIT_OK);
    expect(result.out).toMatch(/^Usage: phoenix check-queries --pipeline FILE/);
  });
});
