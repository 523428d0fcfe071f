/**
 * The signed-in token. It lives in sessionStorage: it survives a reload of the tab but
 * not closing it, and other tabs never see it.
 */
const TOKEN_KEY = 'phoenix.token';

export type Role = 'viewer' | 'admin' | 'proxy';

/** What `GET /api/ui/session` answers for a token. */
export interface Session {
  readonly name: string;
  readonly role: Role;
  /** False when the control plane runs without tokens (local use). */
  readonly authRequired: boolean;
}

export function storedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function storeToken(token: string): void {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** `Authorization` header for a token; none without one. */
export function authHeaders(token: string): Record<string, string> {
  return token === '' ? {} : { authorization: `Bearer ${token}` };
}

/** Asks the control plane who the token belongs to; throws an {@link HttpError} if refused. */
export async function fetchSession(token: string): Promise<Session> {
  const response = await fetch('/api/ui/session', { headers: authHeaders(token) });
  if (!response.ok) throw await HttpError.from(response);
  return (await response.json()) as Session;
}

/** Whether a role may change pipelines and decide experiments. */
export function canWrite(session: Session): boolean {
  return session.role === 'admin';
}

/** A refused plain-HTTP call, with the server's reason when it gave one. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }

  static async from(response: Response): Promise<HttpError> {
    let reason = '';
    try {
      const text = await response.text();
      try {
        const body = JSON.parse(text) as { error?: unknown };
        reason = typeof body.error === 'string' ? body.error : text;
      } catch {
        reason = text;
      }
    } catch {
      reason = '';
    }
    return new HttpError(response.status, reason.trim() || response.statusText);
  }
}
