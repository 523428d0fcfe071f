/**
 * Page addresses in the URL path (`/pipelines/default`), so a page can be bookmarked and
 * reloaded; the control plane answers every such path with the dashboard.
 */
import { useEffect, useState } from 'react';

const CHANGE_EVENT = 'phoenix:navigate';

export interface Route {
  readonly path: string;
  readonly query: URLSearchParams;
}

function currentRoute(): Route {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

/** Goes to `target` (a path with an optional query) without reloading the page. */
export function navigate(target: string): void {
  window.history.pushState(null, '', target);
  window.dispatchEvent(new Event(CHANGE_EVENT));
}

/** The current route; re-renders on navigation and on the browser's back and forward. */
export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener('popstate', update);
    window.addEventListener(CHANGE_EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(CHANGE_EVENT, update);
    };
  }, []);
  return route;
}

/** The path's segments after `prefix`, decoded: `/pipelines/a%20b` → `['a b']`. */
export function segmentsAfter(path: string, prefix: string): string[] {
  return path
    .slice(prefix.length)
    .split('/')
    .filter((segment) => segment !== '')
    .map(decodeURIComponent);
}
