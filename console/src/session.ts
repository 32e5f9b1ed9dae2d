/**
 * Who is signed in. The token lives in sessionStorage only (gone when the tab
 * closes, never in a URL or a cookie) and is sent as the bearer header.
 */
import { ApiClient, ApiError } from './api/client';
import type { Team } from './api/types';

const TOKEN_KEY = 'switchboard.token';
const TEAM_KEY = 'switchboard.team';

export interface Session {
  token: string;
  /** The admin token: every team, a team switcher and admin actions. */
  admin: boolean;
  teams: Team[];
}

export const storedToken = (): string | null => safe(() => sessionStorage.getItem(TOKEN_KEY));
export const storedTeamId = (): string | null => safe(() => sessionStorage.getItem(TEAM_KEY));
export const storeTeamId = (id: string): void => void safe(() => sessionStorage.setItem(TEAM_KEY, id));

export function forget(): void {
  safe(() => {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TEAM_KEY);
  });
}

/**
 * Checks the token against the API and learns what it may do. The API has no
 * "who am I" endpoint, so the kind of token is inferred: a team token sees
 * exactly its own team, so any other count means the admin; with one team, an
 * admin-only action on a number that does not exist tells them apart without
 * changing anything (403 FORBIDDEN for a team token, 404 for the admin).
 */
export async function signIn(token: string): Promise<Session> {
  const client = new ApiClient(token);
  const { teams } = await client.listTeams();
  let admin = teams.length !== 1;
  if (!admin) {
    try {
      await client.setNumberStatus('console-probe-no-such-number', { status: 'active' });
      admin = true; // cannot happen: there is no such number
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      admin = e.status === 404;
    }
  }
  safe(() => sessionStorage.setItem(TOKEN_KEY, token));
  return { token, admin, teams };
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null; // storage disabled: the session lives in memory only
  }
}
