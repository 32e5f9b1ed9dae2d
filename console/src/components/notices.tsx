/** Errors, successes, spinners and empty states: the same look on every page. */
import type { ReactNode } from 'react';
import { ApiError, NetworkError } from '../api/client';

/**
 * Shows what went wrong in words: the API's own message (written for people),
 * or that the gateway could not be reached, with a Retry button.
 */
export function ErrorNotice({ error, onRetry, hint }: { error: unknown; onRetry?: () => void; hint?: ReactNode }) {
  if (!error) return null;
  const network = error instanceof NetworkError;
  const title = network ? 'Network error' : error instanceof ApiError ? errorTitle(error) : 'Something went wrong';
  const message = error instanceof Error && (network || error instanceof ApiError) ? error.message : 'The console hit an unexpected problem. Try again.';
  return (
    <div className="notice notice-error" role="alert">
      <div className="notice-text">
        <strong>{title}.</strong> {message}
        {hint && <div className="notice-hint">{hint}</div>}
      </div>
      {onRetry && (network || (error instanceof ApiError && error.status >= 500) || (error instanceof ApiError && error.status === 429)) && (
        <button type="button" className="button button-secondary" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

function errorTitle(e: ApiError): string {
  if (e.status === 401) return 'Not signed in';
  if (e.status === 403) return 'Not allowed';
  if (e.status === 404) return 'Not found';
  if (e.status === 409) return 'Conflict';
  if (e.status === 429) return 'Too many requests';
  if (e.status >= 500) return 'The gateway had a problem';
  return 'Please check the form';
}

export function SuccessNotice({ children }: { children: ReactNode }) {
  return (
    <div className="notice notice-success" role="status">
      <svg viewBox="0 0 20 20" width="18" height="18" aria-hidden="true" className="notice-icon">
        <path d="M5 10.5l3.2 3.2L15 7" stroke="currentColor" strokeWidth="2" fill="none" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <div className="notice-text">{children}</div>
    </div>
  );
}

export function InfoNotice({ children }: { children: ReactNode }) {
  return (
    <div className="notice notice-info">
      <div className="notice-text">{children}</div>
    </div>
  );
}

export function Spinner({ label }: { label?: string }) {
  return <span className="spinner" role={label ? 'status' : undefined} aria-label={label} aria-hidden={label ? undefined : true} />;
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      <Spinner /> Loading {what}…
    </p>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty-state">
      <h3>{title}</h3>
      {children}
    </div>
  );
}
