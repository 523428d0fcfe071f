/**
 * Reads `/api/ui/overview/stream`, the control plane's server-sent events of live rates.
 * It uses fetch rather than EventSource so the token goes in the Authorization header,
 * never in a URL.
 */
import { authHeaders, HttpError } from './session.js';

/** One proxy in an overview point (see control-plane/http/overview-rates.ts). */
export interface ProxyOverview {
  readonly proxyId: string;
  readonly version: string;
  readonly pipeline: string;
  readonly appliedVersion: number;
  readonly healthy: boolean;
  readonly connected: boolean;
  readonly lastSeenMs: number;
  readonly listen: string;
  readonly samplesInPerSecond: number;
  readonly samplesOutPerSecond: number;
  readonly applyError: string;
}

/** One `overview` event. */
export interface OverviewPoint {
  readonly atMs: number;
  readonly samplesInPerSecond: number;
  readonly samplesOutPerSecond: number;
  readonly seriesInPerSecond: number;
  readonly seriesOutPerSecond: number;
  readonly activeSeries: { readonly input: number; readonly output: number } | null;
  /** A proxy's rate is not known yet (it reported once); the point is not charted. */
  readonly measuring: boolean;
  readonly proxies: readonly ProxyOverview[];
}

/**
 * Calls `onPoint` for every event until `signal` aborts; reconnects after a dropped
 * stream. A refusal (401/403) is reported through `onError` and ends the stream.
 */
export async function followOverview(
  token: string,
  signal: AbortSignal,
  onPoint: (point: OverviewPoint) => void,
  onError: (error: unknown) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const response = await fetch('/api/ui/overview/stream', {
        headers: { ...authHeaders(token), accept: 'text/event-stream' },
        signal,
      });
      if (!response.ok) {
        const error = await HttpError.from(response);
        onError(error);
        if (error.status === 401 || error.status === 403) return;
      } else if (response.body !== null) {
        await readEvents(response.body, (event, data) => {
          if (event === 'overview') onPoint(JSON.parse(data) as OverviewPoint);
        });
      }
    } catch (error) {
      if (signal.aborted) return;
      onError(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

/** Splits a text/event-stream body into (event, data) pairs. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: string, data: string) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += decoder.decode(value, { stream: true });
    for (;;) {
      const end = buffered.indexOf('\n\n');
      if (end < 0) break;
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  }
}
