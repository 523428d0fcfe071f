import { createServer, type Server } from 'node:http';
import { LOOPBACK_HOST } from './ports.js';

/** One sample line of the Prometheus text exposition format. */
export interface ExposedSample {
  /** Metric name, a valid Prometheus metric name. */
  name: string;
  /** Label names must match `[a-zA-Z_][a-zA-Z0-9_]*`; values are escaped here. */
  labels: Record<string, string>;
  value: number;
}

/** Text exposition (format 0.0.4) of `samples`, grouped by metric name, without types. */
export function renderExposition(samples: readonly ExposedSample[]): string {
  const sorted = [...samples].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines = sorted.map((sample) => {
    const labels = Object.entries(sample.labels)
      .map(([name, value]) => `${name}="${escapeLabelValue(value)}"`)
      .join(',');
    const selector = labels === '' ? sample.name : `${sample.name}{${labels}}`;
    return `${selector} ${formatValue(sample.value)}`;
  });
  return `${lines.join('\n')}\n`;
}

function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** A node:http server on the loopback that Prometheus scrapes. */
export interface ScrapeTarget {
  /** `127.0.0.1:PORT`, as written in `static_configs.targets`. */
  readonly address: string;
  /** How many scrapes it has answered, per path. */
  scrapeCount(path: string): number;
  close(): Promise<void>;
}

/**
 * Serves the exposition text that `bodyForPath` returns for each GET path (404 when it
 * returns undefined). Called on every scrape, so a test can change values between scrapes.
 */
export async function startScrapeTarget(
  bodyForPath: (path: string) => string | undefined,
): Promise<ScrapeTarget> {
  const counts = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://target').pathname;
    const body = request.method === 'GET' ? bodyForPath(path) : undefined;
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    counts.set(path, (counts.get(path) ?? 0) + 1);
    response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    response.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('scrape target has no port');
  return {
    address: `${LOOPBACK_HOST}:${address.port}`,
    scrapeCount: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
