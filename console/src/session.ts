/**
 * Who is signed in. The token lives in sessionStorage only (gone when the tab
 * closes, never in a URL or a cookie) and is sent as the bearer header.
 */
import { ApiClient } from './api/client';
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
 * Checks the token against the API and learns what it may do: GET /api/me
 * says whether it is the admin token or a team token (and which team); the
 * admin then reads every team.
 */
export async function signIn(token: string): Promise<Session> {
  const client = new ApiClient(token);
  const me = await client.me();
  const teams = me.kind === 'team' ? [me.team] : (await client.listTeams()).teams;
  safe(() => sessionStorage.setItem(TOKEN_KEY, token));
  return { token, admin: me.kind === 'admin', teams };
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null; // storage disabled: the session lives in memory only
  }
}
