/**
 * Team isolation, in one place. A team token acting on another team's
 * resource gets 404 (never 403: the resource's existence is not revealed);
 * a team token doing an admin-only action gets 403.
 */
import { AppError, notFound } from '../errors.js';
import type { Principal } from '../domain/types.js';

export function requireAdmin(p: Principal, action: string): void {
  if (p.kind !== 'admin') throw new AppError('FORBIDDEN', `Only the admin token may ${action}.`);
}

/** Throws 404 unless the principal may see a resource of `teamId`. */
export function assertTeamAccess(p: Principal, teamId: string, what: string): void {
  if (p.kind === 'team' && p.teamId !== teamId) throw notFound(what);
}

/**
 * The team a list request is about: a team token's own team (naming another
 * team is 404), or for the admin the team named, or undefined for all teams.
 */
export function listScope(p: Principal, teamId: string | undefined): string | undefined {
  if (p.kind === 'team') {
    if (teamId !== undefined && teamId !== p.teamId) throw notFound('Team');
    return p.teamId;
  }
  return teamId;
}

export function actorOf(p: Principal): string {
  return p.kind === 'admin' ? 'admin' : `team:${p.teamId}`;
}
