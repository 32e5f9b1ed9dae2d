import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import { PLANS, type PlanName } from '../domain/plans.js';
import type { Principal, Team } from '../domain/types.js';
import type { RoutingTable } from '../routing/routing-table.js';
import type { AuditStore } from '../store/audit.js';
import type { NumberStore } from '../store/numbers.js';
import type { TeamStore, TokenRow, TokenStore } from '../store/teams.js';
import { actorOf, assertTeamAccess, requireAdmin } from './access.js';
import { MAX_TEAM_TOKENS, type AuthService } from './auth.js';

export interface TeamView extends Team {
  numberLimit: number | null;
  numbersHeld: number;
}

export class TeamService {
  constructor(
    private readonly teams: TeamStore,
    private readonly numbers: NumberStore,
    private readonly audit: AuditStore,
    private readonly auth: AuthService,
    private readonly tokens: TokenStore,
    private readonly routing: RoutingTable,
    private readonly clock: Clock,
  ) {}

  view(team: Team): TeamView {
    return { ...team, numberLimit: PLANS[team.plan].numberLimit, numbersHeld: this.teams.countHeld(team.id) };
  }

  create(p: Principal, input: { name: string; slug: string; plan: PlanName }): { team: TeamView; token: string } {
    requireAdmin(p, 'create teams');
    const team: Team = { id: randomUUID(), slug: input.slug, name: input.name, plan: input.plan, createdAt: this.clock.now() };
    const token = this.teams.transaction(() => {
      if (this.teams.getBySlug(input.slug)) throw new AppError('SLUG_TAKEN', `The slug "${input.slug}" is taken.`);
      this.teams.insert(team);
      return this.auth.issue(team.id, { name: 'default' }).token;
    });
    return { team: this.view(team), token };
  }

  /** The team, if the principal may see it; 404 otherwise. */
  get(p: Principal, teamId: string): Team {
    const team = this.teams.get(teamId);
    if (!team) throw notFound('Team');
    assertTeamAccess(p, team.id, 'Team');
    return team;
  }

  bySlug(p: Principal, slug: string): Team {
    const team = this.teams.getBySlug(slug);
    if (!team) throw notFound('Team');
    assertTeamAccess(p, team.id, 'Team');
    return team;
  }

  list(p: Principal): Team[] {
    return p.kind === 'admin' ? this.teams.list() : [this.get(p, p.teamId)];
  }

  /**
   * Changes the plan. Leaving `free` makes the trial number permanent. Moving
   * below the numbers held is allowed; purchases then fail until under the limit.
   */
  setPlan(p: Principal, teamId: string, plan: PlanName): Team {
    requireAdmin(p, 'change plans');
    const now = this.clock.now();
    return this.routing.mutate((touch) => {
      const team = this.get(p, teamId);
      if (team.plan === plan) return team;
      this.teams.setPlan(team.id, plan);
      if (!PLANS[plan].trial) {
        // Expiry is part of a routing entry: the numbers made permanent must stop
        // being treated as expiring by every process.
        for (const n of this.numbers.makeTrialsPermanent(team.id, now)) touch(n.e164);
      }
      this.audit.record({
        teamId: team.id,
        actor: actorOf(p),
        action: 'team.plan_change',
        phoneNumberId: null,
        e164: null,
        assistantId: null,
        details: { from: team.plan, to: plan },
        createdAt: now,
      });
      return { ...team, plan };
    });
  }

  /**
   * A new token for the team (team members may make their own). At most
   * MAX_TEAM_TOKENS active at once; `expiresInS` makes it expire by itself.
   */
  issueToken(p: Principal, teamId: string, o: { name?: string | undefined; expiresInS?: number | undefined } = {}): { token: string; row: TokenRow } {
    const team = this.get(p, teamId);
    const now = this.clock.now();
    return this.tokens.transaction(() => {
      const held = this.tokens.countActive(team.id, now);
      if (held >= MAX_TEAM_TOKENS) {
        throw new AppError('TOKEN_LIMIT_REACHED', `Team ${team.slug} already has ${held} active tokens, the most a team may hold; revoke one you no longer use (DELETE /api/teams/${team.id}/tokens/<tokenId>) and try again.`);
      }
      const issued = this.auth.issue(team.id, { name: o.name ?? null, expiresAt: o.expiresInS === undefined ? null : now + o.expiresInS * 1000 });
      this.recordTokenAudit(p, team.id, 'token.create', issued.row, now);
      return issued;
    });
  }

  /** The team's active tokens, as metadata only (a token itself is never stored). */
  listTokens(p: Principal, teamId: string): TokenRow[] {
    const team = this.get(p, teamId);
    return this.tokens.listActive(team.id, this.clock.now());
  }

  /** Revokes a token: every process refuses it from the next request on. Revoking twice is not an error. */
  revokeToken(p: Principal, teamId: string, tokenId: string): void {
    const team = this.get(p, teamId);
    const now = this.clock.now();
    this.tokens.transaction(() => {
      const row = this.tokens.get(team.id, tokenId);
      if (!row) throw notFound('Token');
      if (this.tokens.revoke(row.id, now)) this.recordTokenAudit(p, team.id, 'token.revoke', row, now);
    });
  }

  private recordTokenAudit(p: Principal, teamId: string, action: 'token.create' | 'token.revoke', row: TokenRow, now: number): void {
    this.audit.record({
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
