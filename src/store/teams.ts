import { and, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';

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

export interface TokenRow {
  id: string;
  teamId: string | null;
  name: string | null;
  prefix: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
}

const TOKEN_COLUMNS = {
  id: apiTokens.id,
  teamId: apiTokens.teamId,
  name: apiTokens.name,
  prefix: apiTokens.prefix,
  createdAt: apiTokens.createdAt,
  lastUsedAt: apiTokens.lastUsedAt,
  expiresAt: apiTokens.expiresAt,
  revokedAt: apiTokens.revokedAt,
};

/** Active: not revoked, not expired at `now`. */
const active = (now: number) => and(isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)));

export class TokenStore {
  private readonly byHash;

  constructor(private readonly db: Db) {
    // On every /api request: built once.
    this.byHash = db.select(TOKEN_COLUMNS).from(apiTokens).where(eq(apiTokens.tokenHash, sql.placeholder('hash'))).prepare();
  }

  /** Runs fn in one IMMEDIATE transaction. */
  transaction<T>(fn: () => T): T {
    return immediate(this.db, fn);
  }

  insert(row: TokenRow & { tokenHash: string }): void {
    this.db.insert(apiTokens).values(row).run();
  }

  findByHash(tokenHash: string): TokenRow | undefined {
    return this.byHash.get({ hash: tokenHash });
  }

  /** The team's active tokens, oldest first. */
  listActive(teamId: string, now: number): TokenRow[] {
    return this.db
      .select(TOKEN_COLUMNS)
      .from(apiTokens)
      .where(and(eq(apiTokens.teamId, teamId), active(now)))
      .orderBy(apiTokens.createdAt, apiTokens.id)
      .all();
  }

  countActive(teamId: string, now: number): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(apiTokens).where(and(eq(apiTokens.teamId, teamId), active(now))).get()?.n ?? 0;
  }

  get(teamId: string, id: string): TokenRow | undefined {
    return this.db.select(TOKEN_COLUMNS).from(apiTokens).where(and(eq(apiTokens.teamId, teamId), eq(apiTokens.id, id))).get();
  }

  /** Marks a token revoked; false if it already was. */
  revoke(id: string, now: number): boolean {
    return this.db.update(apiTokens).set({ revokedAt: now }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))).run().changes === 1;
  }

  touch(id: string, now: number): void {
    this.db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, id)).run();
  }

  /** Deletes every admin token but the one with this hash; returns how many went. */
  revokeAdminExcept(tokenHash: string): number {
    return this.db.$client.prepare('DELETE FROM api_tokens WHERE team_id IS NULL AND token_hash <> ?').run(tokenHash).changes;
  }

  hasAdmin(): boolean {
    return !!this.db.select({ id: apiTokens.id }).from(apiTokens).where(sql`${apiTokens.teamId} IS NULL`).limit(1).get();
  }
}
