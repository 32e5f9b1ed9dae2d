/**
 * The repositories on PostgreSQL (drizzle over node-postgres). The same
 * classes serve the pool (autocommit) and a transaction: they are built over
 * whichever drizzle handle they are given. Errors leave in the port's terms.
 */
import { timeOrderedId } from '../../domain/ids.js';
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { HELD_STATUSES } from '../../domain/plans.js';
import type { Assistant, Call, PhoneNumber, Team } from '../../domain/types.js';
import type {
  AssistantRepo,
  AuditAction,
  AuditEvent,
  AuditRepo,
  Before,
  CallListFilter,
  CallRepo,
  Drift,
  DriftRepo,
  IdempotencyRepo,
  MetaRepo,
  NumberListFilter,
  NumberQuietPatch,
  NumberRepo,
  Repos,
  RoutingRepos,
  StoredResponse,
  TeamRepo,
  TokenRepo,
  TokenRow,
} from '../../services/ports.js';
import { UniqueViolation } from '../../services/ports.js';
import { mapError, schema, type PgDb } from './client.js';

const { apiTokens, assistants, auditEvents, calls, idempotencyKeys, meta, phoneNumbers, providerDrift, teams } = schema;

/** A drizzle handle: the pool's database or a transaction on one connection. */
export type Q = Pick<PgDb, 'select' | 'selectDistinct' | 'insert' | 'update' | 'delete' | 'execute'>;

async function q<T>(p: Promise<T> | PromiseLike<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw mapError(err);
  }
}

const first = <T>(rows: T[]): T | undefined => rows[0];

