/** A team's API tokens: made by its members or the admin, listed as metadata, revoked (api.md section 2). */
import type { Clock } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import type { Principal } from '../domain/types.js';
import { actorOf } from './access.js';
import { MAX_TEAM_TOKENS, type AuthService } from './auth.js';
import type { Repos, Store, TokenRow } from './ports.js';
import type { TeamService } from './teams.js';

export class TokenService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly teams: TeamService,
    private readonly clock: Clock,
  ) {}

  /**
   * A new token for the team (team members may make their own). At most
   * MAX_TEAM_TOKENS active at once; `expiresInS` makes it expire by itself.
   */
  async issue(p: Principal, teamId: string, o: { name?: string | undefined; expiresInS?: number | undefined } = {}): Promise<{ token: string; row: TokenRow }> {
    const team = await this.teams.get(p, teamId);
    const now = this.clock.now();
    return this.store.transaction(async (tx) => {
      // The count and the insert are one step per team: 25 racing requests make at most 25 tokens.
      await tx.teams.lock(team.id);
      const held = await tx.tokens.countActive(team.id, now);
      if (held >= MAX_TEAM_TOKENS) {
        throw new AppError(
          'TOKEN_LIMIT_REACHED',
          `Team ${team.slug} already has ${held} active tokens, the most a team may hold; revoke one you no longer use (DELETE /api/teams/${team.id}/tokens/<tokenId>) and try again.`,
        );
      }
      const issued = await this.auth.issue(team.id, { name: o.name ?? null, expiresAt: o.expiresInS === undefined ? null : now + o.expiresInS * 1000 }, tx);
      await this.record(tx, p, team.id, 'token.create', issued.row, now);
      return issued;
    });
  }

  /** The team's active tokens, as metadata only (a token itself is never stored). */
  async list(p: Principal, teamId: string): Promise<TokenRow[]> {
    const team = await this.teams.get(p, teamId);
    return this.store.tokens.listActive(team.id, this.clock.now());
  }

  /** Revokes a token: every process refuses it from the next request on. Revoking twice is not an error. */
  async revoke(p: Principal, teamId: string, tokenId: string): Promise<void> {
    const team = await this.teams.get(p, teamId);
    const now = this.clock.now();
    await this.store.transaction(async (tx) => {
      const row = await tx.tokens.get(team.id, tokenId);
      if (!row) throw notFound('Token');
      if (await tx.tokens.revoke(row.id, now)) await this.record(tx, p, team.id, 'token.revoke', row, now);
    });
  }

  private record(tx: Repos, p: Principal, teamId: string, action: 'token.create' | 'token.revoke', row: TokenRow, now: number): Promise<void> {
    return tx.audit.record({
      teamId,
      actor: actorOf(p),
      action,
      phoneNumberId: null,
      e164: null,
      assistantId: null,
      details: { tokenId: row.id, name: row.name, prefix: row.prefix, expiresAt: row.expiresAt === null ? null : new Date(row.expiresAt).toISOString() },
      createdAt: now,
    });
  }
}
