/**
 * The dashboard shell: checks the stored token, then shows the navigation and the page
 * the URL names. A token the control plane no longer accepts sends the user back to sign in.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { createApiClients } from './api/clients.js';
import { describeError } from './api/errors.js';
import { fetchSession, HttpError, type Session, storedToken, storeToken } from './api/session.js';
import { Link } from './components/link.js';
import { Loading } from './components/status.js';
import { Dashboard, type DashboardContext } from './context.js';
import { CardinalityPage } from './pages/cardinality.js';
import { ExperimentsPage } from './pages/experiments.js';
import { OverviewPage } from './pages/overview.js';
import { PipelinesPage } from './pages/pipelines.js';
import { SignIn } from './pages/sign-in.js';
import { useRoute } from './router.js';

const PRICE_KEY = 'phoenix.pricePerThousandSeries';
const DEFAULT_PRICE_PER_THOUSAND_SERIES = 8;

type SignInState =
  | { readonly kind: 'checking' }
  | { readonly kind: 'signed-out'; readonly notice: string }
  | { readonly kind: 'signed-in'; readonly token: string; readonly session: Session };

const SECTIONS = [
  { path: '/', label: 'Overview' },
  { path: '/pipelines', label: 'Pipelines' },
  { path: '/experiments', label: 'Experiments' },
  { path: '/cardinality', label: 'Cardinality' },
] as const;

export function App() {
  const [state, setState] = useState<SignInState>({ kind: 'checking' });
  const [price, setPrice] = useState(() => {
    const stored = Number(localStorage.getItem(PRICE_KEY));
    return Number.isFinite(stored) && stored > 0 ? stored : DEFAULT_PRICE_PER_THOUSAND_SERIES;
  });

  useEffect(() => {
    const token = storedToken();
    fetchSession(token).then(
      (session) => setState({ kind: 'signed-in', token, session }),
      (error: unknown) => {
        // Without a stored token a 401 just means: sign in. Anything else is worth saying.
        const quiet = token === '' && error instanceof HttpError && error.status === 401;
        setState({ kind: 'signed-out', notice: quiet ? '' : describeError(error) });
      },
    );
  }, []);

  const signOut = useCallback(() => {
    storeToken('');
    setState({ kind: 'signed-out', notice: '' });
  }, []);

  const context = useMemo<DashboardContext | null>(() => {
    if (state.kind !== 'signed-in') return null;
    return {
      session: state.session,
      token: state.token,
      api: createApiClients(state.token),
      pricePerThousandSeries: price,
      setPricePerThousandSeries: (next: number) => {
        localStorage.setItem(PRICE_KEY, String(next));
        setPrice(next);
      },
      signOut,
    };
  }, [state, price, signOut]);

  if (state.kind === 'checking') return <Loading what="session" />;
  if (state.kind === 'signed-out' || context === null) {
    return (
      <SignIn
        notice={state.kind === 'signed-out' ? state.notice : ''}
        onSignedIn={(token, session) => {
          storeToken(token);
          setState({ kind: 'signed-in', token, session });
        }}
      />
    );
  }
  return (
    <Dashboard.Provider value={context}>
      <Shell />
    </Dashboard.Provider>
  );
}

function Shell() {
  const route = useRoute();
  return (
    <Dashboard.Consumer>
      {(context) => (
        <div className="shell">
          <header>
            <span className="brand">Phoenix</span>
            <nav aria-label="Sections">
              {SECTIONS.map((section) => (
                <Link
                  key={section.path}
                  to={section.path}
                  className={isCurrent(route.path, section.path) ? 'current' : ''}
                >
                  {section.label}
                </Link>
              ))}
            </nav>
            <span className="who" data-role={context?.session.role}>
              {context?.session.name} · {context?.session.role}
              {context?.session.authRequired ? (
                <button type="button" className="link" onClick={context.signOut}>
                  Sign out
                </button>
              ) : null}
            </span>
          </header>
          <main>
            <Page path={route.path} query={route.query} />
          </main>
        </div>
      )}
    </Dashboard.Consumer>
  );
}

function isCurrent(path: string, section: string): boolean {
  return section === '/' ? path === '/' : path === section || path.startsWith(`${section}/`);
}

function Page({ path, query }: { readonly path: string; readonly query: URLSearchParams }) {
  if (path.startsWith('/pipelines')) return <PipelinesPage path={path} />;
  if (path.startsWith('/experiments')) return <ExperimentsPage path={path} query={query} />;
  if (path.startsWith('/cardinality')) return <CardinalityPage />;
  return <OverviewPage />;
}
