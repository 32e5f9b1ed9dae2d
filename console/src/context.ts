/** What every page needs: the API client, who is signed in, and the team in view. */
import { createContext, useContext } from 'react';
import type { ApiClient } from './api/client';
import type { Team } from './api/types';

export interface AppState {
  client: ApiClient;
  admin: boolean;
  teams: Team[];
  /** The team the pages show (the admin picks it in the switcher); null when there is none yet. */
  team: Team | null;
  selectTeam: (id: string) => void;
  /** Reads the teams again (plan, numbers held). */
  reloadTeams: () => Promise<void>;
  signOut: () => void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const s = useContext(AppContext);
  if (!s) throw new Error('useApp outside the signed-in console');
  return s;
}

/** The team in view; pages that need one are only rendered when there is one. */
export function useTeam(): Team {
  const { team } = useApp();
  if (!team) throw new Error('no team in view');
  return team;
}
