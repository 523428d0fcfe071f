/** Sign in with a control-plane bearer token; the token's role decides what the UI offers. */
import { type FormEvent, useState } from 'react';
import { describeError } from '../api/errors.js';
import { fetchSession, type Session } from '../api/session.js';

export function SignIn({
  onSignedIn,
  notice,
}: {
  readonly onSignedIn: (token: string, session: Session) => void;
  readonly notice: string;
}) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const trimmed = token.trim();
      onSignedIn(trimmed, await fetchSession(trimmed));
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <form onSubmit={submit} aria-label="Sign in">
        <h1>Phoenix</h1>
        <p>Sign in with a control-plane token (from the control plane's token file).</p>
        {notice === '' ? null : <p className="state empty">{notice}</p>}
        <label>
          Token
          <input
            name="token"
            type="password"
            autoComplete="current-password"
            value={token}
            onChange={(event) => setToken(event.target.value)}
          />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error === '' ? null : (
          <p className="state error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
