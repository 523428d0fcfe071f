/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a
 * real `bin/phoenix up` with tokens, while a sender pushes remote write through its proxy.
 * Every page is also saved as a screenshot at desktop (1280×800) and phone (375×812) size
 * in dist/screenshots/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisService, CardinalityView } from '../../proto/gen/phoenix/v1/analysis_pb.js';
import { ExperimentMode, ExperimentService } from '../../proto/gen/phoenix/v1/experiment_pb.js';
import { PipelineService } from '../../proto/gen/phoenix/v1/pipeline_pb.js';
import { assertRunning, type ManagedProcess, startProcess } from '../helpers/managed-process.js';
import { phoenixBinary, REPO_DIR } from '../helpers/peers.js';
import { PollAbortError, pollUntil } from '../helpers/poll.js';
import { launchBrowser, type RunningBrowser } from './browser.js';
import {
  startTrafficSender,
  TRAFFIC_METRIC,
  TRAFFIC_PODS,
  TRAFFIC_SERIES,
  type TrafficSender,
} from './traffic-sender.js';

const ADMIN_TOKEN = 'admin-token-for-the-dashboard-test';
const VIEWER_TOKEN = 'viewer-token-for-the-dashboard-test';
const PROXY_TOKEN = 'proxy-token-for-the-dashboard-test';
/** Each test waits on live traffic and a browser; two cores may be busy with other work. */
const TEST_TIMEOUT_MS = 120_000;
const SCREENSHOT_DIR = join(REPO_DIR, 'dist', 'screenshots');
const SIZES = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 375, height: 812 },
] as const;

let workDir: string;
let up: ManagedProcess;
let baseUrl: string;
let sender: TrafficSender;
let browser: RunningBrowser;
let adminPage: Page;
let writeUrl: string;

function clients(token: string) {
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: '1.1',
    interceptors: [
      (next) => (request) => {
        request.header.set('authorization', `Bearer ${token}`);
        return next(request);
      },
    ],
  });
  return {
    pipelines: createClient(PipelineService, transport),
    experiments: createClient(ExperimentService, transport),
    analysis: createClient(AnalysisService, transport),
  };
}

/** `1.2k/s` → 1200. */
function parseRate(text: string): number {
  const match = /^([0-9.]+)(k|M)?\/s$/.exec(text);
  if (match === null) return 0;
  return Number(match[1]) * (match[2] === 'k' ? 1e3 : match[2] === 'M' ? 1e6 : 1);
}

