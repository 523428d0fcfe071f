/**
 * Who the dashboard is talking as. The browser holds a control-plane bearer token; this
 * checks it with the same token set as the Connect API, so the UI can hide what the role
 * may not do (the API refuses it anyway).
 */
import { LOCAL_PRINCIPAL } from '../auth/auth-interceptor.js';
import { type Principal, type Role, roleAllows, type TokenSet } from '../auth/tokens.js';

/** What `GET /api/ui/session` answers. */
export interface UiSession {
  readonly name: string;
  readonly role: Role;
  /** False when the control plane runs without a token file (every caller is a local admin). */
  readonly authRequired: boolean;
}

/** Why a request was refused, with the HTTP status the UI shows in words. */
export interface UiAuthFailure {
  readonly status: 401 | 403;
  readonly message: string;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * The caller of a dashboard request from its `Authorization` header, or why it is refused:
 * 401 for a missing or unknown token, 403 when its role does not cover `needed`.
 */
export function authenticateUiRequest(
  tokens: TokenSet | undefined,
  authorization: string | undefined,
  needed: Role,
): { readonly principal: Principal } | { readonly failure: UiAuthFailure } {
  if (tokens === undefined) return { principal: LOCAL_PRINCIPAL };
  if (authorization === undefined || authorization === '') {
    return {
      failure: { status: 401, message: 'missing bearer token (Authorization: Bearer …)' },
    };
  }
  const token = BEARER.exec(authorization)?.[1];
  const principal = token === undefined ? undefined : tokens.authenticate(token);
  if (principal === undefined) {
    return { failure: { status: 401, message: 'invalid bearer token' } };
  }
  if (!roleAllows(principal.role, needed)) {
    return {
      failure: {
        status: 403,
        message: `token ${JSON.stringify(principal.name)} (role ${principal.role}) needs role ${needed} here`,
      },
    };
  }
  return { principal };
}
