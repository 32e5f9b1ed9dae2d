import { and, eq, inArray, sql } from 'drizzle-orm';

// Reads on every request are built once (.prepare()); drizzle's query builder
// costs tens of microseconds a query.
import { immediate, type Db } from '../../db/client.js';
import { apiTokens, phoneNumbers, teams } from '../../db/schema.js';
import { HELD_STATUSES, type PlanName } from '../domain/plans.js';
import type { Team } from '../domain/types.js';

export class TeamStore {
  private readonly byId;
  private readonly held;

  constructor(private readonly db: Db) {
    this.byId = db.select().from(teams).where(eq(teams.id, sql.placeholder('id'))).prepare();
    this.held = db
      .select({ n: sql<number>`count(*)` })
      .from(phoneNumbers)
      .where(and(eq(phoneNumbers.teamId, sql.placeholder('teamId')), inArray(phoneNumbers.status, [...HELD_STATUSES])))
      .prepare();
  }

  /** Runs fn in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    return immediate(this.db, fn);
  }

  insert(team: Team): void {
    this.db.insert(teams).values(team).run();
  }

  get(id: string): Team | undefined {
    return this.byId.get({ id });
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
    return this.held.get({ teamId })?.n ?? 0;
  }
}

export class TokenStore {
  private readonly byHash;

  constructor(private readonly db: Db) {
    this.byHash = db.select({ teamId: apiTokens.teamId }).from(apiTokens).where(eq(apiTokens.tokenHash, sql.placeholder('hash'))).prepare();
  }

  /** Runs fn in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    return immediate(this.db, fn);
  }

  insert(row: { id: string; teamId: string | null; tokenHash: string; createdAt: number }): void {
    this.db.insert(apiTokens).values(row).run();
  }

  findByHash(tokenHash: string): { teamId: string | null } | undefined {
    return this.byHash.get({ hash: tokenHash });
  }

  /** Deletes every admin token but the one with this hash; returns how many went. */
  revokeAdminExcept(tokenHash: string): number {
    return this.db.$client.prepare('DELETE FROM api_tokens WHERE team_id IS NULL AND token_hash <> ?').run(tokenHash).changes;
  }

  hasAdmin(): boolean {
    return !!this.db.select({ id: apiTokens.id }).from(apiTokens).where(sql`${apiTokens.teamId} IS NULL`).limit(1).get();
  }
}
