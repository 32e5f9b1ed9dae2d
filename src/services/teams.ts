import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import { PLANS, type PlanName } from '../domain/plans.js';
import type { Principal, Team } from '../domain/types.js';
import type { RoutingTable } from '../routing/routing-table.js';
import { actorOf, assertTeamAccess, requireAdmin } from './access.js';
import type { AuthService } from './auth.js';
import { UniqueViolation, type Store } from './ports.js';

/** A team as the API shows it: with its plan's limit and how many numbers it holds. */
export interface TeamSummary extends Team {
  numberLimit: number | null;
  numbersHeld: number;
}

export class TeamService {
  constructor(
    private readonly store: Store,
    private readonly auth: AuthService,
    private readonly routing: RoutingTable,
    private readonly clock: Clock,
  ) {}

  async summary(team: Team): Promise<TeamSummary> {
    return { ...team, numberLimit: PLANS[team.plan].numberLimit, numbersHeld: await this.store.teams.countHeld(team.id) };
  }

  async create(p: Principal, input: { name: string; slug: string; plan: PlanName }): Promise<{ team: Team; token: string }> {
    requireAdmin(p, 'create teams');
    const team: Team = { id: randomUUID(), slug: input.slug, name: input.name, plan: input.plan, createdAt: this.clock.now() };
    const taken = () => new AppError('SLUG_TAKEN', `The slug "${input.slug}" is taken; choose another.`);
    try {
      const token = await this.store.transaction(async (tx) => {
        if (await tx.teams.getBySlug(input.slug)) throw taken();
        await tx.teams.insert(team);
        const issued = await this.auth.issue(team.id, { name: 'default' }, tx);
        await tx.audit.record({
          teamId: team.id,
          actor: actorOf(p),
          action: 'token.create',
          phoneNumberId: null,
          e164: null,
          assistantId: null,
          details: { tokenId: issued.row.id, name: issued.row.name, prefix: issued.row.prefix, expiresAt: null },
          createdAt: team.createdAt,
        });
        return issued.token;
      });
      return { team, token };
    } catch (err) {
      // Two admins racing for one slug: the unique index decides.
      if (err instanceof UniqueViolation) throw taken();
      throw err;
    }
  }

  /** The team, if the principal may see it; 404 otherwise. */
  async get(p: Principal, teamId: string): Promise<Team> {
    const team = await this.store.teams.get(teamId);
    if (!team) throw notFound('Team');
    assertTeamAccess(p, team.id, 'Team');
    return team;
  }

  async bySlug(p: Principal, slug: string): Promise<Team> {
    const team = await this.store.teams.getBySlug(slug);
    if (!team) throw notFound('Team');
    assertTeamAccess(p, team.id, 'Team');
    return team;
  }

  async list(p: Principal): Promise<Team[]> {
    return p.kind === 'admin' ? this.store.teams.list() : [await this.get(p, p.teamId)];
  }

  /**
   * Changes the plan. Leaving `free` makes the trial number permanent. Moving
   * below the numbers held is allowed; purchases then fail until under the limit.
   */
  async setPlan(p: Principal, teamId: string, plan: PlanName): Promise<Team> {
    requireAdmin(p, 'change plans');
    const now = this.clock.now();
    return this.routing.mutate(async (tx, touch) => {
      const team = await tx.teams.get(teamId);
      if (!team) throw notFound('Team');
      if (team.plan === plan) return team;
      await tx.routingWrites.setTeamPlan(team.id, plan);
      if (!PLANS[plan].trial) {
        // Expiry is part of a routing entry: the numbers made permanent must stop
        // being treated as expiring by every process.
        for (const n of await tx.routingWrites.makeTrialsPermanent(team.id, now)) touch(n.e164);
      }
      await tx.audit.record({
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
}
