import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { apiTokens, phoneNumbers, teams } from '../../db/schema.js';
import { HELD_STATUSES, type PlanName } from '../domain/plans.js';
import type { Team } from '../domain/types.js';

export class TeamStore {
  constructor(private readonly db: Db) {}

  /** Runs fn in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.$client.transaction(fn).immediate();
  }

  insert(team: Team): void {
    this.db.insert(teams).values(team).run();
  }

  get(id: string): Team | undefined {
    return this.db.select().from(teams).where(eq(teams.id, id)).get();
  }

  getBySlug(slug: string): Team | undefined {
    return this.db.select().from(teams).where(eq(teams.slug, slug)).get();
  }

  list(): Team[] {
    return this.db.select().from(teams).orderBy(teams.createdAt).all();
  }

  setPlan(id: string, plan: PlanName): void {
    this.db.update(teams).set({ plan }).where(eq(teams.id, id)).run();
  }

  /** Numbers that count against the plan: purchasing, active, suspended. */
  countHeld(teamId: string): number {
    return (
      this.db
        .select({ n: sql<number>`count(*)` })
        .from(phoneNumbers)
        .where(and(eq(phoneNumbers.teamId, teamId), inArray(phoneNumbers.status, [...HELD_STATUSES])))
        .get()?.n ?? 0
    );
  }
}

export class TokenStore {
  constructor(private readonly db: Db) {}

  /** Runs fn in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.$client.transaction(fn).immediate();
  }

  insert(row: { id: string; teamId: string | null; tokenHash: string; createdAt: number }): void {
    this.db.insert(apiTokens).values(row).run();
  }

  findByHash(tokenHash: string): { teamId: string | null } | undefined {
    return this.db.select({ teamId: apiTokens.teamId }).from(apiTokens).where(eq(apiTokens.tokenHash, tokenHash)).get();
  }

  /** Deletes every admin token but the one with this hash; returns how many went. */
  revokeAdminExcept(tokenHash: string): number {
    return this.db.$client.prepare('DELETE FROM api_tokens WHERE team_id IS NULL AND token_hash <> ?').run(tokenHash).changes;
  }

  hasAdmin(): boolean {
    return !!this.db.select({ id: apiTokens.id }).from(apiTokens).where(sql`${apiTokens.teamId} IS NULL`).limit(1).get();
  }
}
