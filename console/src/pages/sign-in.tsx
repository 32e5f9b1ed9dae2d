/** Sign in with a team token or the admin token. The token never goes into a URL. */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { ErrorNotice, InfoNotice, Spinner } from '../components/notices';
import { signIn, type Session } from '../session';

export function SignInPage({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string | undefined }) {
  const id = useId();
  const helpId = useId();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    const t = token.trim();
    if (!t) {
      setError(new ApiError(400, 'EMPTY', 'Enter your API token.'));
      input.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(t));
    } catch (err) {
      setError(err);
      setBusy(false);
      input.current?.focus();
    }
  };

  const unauthenticated = error instanceof ApiError && error.status === 401;
  return (
    <main className="sign-in">
      <div className="card narrow">
        <div className="brand brand-large">
          <svg viewBox="0 0 32 32" width="36" height="36" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="#4f46e5" />
            <path d="M9 11h14M9 16h9M9 21h14" stroke="#fff" strokeWidth="2.5" strokeLinecap="round" />
            <circle cx="22" cy="16" r="2.2" fill="#a5f3fc" />
          </svg>
          <span>Switchboard</span>
        </div>
        <h1>Sign in</h1>
        {notice && <InfoNotice>{notice}</InfoNotice>}
        <form onSubmit={(e) => void submit(e)} noValidate>
          <div className="field">
            <label htmlFor={id}>API token</label>
            <input
              ref={input}
              id={id}
              className="input mono"
              type="password"
              autoComplete="off"
              spellCheck={false}
              value={token}
              onChange={(e) => setToken(e.target.value)}
              aria-describedby={helpId}
              aria-invalid={unauthenticated || undefined}
            />
            <p className="field-help" id={helpId}>
              A team token, or the admin token that <code>npm start</code> printed (or <code>SWITCHBOARD_ADMIN_TOKEN</code>). It is kept in this tab only.
            </p>
          </div>
          {error instanceof ApiError && error.code === 'EMPTY' ? (
            <div className="notice notice-error" role="alert">
              <div className="notice-text">{error.message}</div>
            </div>
          ) : unauthenticated ? (
            <div className="notice notice-error" role="alert">
              <div className="notice-text">
                <strong>Sign-in failed.</strong> The gateway did not accept this token: {error.message} Check that you copied all of it.
              </div>
            </div>
          ) : (
            <ErrorNotice error={error} onRetry={() => void submit()} />
          )}
          <button type="submit" className="button button-primary button-block" disabled={busy}>
            {busy && <Spinner />} {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
