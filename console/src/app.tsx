/**
 * The console: sign-in, then the shell (left navigation, team switcher) around
 * one page per route.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiClient, ApiError } from './api/client';
import type { Team } from './api/types';
import { ErrorNotice, Loading } from './components/notices';
import { AppContext, type AppState } from './context';
import { navigate, usePath } from './router';
import { forget, signIn, storedTeamId, storedToken, storeTeamId, type Session } from './session';
import { Shell } from './shell';
import { SignInPage } from './pages/sign-in';

type Boot = { state: 'checking' } | { state: 'signed-out'; notice?: string } | { state: 'failed'; error: unknown } | { state: 'in'; session: Session };

export function App() {
  const [boot, setBoot] = useState<Boot>(() => (storedToken() ? { state: 'checking' } : { state: 'signed-out' }));
  const [teamId, setTeamId] = useState<string | null>(() => storedTeamId());
  const path = usePath();

  // A token from this tab's session storage (a reload): check it again.
  const restore = useCallback(async () => {
    const token = storedToken();
    if (!token) return setBoot({ state: 'signed-out' });
    setBoot({ state: 'checking' });
    try {
      setBoot({ state: 'in', session: await signIn(token) });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        forget();
        setBoot({ state: 'signed-out', notice: 'Your token is no longer accepted (revoked or expired). Sign in again.' });
      } else setBoot({ state: 'failed', error: e });
    }
  }, []);
  useEffect(() => {
    if (boot.state === 'checking') void restore();
  }, []);

  const signOut = useCallback((notice?: string) => {
    forget();
    setTeamId(null);
    setBoot({ state: 'signed-out', ...(notice ? { notice } : {}) });
  }, []);

  const session = boot.state === 'in' ? boot.session : null;
  const token = session?.token ?? null;
  // One client per token: reading the teams again must not make every page reload.
  const client = useMemo(
    () => (token ? new ApiClient(token, () => signOut('The gateway no longer accepts your token (revoked or expired). Sign in again.')) : null),
    [token, signOut],
  );

  const setTeams = useCallback((teams: Team[]) => {
    setBoot((b) => (b.state === 'in' ? { state: 'in', session: { ...b.session, teams } } : b));
  }, []);

  const state = useMemo<AppState | null>(() => {
    if (!session || !client) return null;
    const team = session.teams.find((t) => t.id === teamId) ?? session.teams[0] ?? null;
    return {
      client,
      admin: session.admin,
      teams: session.teams,
      team,
      selectTeam: (id) => {
        storeTeamId(id);
        setTeamId(id);
      },
      reloadTeams: async () => {
        const { teams } = await client.listTeams();
        setTeams(teams);
      },
      signOut: () => signOut(),
    };
  }, [session, client, teamId, setTeams, signOut]);

  useEffect(() => {
    if (state && (path === '/' || path === '/sign-in')) navigate(state.admin && state.teams.length === 0 ? '/teams' : '/numbers', { replace: true });
  }, [state, path]);

  if (boot.state === 'checking') {
    return (
      <main className="centered">
        <Loading what="your session" />
      </main>
    );
  }
  if (boot.state === 'failed') {
    return (
      <main className="centered">
        <div className="card narrow">
          <h1>Switchboard</h1>
          <ErrorNotice error={boot.error} onRetry={() => void restore()} />
          <button type="button" className="button button-link" onClick={() => signOut()}>
            Sign in with another token
          </button>
        </div>
      </main>
    );
  }
  if (!state) {
    return (
      <SignInPage
        notice={boot.state === 'signed-out' ? boot.notice : undefined}
        onSignedIn={(s) => {
          const keep = storedTeamId();
          if (!keep || !s.teams.some((t) => t.id === keep)) setTeamId(s.teams[0]?.id ?? null);
          setBoot({ state: 'in', session: s });
        }}
      />
    );
  }
  return (
    <AppContext.Provider value={state}>
      <Shell path={path} />
    </AppContext.Provider>
  );
}
