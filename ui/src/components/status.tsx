/** The small states every page has: loading, empty, and an error said in words. */
import type { ReactNode } from 'react';
import { describeError } from '../api/errors.js';

export function Loading({ what }: { readonly what: string }) {
  return (
    <p className="state loading" aria-busy="true">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { readonly children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

export function ErrorNote({ error }: { readonly error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p className="state error" role="alert">
      {describeError(error)}
    </p>
  );
}