/** Saves the page at both sizes, then goes back to desktop size. */
async function screenshot(page: Page, name: string): Promise<void> {
  for (const size of SIZES) {
    await page.setViewportSize({ width: size.width, height: size.height });
    await page.waitForTimeout(300);
    await page.screenshot({
      path: join(SCREENSHOT_DIR, `${name}-${size.name}.png`),
      fullPage: true,
    });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Sections' }).waitFor();
}

beforeAll(async () => {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  workDir = await mkdtemp(join(tmpdir(), 'phoenix-dashboard-'));
  const tokenFile = join(workDir, 'tokens.yaml');
  const proxyTokenFile = join(workDir, 'proxy.token');
  await writeFile(
    tokenFile,
    [
      `- { name: ops, token: ${ADMIN_TOKEN}, role: admin }`,
      `- { name: watcher, token: ${VIEWER_TOKEN}, role: viewer }`,
      `- { name: edge, token: ${PROXY_TOKEN}, role: proxy }`,
      '',
    ].join('\n'),
  );
  await writeFile(proxyTokenFile, `${PROXY_TOKEN}\n`);
  up = startProcess(
    'phoenix up',
    phoenixBinary(),
    [
      'up',
      '--listen',
      '127.0.0.1:0',
      '--control-plane-listen',
      '127.0.0.1:0',
      '--sink-listen',
      '127.0.0.1:0',
      '--workers',
      '1',
      '--data-dir',
      join(workDir, 'data'),
      '--token-file',
      tokenFile,
      '--proxy-token-file',
      proxyTokenFile,
    ],
    { cwd: REPO_DIR },
  );
  writeUrl = await pollUntil(
    async () => {
      assertRunning(up);
      const write = /remote write to\s+(\S+)/.exec(up.log())?.[1];
      const dashboard = /dashboard\s+(http\S+?)\/?\s/.exec(up.log())?.[1];
      if (write === undefined || dashboard === undefined) return undefined;
      baseUrl = dashboard;
      return write;
    },
    { description: 'phoenix up banner', timeoutMs: 30_000, intervalMs: 50 },
  );
  sender = startTrafficSender(writeUrl, 500);
  browser = await launchBrowser();
  adminPage = await browser.context.newPage();
});

afterAll(async () => {
  await sender?.stop();
  await browser?.close();
  await up?.stop();
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

describe('dashboard', () => {
  it(
    'refuses a wrong token and a proxy token in words, then signs an admin in',
    async () => {
      await adminPage.goto(`${baseUrl}/`);
      await screenshot(adminPage, 'sign-in');
      await adminPage.getByLabel('Token').fill('not-a-token-anyone-has');
      await adminPage.getByRole('button', { name: 'Sign in' }).click();
      await expect
        .poll(() => adminPage.getByRole('alert').textContent())
        .toContain('Not signed in (401): invalid bearer token');
      await adminPage.getByLabel('Token').fill(PROXY_TOKEN);
      await adminPage.getByRole('button', { name: 'Sign in' }).click();
      await expect
        .poll(() => adminPage.getByRole('alert').textContent())
        .toMatch(/Not allowed \(403\): token "edge" \(role proxy\) needs role viewer/);
      await signIn(adminPage, ADMIN_TOKEN);
      expect(await adminPage.locator('.who').textContent()).toContain('ops · admin');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'shows live, non-zero rates on the overview that follow the traffic without a reload',
    async () => {
      await adminPage.goto(`${baseUrl}/`);
      const samplesIn = adminPage.locator('[data-stat="samples-in"] .value');
      const chart = adminPage.locator('[data-chart="Samples per second"]');
      const rate = async () => parseRate((await samplesIn.textContent({ timeout: 5_000 })) ?? '');
      const steady = await pollUntil(async () => ((await rate()) > 0 ? rate() : undefined), {
        description: 'a non-zero samples-in rate',
        timeoutMs: 20_000,
      });
      const firstPoints = Number(await chart.getAttribute('data-points'));
      const navigations: string[] = [];
      adminPage.on('framenavigated', (frame) => navigations.push(frame.url()));
      // A second sender, twice as fast, must show up in the live numbers.
      const burst = startTrafficSender(writeUrl, 250, 'shop-burst');
      try {
        await pollUntil(async () => ((await rate()) > steady * 1.5 ? true : undefined), {
          description: `the samples-in rate rising above ${steady}/s`,
          timeoutMs: 15_000,
          intervalMs: 500,
        });
      } finally {
        await burst.stop();
      }
      expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(firstPoints);
      expect(navigations).toEqual([]);
      expect(await adminPage.locator('[data-stat="samples-out"] .value').textContent()).toMatch(
        /^[1-9]/,
      );
      const proxyRow = adminPage.locator('table.proxies tbody tr').first();
      expect(await proxyRow.textContent()).toMatch(/default.*v1.*healthy.*connected/);
      await screenshot(adminPage, 'overview');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'shows a pipeline error at its line, applies a fix, diffs history and previews live traffic',
    async () => {
      await adminPage.goto(`${baseUrl}/pipelines`);
      await adminPage.getByRole('link', { name: 'default' }).waitFor();
      await screenshot(adminPage, 'pipelines');
      await adminPage.getByRole('link', { name: 'default' }).click();
      const editor = adminPage.getByLabel('Pipeline YAML');
      await editor.fill(
        [
          'relabel_configs:',
          '  - source_labels: [__name__]',
          '    regex: go_gc_duration_seconds.*',
          '    action: drop',
          '  - source_labels: [path]',
          '    regex: "a(b"',
          '    action: drop',
          '',
        ].join('\n'),
      );
      const issue = adminPage.locator('[data-issue-line="6"]');
      await issue.waitFor({ timeout: 10_000 });
      expect(await issue.textContent()).toMatch(
        /^Line 6, column \d+: relabel_configs\[1\]\.regex: invalid regex/,
      );
      expect(await adminPage.locator('.line-number.has-issue').getAttribute('data-line')).toBe('6');
      await screenshot(adminPage, 'pipeline-error');

      await editor.fill(
        [
          'relabel_configs:',
          '  - source_labels: [__name__]',
          '    regex: go_gc_duration_seconds.*',
          '    action: drop',
          '',
        ].join('\n'),
      );
      await expect
        .poll(() => adminPage.locator('[data-validity]').textContent())
        .toBe('Valid: 1 relabel rule.');
      expect(await adminPage.locator('.line-number.has-issue').count()).toBe(0);
      await adminPage.getByPlaceholder('Why this change (optional)').fill('drop Go GC summaries');
      await adminPage.getByRole('button', { name: 'Apply' }).click();
      await expect
        .poll(() => adminPage.getByRole('status').textContent())
        .toBe('Applied as version 2.');
      const stored = await clients(ADMIN_TOKEN).pipelines.getPipeline({ name: 'default' });
      expect(stored.pipeline?.version).toBe(2);
      expect(stored.pipeline?.author).toBe('ops');

      await adminPage.getByRole('button', { name: 'Diff with v1' }).click();
      const diff = adminPage.getByRole('region', { name: 'Diff v1 → v2' });
      await diff.waitFor();
      expect(await diff.locator('.added').allTextContents()).toContain(
        '+    regex: go_gc_duration_seconds.*\n',
      );

      await adminPage.getByRole('button', { name: 'Preview on live traffic' }).click();
      const preview = adminPage.getByRole('region', { name: 'Preview' });
      await preview.waitFor({ timeout: 15_000 });
      expect(await preview.locator('[data-preview="series-in"]').textContent()).toBe(
        String(TRAFFIC_SERIES),
      );
      expect(await preview.getByRole('list', { name: 'Series before' }).locator('li').count()).toBe(
        TRAFFIC_SERIES,
      );
      await screenshot(adminPage, 'pipeline-detail');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'creates an experiment from a label on the cardinality page, watches it and promotes it',
    async () => {
      await adminPage.goto(`${baseUrl}/cardinality`);
      const podRow = adminPage.locator('table.labels tr[data-label="pod"]');
      await podRow.waitFor({ timeout: 20_000 });
      // The page shows what AnalysisService estimates from the proxies' sketches, which is
      // close to (not always exactly) the number of pods sent.
      const shown = Number(await podRow.locator('td').nth(1).textContent());
      const estimated = await clients(ADMIN_TOKEN).analysis.topLabels({
        metric: TRAFFIC_METRIC,
        limit: 20,
        view: CardinalityView.INPUT,
      });
      const podEstimate = estimated.labels.find((label) => label.name === 'pod');
      expect(shown).toBe(Number(podEstimate?.distinctValues));
      expect(Math.abs(shown - TRAFFIC_PODS)).toBeLessThanOrEqual(TRAFFIC_PODS * 0.1);
      await screenshot(adminPage, 'cardinality');
      await podRow.getByRole('button', { name: 'Try dropping pod' }).click();

      const candidate = adminPage.getByLabel('Candidate YAML');
      await expect.poll(() => candidate.inputValue()).toContain('action: labeldrop');
      expect(await candidate.inputValue()).toMatch(/- action: labeldrop\n\s+regex: pod\n?$/);
      await adminPage.getByLabel('Minimum duration (s)').fill('0');
      await adminPage
        .getByLabel('Queries to keep safe (PromQL, one per line)')
        .fill(
          'sum by (path) (rate(http_requests_total[5m]))\nsum by (pod) (rate(http_requests_total[5m]))',
        );
      await screenshot(adminPage, 'experiment-new');
      await adminPage.getByRole('button', { name: 'Create and start' }).click();

      // The form either opens the new experiment or says in words why it could not.
      await pollUntil(
        async () => {
          if (/\/experiments\/drop-pod-/.test(adminPage.url())) return true;
          const alert = adminPage.getByRole('form', { name: 'New experiment' }).getByRole('alert');
          if ((await alert.count()) > 0) {
            throw new PollAbortError(
              `creating the experiment failed: ${await alert.textContent()}`,
            );
          }
          return undefined;
        },
        { description: 'the new experiment page', timeoutMs: 15_000 },
      );
      const name = decodeURIComponent(new URL(adminPage.url()).pathname.split('/').at(-1) ?? '');
      await expect
        .poll(() => adminPage.locator('[data-phase]').textContent(), { timeout: 15_000 })
        .toBe('running');
      // Results arrive as WatchExperiment events and feed the chart of both arms.
      const outputChart = adminPage.locator('[data-chart="Output series per arm"]');
      await expect
        .poll(async () => Number(await outputChart.getAttribute('data-points')), {
          timeout: 60_000,
          interval: 1_000,
        })
        .toBeGreaterThanOrEqual(2);
      const arms = adminPage.getByRole('table', { name: 'Arms' });
      const seriesOut = arms.locator('tr', { hasText: 'Series out' }).locator('td');
      expect(await seriesOut.nth(0).textContent()).toMatch(/^[1-9]/);
      const verdicts = await adminPage
        .locator('table.queries tbody tr')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-verdict')));
      expect(verdicts).toEqual(['safe', 'broken']);
      await screenshot(adminPage, 'experiment-running');

      await adminPage.getByRole('button', { name: 'Promote' }).click();
      const dialog = adminPage.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain('every proxy following it switches');
      await dialog.getByRole('button', { name: 'Promote' }).click();
      await expect
        .poll(() => adminPage.locator('[data-phase]').textContent(), { timeout: 15_000 })
        .toBe('promoted');
      await expect
        .poll(() => adminPage.getByRole('list', { name: 'Event log' }).textContent())
        .toMatch(/promoted by ops/);
      const promoted = await clients(ADMIN_TOKEN).pipelines.getPipeline({ name: 'default' });
      expect(promoted.pipeline?.version).toBe(3);
      expect(promoted.pipeline?.configYaml).toMatch(/action: labeldrop\n\s+regex: pod/);
      const experiment = await clients(ADMIN_TOKEN).experiments.getExperiment({ name });
      expect(experiment.experiment?.promotedVersion).toBe(3);
      await screenshot(adminPage, 'experiment-promoted');
      await adminPage.goto(`${baseUrl}/experiments`);
      await adminPage.getByRole('link', { name }).waitFor();
      await screenshot(adminPage, 'experiments');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'gives a viewer no write buttons, and the API refuses the viewer a promotion',
    async () => {
      const admin = clients(ADMIN_TOKEN);
      const name = 'viewer-cannot-promote';
      await admin.experiments.createExperiment({
        spec: {
          name,
          pipeline: 'default',
          candidateConfigYaml: 'relabel_configs:\n  - action: labeldrop\n    regex: pod|code\n',
          mode: ExperimentMode.SHADOW,
          durationSeconds: 600,
        },
        start: false,
      });
      const viewerPage = await browser.context.newPage();
      try {
        await signIn(viewerPage, VIEWER_TOKEN);
        expect(await viewerPage.locator('.who').textContent()).toContain('watcher · viewer');
        await viewerPage.goto(`${baseUrl}/experiments/${name}`);
        await expect
          .poll(() => viewerPage.locator('[data-phase]').textContent(), { timeout: 15_000 })
          .toBe('draft');
        expect(await viewerPage.getByRole('button', { name: 'Start' }).count()).toBe(0);

        // The admin starts the draft from its page; the viewer's page follows the event.
        await adminPage.goto(`${baseUrl}/experiments/${name}`);
        await adminPage.getByRole('button', { name: 'Start' }).click();
        await expect
          .poll(() => adminPage.locator('[data-phase]').textContent(), { timeout: 15_000 })
          .toBe('running');
        await expect
          .poll(() => viewerPage.locator('[data-phase]').textContent(), { timeout: 15_000 })
          .toBe('running');
        expect(await viewerPage.getByRole('button', { name: 'Promote' }).count()).toBe(0);
        expect(await viewerPage.getByRole('button', { name: 'Roll back' }).count()).toBe(0);
        // A viewer watches the same live measurements.
        await expect
          .poll(
            async () =>
              Number(
                await viewerPage
                  .locator('[data-chart="Output series per arm"]')
                  .getAttribute('data-points'),
              ),
            { timeout: 30_000, interval: 1_000 },
          )
          .toBeGreaterThanOrEqual(1);
        await screenshot(viewerPage, 'experiment-viewer');

        await viewerPage.goto(`${baseUrl}/pipelines/default`);
        await viewerPage.getByLabel('Pipeline YAML').waitFor();
        expect(await viewerPage.getByRole('button', { name: 'Apply' }).count()).toBe(0);
        expect(await viewerPage.getByRole('button', { name: /Roll back to/ }).count()).toBe(0);
        expect(
          await viewerPage.getByLabel('Pipeline YAML').getAttribute('readonly'),
        ).not.toBeNull();
        await viewerPage.goto(`${baseUrl}/cardinality`);
        await viewerPage.locator('table.labels tr[data-label="path"]').waitFor({ timeout: 20_000 });
        expect(await viewerPage.getByRole('button', { name: /Try dropping/ }).count()).toBe(0);
      } finally {
        await viewerPage.close();
      }

      const refused = await clients(VIEWER_TOKEN)
        .experiments.promoteExperiment({ name })
        .then(
          () => undefined,
          (error: unknown) => ConnectError.from(error),
        );
      expect(refused?.code).toBe(Code.PermissionDenied);
      const after = await admin.experiments.getExperiment({ name });
      expect(after.experiment?.promotedVersion).toBe(0);
      await admin.experiments.stopExperiment({ name, reason: 'test done' });
      expect(sender.lastFailure()).toBeUndefined();
      expect(sender.acknowledged()).toBeGreaterThan(10);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rolls the promoted pipeline back to an earlier version after a confirmation',
    async () => {
      await adminPage.goto(`${baseUrl}/pipelines/default`);
      await adminPage.getByRole('button', { name: 'Roll back to v2' }).click();
      const dialog = adminPage.getByRole('dialog');
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain("Version 2's config becomes a new version");
      await dialog.getByRole('button', { name: 'Roll back to v2' }).click();
      await expect
        .poll(() => adminPage.getByRole('status').textContent())
        .toBe('Rolled back: version 4 has the config of version 2.');
      const pipelines = clients(ADMIN_TOKEN).pipelines;
      const [latest, second] = await Promise.all([
        pipelines.getPipeline({ name: 'default' }),
        pipelines.getPipeline({ name: 'default', version: 2 }),
      ]);
      expect(latest.pipeline?.version).toBe(4);
      expect(latest.pipeline?.configYaml).toBe(second.pipeline?.configYaml);
      // React may paint the table a frame after the status; poll rather than read once.
      await expect.poll(() => adminPage.locator('table.history tbody tr').count()).toBe(4);
    },
    TEST_TIMEOUT_MS,
  );
});
