import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import { PLANS, type PlanName } from '../domain/plans.js';
import type { Principal, Team } from '../domain/types.js';
import type { RoutingTable } from '../routing/routing-table.js';
import type { AuditStore } from '../store/audit.js';
import type { NumberStore } from '../store/numbers.js';
import type { TeamStore } from '../store/teams.js';
import { actorOf, assertTeamAccess, requireAdmin } from './access.js';
import type { AuthService } from './auth.js';

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
      return this.auth.issue(team.id);
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

  issueToken(p: Principal, teamId: string): string {
    const team = this.get(p, teamId);
    return this.auth.issue(team.id);
  }
}