class Teams implements TeamRepo {
  constructor(private readonly db: Q) {}
  async insert(team: Team) {
    await q(this.db.insert(teams).values(team));
  }
  async get(id: string) {
    return first<Team>(await q(this.db.select().from(teams).where(eq(teams.id, id))));
  }
  async getBySlug(slug: string) {
    return first<Team>(await q(this.db.select().from(teams).where(eq(teams.slug, slug))));
  }
  async list() {
    return (await q(this.db.select().from(teams).orderBy(teams.createdAt))) as Team[];
  }
  async countHeld(teamId: string) {
    const r = await q(
      this.db
        .select({ n: sql<number>`count(*)::int` })
        .from(phoneNumbers)
        .where(and(eq(phoneNumbers.teamId, teamId), inArray(phoneNumbers.status, [...HELD_STATUSES]))),
    );
    return r[0]?.n ?? 0;
  }
  async lock(teamId: string) {
    // Held until the transaction ends; other transactions asking for the same team wait.
    await q(this.db.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${'team:' + teamId}, 0))`));
  }
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
const activeToken = (now: number) => and(isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)));

class Tokens implements TokenRepo {
  constructor(private readonly db: Q) {}
  async insert(row: TokenRow & { tokenHash: string }) {
    await q(this.db.insert(apiTokens).values(row));
  }
  async findByHash(tokenHash: string) {
    return first(await q(this.db.select(TOKEN_COLUMNS).from(apiTokens).where(eq(apiTokens.tokenHash, tokenHash))));
  }
  async listActive(teamId: string, now: number) {
    return q(
      this.db
        .select(TOKEN_COLUMNS)
        .from(apiTokens)
        .where(and(eq(apiTokens.teamId, teamId), activeToken(now)))
        .orderBy(apiTokens.createdAt, apiTokens.id),
    );
  }
  async countActive(teamId: string, now: number) {
    const r = await q(
      this.db
        .select({ n: sql<number>`count(*)::int` })
        .from(apiTokens)
        .where(and(eq(apiTokens.teamId, teamId), activeToken(now))),
    );
    return r[0]?.n ?? 0;
  }
  async get(teamId: string, id: string) {
    return first(
      await q(
        this.db
          .select(TOKEN_COLUMNS)
          .from(apiTokens)
          .where(and(eq(apiTokens.teamId, teamId), eq(apiTokens.id, id))),
      ),
    );
  }
  async revoke(id: string, now: number) {
    const r = await q(
      this.db
        .update(apiTokens)
        .set({ revokedAt: now })
        .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
        .returning({ id: apiTokens.id }),
    );
    return r.length === 1;
  }
  async touch(id: string, now: number) {
    await q(this.db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, id)));
  }
  async revokeAdminExcept(tokenHash: string, now: number) {
    await q(
      this.db
        .update(apiTokens)
        .set({ revokedAt: null })
        .where(and(isNull(apiTokens.teamId), eq(apiTokens.tokenHash, tokenHash))),
    );
    const r = await q(
      this.db
        .update(apiTokens)
        .set({ revokedAt: now })
        .where(and(isNull(apiTokens.teamId), isNull(apiTokens.revokedAt), sql`${apiTokens.tokenHash} <> ${tokenHash}`))
        .returning({ id: apiTokens.id }),
    );
    return r.length;
  }
  async hasAdmin() {
    return (
      (
        await q(
          this.db
            .select({ id: apiTokens.id })
            .from(apiTokens)
            .where(and(isNull(apiTokens.teamId), isNull(apiTokens.revokedAt)))
            .limit(1),
        )
      ).length > 0
    );
  }
}

class Assistants implements AssistantRepo {
  constructor(private readonly db: Q) {}
  async insert(a: Assistant) {
    await q(this.db.insert(assistants).values(a));
  }
  async get(id: string) {
    return first(await q(this.db.select().from(assistants).where(eq(assistants.id, id))));
  }
  async list(teamId: string | undefined) {
    return q(
      this.db
        .select()
        .from(assistants)
        .where(teamId ? eq(assistants.teamId, teamId) : undefined)
        .orderBy(asc(assistants.createdAt), asc(assistants.id)),
    );
  }
  async rename(id: string, name: string, now: number) {
    await q(this.db.update(assistants).set({ name, updatedAt: now }).where(eq(assistants.id, id)));
  }
}

class Numbers implements NumberRepo {
  constructor(private readonly db: Q) {}
  private select(where: SQL | undefined) {
    return q(this.db.select().from(phoneNumbers).where(where)) as Promise<PhoneNumber[]>;
  }
  async get(id: string) {
    return first(await this.select(eq(phoneNumbers.id, id)));
  }
  async getMany(ids: string[]) {
    return ids.length === 0 ? [] : this.select(inArray(phoneNumbers.id, ids));
  }
  async heldByE164(e164: string) {
    return first(await this.select(and(eq(phoneNumbers.e164, e164), inArray(phoneNumbers.status, [...HELD_STATUSES]))));
  }
  async list(f: NumberListFilter) {
    const conds = [];
    if (f.teamId) conds.push(eq(phoneNumbers.teamId, f.teamId));
    if (f.status) conds.push(eq(phoneNumbers.status, f.status));
    if (f.assistantId) conds.push(eq(phoneNumbers.assistantId, f.assistantId));
    return (await q(
      this.db
        .select()
        .from(phoneNumbers)
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(desc(phoneNumbers.createdAt), desc(phoneNumbers.id)),
    )) as PhoneNumber[];
  }
  async idsOnAssistant(assistantId: string) {
    const rows = await q(
      this.db
        .select({ id: phoneNumbers.id })
        .from(phoneNumbers)
        .where(eq(phoneNumbers.assistantId, assistantId))
        .orderBy(asc(phoneNumbers.createdAt), asc(phoneNumbers.id)),
    );
    return rows.map((r) => r.id);
  }
  onAssistant(assistantId: string) {
    return this.select(eq(phoneNumbers.assistantId, assistantId));
  }
  purchasing() {
    return this.select(eq(phoneNumbers.status, 'purchasing'));
  }
  stalePurchasing(createdBefore: number) {
    return this.select(and(eq(phoneNumbers.status, 'purchasing'), lt(phoneNumbers.createdAt, createdBefore)));
  }
  expiredTrials(now: number) {
    return this.select(and(eq(phoneNumbers.status, 'active'), isNotNull(phoneNumbers.expiresAt), lte(phoneNumbers.expiresAt, now)));
  }
  callerIdCandidates(assistantId: string, now: number) {
    return this.select(
      and(
        eq(phoneNumbers.assistantId, assistantId),
        eq(phoneNumbers.status, 'active'),
        sql`(${phoneNumbers.expiresAt} IS NULL OR ${phoneNumbers.expiresAt} > ${now})`,
      ),
    );
  }
  async patchQuiet(id: string, patch: NumberQuietPatch) {
    await q(this.db.update(phoneNumbers).set(patch).where(eq(phoneNumbers.id, id)));
  }
  heldByProvider(provider: string) {
    return this.select(and(eq(phoneNumbers.provider, provider), inArray(phoneNumbers.status, [...HELD_STATUSES])));
  }
}

/** The calls columns, aliased to the domain's names (raw SQL on the hot paths). */
const CALL_FIELDS: ReadonlyArray<readonly [column: string, field: keyof Call]> = [
  ['id', 'id'],
  ['team_id', 'teamId'],
  ['direction', 'direction'],
  ['carrier', 'carrier'],
  ['carrier_call_id', 'carrierCallId'],
  ['from_number', 'from'],
  ['to_number', 'to'],
  ['phone_number_id', 'phoneNumberId'],
  ['assistant_id', 'assistantId'],
  ['media_url', 'mediaUrl'],
  ['status', 'status'],
  ['reason', 'reason'],
  ['carrier_status', 'carrierStatus'],
  ['carrier_seq', 'carrierSeq'],
  ['created_at', 'createdAt'],
  ['answered_at', 'answeredAt'],
  ['ended_at', 'endedAt'],
  ['duration_sec', 'durationSec'],
  ['end_reason', 'endReason'],
  ['media_claimed_at', 'mediaClaimedAt'],
];
const CALL_SELECT = sql.raw(CALL_FIELDS.map(([c, f]) => `${c} AS "${f}"`).join(', '));
const CALL_COLUMNS = sql.raw(CALL_FIELDS.map(([c]) => c).join(', '));
/** Each calls column's type, for the array parameters of INSERT_CALLS. */
const CALL_TYPES: Readonly<Partial<Record<keyof Call, string>>> = {
  carrierSeq: 'int',
  durationSec: 'int',
  createdAt: 'bigint',
  answeredAt: 'bigint',
  endedAt: 'bigint',
  mediaClaimedAt: 'bigint',
};
/**
 * The group commit's insert: one array parameter per column, so the text is
 * the same whatever the batch size and is parsed and planned once per
 * connection (a prepared statement), and nothing is built per row but the
 * arrays. Same rows, same conflict rule, same answer as a VALUES list.
 */
const INSERT_CALLS = {
  name: 'switchboard_insert_calls',
  text:
    `INSERT INTO calls (${CALL_FIELDS.map(([c]) => c).join(', ')}) ` +
    `SELECT * FROM unnest(${CALL_FIELDS.map(([, f], i) => `$${i + 1}::${CALL_TYPES[f] ?? 'text'}[]`).join(', ')}) ` +
    'ON CONFLICT (carrier, carrier_call_id) DO NOTHING RETURNING id',
};

/** Queries straight on the pool, for hot statements outside transactions. */
export interface PgPool {
  query<R extends Record<string, unknown>>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: R[] }>;
}

class Calls implements CallRepo {
  /** `pool`: given only outside a transaction (a transaction's statements must stay on its connection). */
  constructor(
    private readonly db: Q,
    private readonly pool?: PgPool,
  ) {}
  async insertBatch(batch: readonly Call[]) {
    if (batch.length === 0) return [];
    // One statement, one round trip, one commit for the whole batch (group commit).
    if (this.pool) {
      const columns = CALL_FIELDS.map(([, f]) => batch.map((c) => c[f]));
      const res = await q(this.pool.query<{ id: string }>({ ...INSERT_CALLS, values: columns }));
      const inserted = new Set(res.rows.map((r) => r.id));
      return batch.map((c) => inserted.has(c.id));
    }
    const values = sql.join(
      batch.map(
        (c) =>
          sql`(${sql.join(
            CALL_FIELDS.map(([, f]) => sql`${c[f]}`),
            sql`, `,
          )})`,
      ),
      sql`, `,
    );
    const res = await q(
      this.db.execute<{ id: string }>(sql`INSERT INTO calls (${CALL_COLUMNS}) VALUES ${values} ON CONFLICT (carrier, carrier_call_id) DO NOTHING RETURNING id`),
    );
    const inserted = new Set(res.rows.map((r) => r.id));
    return batch.map((c) => inserted.has(c.id));
  }
  async get(id: string) {
    return (await q(this.db.execute<Call & Record<string, unknown>>(sql`SELECT ${CALL_SELECT} FROM calls WHERE id = ${id}`))).rows[0];
  }
  async getByCarrierId(carrier: string, carrierCallId: string) {
    return (
      await q(
        this.db.execute<Call & Record<string, unknown>>(
          sql`SELECT ${CALL_SELECT} FROM calls WHERE carrier = ${carrier} AND carrier_call_id = ${carrierCallId}`,
        ),
      )
    ).rows[0];
  }
  async update(id: string, patch: Partial<Call>) {
    await q(this.db.update(calls).set(patch).where(eq(calls.id, id)));
  }
  async bindCarrierCallId(id: string, carrierCallId: string) {
    try {
      const r = await q(this.db.execute(sql`UPDATE calls SET carrier_call_id = ${carrierCallId} WHERE id = ${id} AND carrier_call_id IS NULL`));
      return r.rowCount === 1;
    } catch (err) {
      if (err instanceof UniqueViolation) return false; // another call has that id
      throw err;
    }
  }
  async claimMedia(id: string, now: number) {
    const r = await q(this.db.execute(sql`UPDATE calls SET media_claimed_at = ${now} WHERE id = ${id} AND media_claimed_at IS NULL`));
    return r.rowCount === 1;
  }
  async failUnstreamed(from: number, inboundBefore: number, outboundBefore: number, now: number) {
    const r = await q(
      this.db.execute(sql`UPDATE calls SET status = 'failed', reason = COALESCE(reason, 'stream_never_opened'), ended_at = ${now}
        WHERE created_at >= ${from} AND created_at < ${Math.max(inboundBefore, outboundBefore)} AND status = 'routed' AND media_claimed_at IS NULL
          AND ((direction = 'inbound' AND created_at < ${inboundBefore}) OR (direction = 'outbound' AND created_at < ${outboundBefore}))`),
    );
    return r.rowCount ?? 0;
  }
  async list(f: CallListFilter) {
    const conds: SQL[] = [];
    if (f.teamId) conds.push(eq(calls.teamId, f.teamId));
    if (f.assistantId) conds.push(eq(calls.assistantId, f.assistantId));
    if (f.phoneNumberId) conds.push(eq(calls.phoneNumberId, f.phoneNumberId));
    if (f.status) conds.push(eq(calls.status, f.status));
    if (f.before) conds.push(keyset(calls.createdAt, calls.id, f.before));
    return (await q(
      this.db
        .select()
        .from(calls)
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(desc(calls.createdAt), desc(calls.id))
        .limit(f.limit),
    )) as Call[];
  }
}

const keyset = (createdAt: typeof calls.createdAt | typeof auditEvents.createdAt, id: typeof calls.id | typeof auditEvents.id, b: Before) =>
  or(lt(createdAt, b.createdAt), and(eq(createdAt, b.createdAt), lt(id, b.id)))!;

class Idempotency implements IdempotencyRepo {
  constructor(private readonly db: Q) {}
  async get(scope: string, key: string) {
    return first(
      await q(
        this.db
          .select({ requestHash: idempotencyKeys.requestHash, status: idempotencyKeys.status, body: idempotencyKeys.body })
          .from(idempotencyKeys)
          .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key))),
      ),
    );
  }
  async insert(scope: string, key: string, r: StoredResponse, now: number) {
    await q(this.db.insert(idempotencyKeys).values({ scope, key, ...r, createdAt: now }));
  }
  async prune(olderThan: number) {
    return (await q(this.db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, olderThan)).returning({ k: idempotencyKeys.key }))).length;
  }
  async delete(scope: string, key: string) {
    await q(this.db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key))));
  }
}

class DriftFindings implements DriftRepo {
  constructor(private readonly db: Q) {}
  async replace(provider: string, found: readonly Drift[]) {
    // Runs in the caller's transaction when given one; on the pool, two
    // statements (a reconciliation runs in the sweeper's leader only).
    const before = new Set(
      (await q(this.db.select({ e164: providerDrift.e164, kind: providerDrift.kind }).from(providerDrift).where(eq(providerDrift.provider, provider)))).map(
        (d) => `${d.e164}|${d.kind}`,
      ),
    );
    await q(this.db.delete(providerDrift).where(eq(providerDrift.provider, provider)));
    if (found.length) await q(this.db.insert(providerDrift).values([...found]));
    return found.filter((d) => !before.has(`${d.e164}|${d.kind}`));
  }
  async list() {
    return (await q(this.db.select().from(providerDrift).orderBy(providerDrift.provider, providerDrift.e164))).map((d) => ({ ...d, kind: d.kind }));
  }
}

class Audit implements AuditRepo {
  constructor(private readonly db: Q) {}
  async record(e: Omit<AuditEvent, 'id'>) {
    await q(this.db.insert(auditEvents).values({ ...e, id: timeOrderedId(e.createdAt), details: e.details ? JSON.stringify(e.details) : null }));
  }
  async list(f: { teamId?: string | undefined; before?: Before | undefined; limit: number }) {
    const conds: SQL[] = [];
    if (f.teamId) conds.push(eq(auditEvents.teamId, f.teamId));
    if (f.before) conds.push(keyset(auditEvents.createdAt, auditEvents.id, f.before));
    const rows = await q(
      this.db
        .select()
        .from(auditEvents)
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
        .limit(f.limit),
    );
    return rows.map((r) => ({ ...r, action: r.action as AuditAction, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null }));
  }
}

class Meta implements MetaRepo {
  constructor(private readonly db: Q) {}
  async get(key: string) {
    return first(await q(this.db.select({ value: meta.value }).from(meta).where(eq(meta.key, key))))?.value;
  }
  async setIfAbsent(key: string, value: string) {
    await q(this.db.insert(meta).values({ key, value }).onConflictDoNothing());
    return (await this.get(key))!;
  }
}

/** `pool`: the pool the handle runs on, when it is not a transaction (hot statements go to it directly). */
export function pgRepos(db: Q, pool?: PgPool): Repos {
  return {
    teams: new Teams(db),
    tokens: new Tokens(db),
    assistants: new Assistants(db),
    numbers: new Numbers(db),
    calls: new Calls(db, pool),
    idempotency: new Idempotency(db),
    audit: new Audit(db),
    meta: new Meta(db),
    drift: new DriftFindings(db),
  };
}

/** Built on a routing transaction only (see PgRoutingStore.transaction). */
export function pgRoutingRepos(db: Q): RoutingRepos {
  return {
    ...pgRepos(db),
    routingWrites: {
      insertNumber: async (n) => void (await q(db.insert(phoneNumbers).values(n))),
      transitionNumber: async (id, from, patch) =>
        (
          await q(
            db
              .update(phoneNumbers)
              .set(patch)
              .where(and(eq(phoneNumbers.id, id), inArray(phoneNumbers.status, [...from])))
              .returning({ id: phoneNumbers.id }),
          )
        ).length === 1,
      setNumberAssistant: async (id, assistantId, now) =>
        void (await q(db.update(phoneNumbers).set({ assistantId, updatedAt: now }).where(eq(phoneNumbers.id, id)))),
      setAssistantMediaUrl: async (id, mediaUrl, now) => void (await q(db.update(assistants).set({ mediaUrl, updatedAt: now }).where(eq(assistants.id, id)))),
      deleteAssistant: async (id, teamId) =>
        (
          await q(
            db
              .delete(assistants)
              .where(and(eq(assistants.id, id), eq(assistants.teamId, teamId)))
              .returning({ id: assistants.id }),
          )
        ).length === 1,
      setTeamPlan: async (id, plan) => void (await q(db.update(teams).set({ plan }).where(eq(teams.id, id)))),
      makeTrialsPermanent: async (teamId, now) =>
        await q(
          db
            .update(phoneNumbers)
            .set({ trial: false, expiresAt: null, updatedAt: now })
            .where(and(eq(phoneNumbers.teamId, teamId), eq(phoneNumbers.trial, true), inArray(phoneNumbers.status, [...HELD_STATUSES])))
            .returning(),
        ),
    },
  };
}
