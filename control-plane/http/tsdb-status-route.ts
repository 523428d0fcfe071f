/**
 * `GET /api/v1/status/tsdb` on the control plane: Prometheus' TSDB status shape over the
 * cardinality every proxy reported (docs/cardinality.md). Role viewer, like the Connect API.
 */
import type { Hono } from 'hono';
import { TSDB_STATUS_PATH, tsdbStatusAnswer } from '../../proxy/cardinality/tsdb-status.js';
import type { TokenSet } from '../auth/tokens.js';
import type { CardinalityReports } from '../services/cardinality-reports.js';
import { authenticateUiRequest } from './ui-session.js';

export function mountTsdbStatusRoute(
  app: Hono,
  reports: CardinalityReports,
  tokens: TokenSet | undefined,
): void {
  app.get(TSDB_STATUS_PATH, (c) => {
    const checked = authenticateUiRequest(tokens, c.req.header('authorization'), 'viewer');
    if ('failure' in checked) {
      return c.json(
        { status: 'error', errorType: 'unauthorized', error: checked.failure.message },
        checked.failure.status,
      );
    }
    const queryString = new URL(c.req.url).search.slice(1);
    const answer = tsdbStatusAnswer(queryString, (view) => reports.summary(view));
    return c.body(answer.body, answer.status as 200 | 400, {
      'content-type': 'application/json',
    });
  });
}
