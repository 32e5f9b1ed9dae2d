/**
 * The repositories on SQLite (drizzle over better-sqlite3). Statements are
 * synchronous; the methods return settled promises so the services see one
 * asynchronous port for both stores.
 *
 * A `Conn` says where reads and writes go: outside a transaction, reads use
 * the reader connection and each write takes the WriteLock on the writer;
 * inside one, both use the writer, whose lock the transaction already holds.
 */
import { timeOrderedId } from '../../domain/ids.js';
import type { Statement } from 'better-sqlite3';
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { apiTokens, assistants, auditEvents, calls, idempotencyKeys, meta, phoneNumbers, providerDrift, teams } from '../../../db/sqlite/schema.js';
import { HELD_STATUSES } from '../../domain/plans.js';
import type { Assistant, Call, PhoneNumber, Team } from '../../domain/types.js';
import {
  StoreUnavailable,
  UniqueViolation,
  type AssistantRepo,
  type AuditAction,
  type AuditEvent,
  type AuditRepo,
  type Before,
  type CallListFilter,
  type CallRepo,
  type Drift,
  type DriftRepo,
  type IdempotencyRepo,
  type MetaRepo,
  type NumberListFilter,
  type NumberQuietPatch,
  type NumberRepo,
  type Repos,
  type RoutingRepos,
  type StoredResponse,
  type TeamRepo,
  type TokenRepo,
  type TokenRow,
} from '../../services/ports.js';
import type { Db } from './client.js';
import { marks, writesOf } from './writes.js';

export interface Conn {
  /** Reads. */
  readonly r: Db;
  /** Writes (the writer connection). */
  readonly w: Db;
  /** Runs a synchronous write with the write lock held (or at once, inside a transaction). */
  write<T>(fn: () => T): Promise<T>;
}

/** SQLite's errors, in the port's terms. Anything else is a bug and passes through. */
export function mapError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new UniqueViolation(String((err as Error).message).replace(/^UNIQUE constraint failed: /, ''));
  }
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return new StoreUnavailable('the database is locked by another process', { cause: err });
  return err;
}

/** A synchronous read as a settled promise, errors mapped. */
function read<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(mapError(err));
  }
}

function write<T>(c: Conn, fn: () => T): Promise<T> {
  return c.write(fn).catch((err: unknown) => {
    throw mapError(err);
  });
}

const keyset = (createdAt: SQL.Aliased | typeof calls.createdAt, id: typeof calls.id, before: Before) =>
  or(lt(createdAt as typeof calls.createdAt, before.createdAt), and(eq(createdAt as typeof calls.createdAt, before.createdAt), lt(id, before.id)))!;

// ------------------------------------------------------------------ teams

class Teams implements TeamRepo {
  private readonly byId;
  private readonly held;
  constructor(private readonly c: Conn) {
    // Reads on every request are built once (.prepare()): drizzle's query
    // builder costs tens of microseconds a query.
    this.byId = c.r
      .select()
      .from(teams)
      .where(eq(teams.id, sql.placeholder('id')))
      .prepare();
    this.held = c.r
      .select({ n: sql<number>`count(*)` })
      .from(phoneNumbers)
      .where(and(eq(phoneNumbers.teamId, sql.placeholder('teamId')), inArray(phoneNumbers.status, [...HELD_STATUSES])))
      .prepare();
  }
  insert(team: Team) {
    return write(this.c, () => void this.c.w.insert(teams).values(team).run());
  }
  get(id: string) {
    return read(() => this.byId.get({ id }));
  }
  getBySlug(slug: string) {
    return read(() => this.c.r.select().from(teams).where(eq(teams.slug, slug)).get());
  }
  list() {
    return read(() => this.c.r.select().from(teams).orderBy(teams.createdAt).all() as Team[]);
  }
  countHeld(teamId: string) {
    return read(() => this.held.get({ teamId })?.n ?? 0);
  }
  lock(): Promise<void> {
    return Promise.resolve(); // BEGIN IMMEDIATE: the whole transaction is exclusive already
  }
}

// ------------------------------------------------------------------ tokens

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
  private readonly byHash;
  constructor(private readonly c: Conn) {
    this.byHash = c.r
      .select(TOKEN_COLUMNS)
      .from(apiTokens)
      .where(eq(apiTokens.tokenHash, sql.placeholder('hash')))
      .prepare();
  }
  insert(row: TokenRow & { tokenHash: string }) {
    return write(this.c, () => void this.c.w.insert(apiTokens).values(row).run());
  }
  findByHash(tokenHash: string) {
    return read(() => this.byHash.get({ hash: tokenHash }));
  }
  listActive(teamId: string, now: number) {
    return read(() =>
      this.c.r
        .select(TOKEN_COLUMNS)
        .from(apiTokens)
        .where(and(eq(apiTokens.teamId, teamId), activeToken(now)))
        .orderBy(apiTokens.createdAt, apiTokens.id)
        .all(),
    );
  }
  countActive(teamId: string, now: number) {
    return read(
      () =>
        this.c.r
          .select({ n: sql<number>`count(*)` })
          .from(apiTokens)
          .where(and(eq(apiTokens.teamId, teamId), activeToken(now)))
          .get()?.n ?? 0,
    );
  }
  get(teamId: string, id: string) {
    return read(() =>
      this.c.r
        .select(TOKEN_COLUMNS)
        .from(apiTokens)
        .where(and(eq(apiTokens.teamId, teamId), eq(apiTokens.id, id)))
        .get(),
    );
  }
  revoke(id: string, now: number) {
    return write(
      this.c,
      () =>
        this.c.w
          .update(apiTokens)
          .set({ revokedAt: now })
          .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
          .run().changes === 1,
    );
  }
  touch(id: string, now: number) {
    return write(this.c, () => void this.c.w.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, id)).run());
  }
  revokeAdminExcept(tokenHash: string, now: number) {
    return write(this.c, () => {
      this.c.w
        .update(apiTokens)
        .set({ revokedAt: null })
        .where(and(isNull(apiTokens.teamId), eq(apiTokens.tokenHash, tokenHash)))
        .run();
      return this.c.w
        .update(apiTokens)
        .set({ revokedAt: now })
        .where(and(isNull(apiTokens.teamId), isNull(apiTokens.revokedAt), sql`${apiTokens.tokenHash} <> ${tokenHash}`))
        .run().changes;
    });
  }
  hasAdmin() {
    return read(
      () =>
        !!this.c.r
          .select({ id: apiTokens.id })
          .from(apiTokens)
          .where(and(isNull(apiTokens.teamId), isNull(apiTokens.revokedAt)))
          .limit(1)
          .get(),
    );
  }
}

// ------------------------------------------------------------------ assistants

class Assistants implements AssistantRepo {
  constructor(private readonly c: Conn) {}
  insert(a: Assistant) {
    return write(this.c, () => void this.c.w.insert(assistants).values(a).run());
  }
  get(id: string) {
    return read(() => this.c.r.select().from(assistants).where(eq(assistants.id, id)).get());
  }
  list(teamId: string | undefined) {
    return read(() => {
      const q = this.c.r.select().from(assistants);
      return (teamId ? q.where(eq(assistants.teamId, teamId)) : q).orderBy(asc(assistants.createdAt), asc(assistants.id)).all();
    });
  }
  rename(id: string, name: string, now: number) {
    return write(this.c, () => void this.c.w.update(assistants).set({ name, updatedAt: now }).where(eq(assistants.id, id)).run());
  }
}

// ------------------------------------------------------------------ numbers

class Numbers implements NumberRepo {
  private readonly byId;
  private readonly heldRow;
  constructor(private readonly c: Conn) {
    // Built once: these run on every purchase, provisioning result and lookup by id.
    this.byId = c.r
      .select()
      .from(phoneNumbers)
      .where(eq(phoneNumbers.id, sql.placeholder('id')))
      .prepare();
    this.heldRow = c.r
      .select()
      .from(phoneNumbers)
      .where(and(eq(phoneNumbers.e164, sql.placeholder('e164')), inArray(phoneNumbers.status, [...HELD_STATUSES])))
      .prepare();
  }
  get(id: string) {
    return read(() => this.byId.get({ id }));
  }
  getMany(ids: string[]) {
    return read(() => (ids.length === 0 ? [] : (this.c.r.select().from(phoneNumbers).where(inArray(phoneNumbers.id, ids)).all() as PhoneNumber[])));
  }
  heldByE164(e164: string) {
    return read(() => this.heldRow.get({ e164 }));
  }
  list(f: NumberListFilter) {
    return read(() => {
      const conds = [];
      if (f.teamId) conds.push(eq(phoneNumbers.teamId, f.teamId));
      if (f.status) conds.push(eq(phoneNumbers.status, f.status));
      if (f.assistantId) conds.push(eq(phoneNumbers.assistantId, f.assistantId));
      return this.c.r
        .select()
        .from(phoneNumbers)
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(desc(phoneNumbers.createdAt), desc(phoneNumbers.id))
        .all();
    });
  }
  idsOnAssistant(assistantId: string) {
    return read(() =>
      this.c.r
        .select({ id: phoneNumbers.id })
        .from(phoneNumbers)
        .where(eq(phoneNumbers.assistantId, assistantId))
        .orderBy(asc(phoneNumbers.createdAt), asc(phoneNumbers.id))
        .all()
        .map((r) => r.id),
    );
  }
  onAssistant(assistantId: string) {
    return read(() => this.c.r.select().from(phoneNumbers).where(eq(phoneNumbers.assistantId, assistantId)).all() as PhoneNumber[]);
  }
  purchasing() {
    return read(() => this.c.r.select().from(phoneNumbers).where(eq(phoneNumbers.status, 'purchasing')).all() as PhoneNumber[]);
  }
  stalePurchasing(createdBefore: number) {
    return read(
      () =>
        this.c.r
          .select()
          .from(phoneNumbers)
          .where(and(eq(phoneNumbers.status, 'purchasing'), lt(phoneNumbers.createdAt, createdBefore)))
          .all() as PhoneNumber[],
    );
  }
  expiredTrials(now: number) {
    return read(
      () =>
        this.c.r
          .select()
          .from(phoneNumbers)
          .where(and(eq(phoneNumbers.status, 'active'), isNotNull(phoneNumbers.expiresAt), lte(phoneNumbers.expiresAt, now)))
          .all() as PhoneNumber[],
    );
  }
  callerIdCandidates(assistantId: string, now: number) {
    return read(
      () =>
        this.c.r
          .select()
          .from(phoneNumbers)
          .where(
            and(
              eq(phoneNumbers.assistantId, assistantId),
              eq(phoneNumbers.status, 'active'),
              sql`(${phoneNumbers.expiresAt} IS NULL OR ${phoneNumbers.expiresAt} > ${now})`,
            ),
          )
          .all() as PhoneNumber[],
    );
  }
  patchQuiet(id: string, patch: NumberQuietPatch) {
    return write(this.c, () => void writesOf(this.c.w.$client).update(phoneNumbers, patch, 'id = ?', [id]));
  }
  heldByProvider(provider: string) {
    return read(
      () =>
        this.c.r
          .select()
          .from(phoneNumbers)
          .where(and(eq(phoneNumbers.provider, provider), inArray(phoneNumbers.status, [...HELD_STATUSES])))
          .all() as PhoneNumber[],
    );
  }
}

// ------------------------------------------------------------------ calls

const CALL_COLUMNS = [
  'id',
  'team_id',
  'direction',
  'carrier',
  'carrier_call_id',
  'from_number',
  'to_number',
  'phone_number_id',
  'assistant_id',
  'media_url',
  'status',
  'reason',
  'carrier_status',
  'carrier_seq',
  'created_at',
  'answered_at',
  'ended_at',
  'duration_sec',
  'end_reason',
  'media_claimed_at',
] as const;

class Calls implements CallRepo {
  /** Hand-prepared: this insert is on every call's path (docs/architecture.md). */
  private readonly insertStmt: Statement<unknown[]>;
  private readonly claimStmt: Statement<unknown[]>;
  private readonly bindStmt: Statement<unknown[]>;
  private readonly byId;
  private readonly byCarrierId;
  constructor(private readonly c: Conn) {
    this.byId = c.r
      .select()
      .from(calls)
      .where(eq(calls.id, sql.placeholder('id')))
      .prepare();
    this.byCarrierId = c.r
      .select()
      .from(calls)
      .where(and(eq(calls.carrier, sql.placeholder('carrier')), eq(calls.carrierCallId, sql.placeholder('carrierCallId'))))
      .prepare();
    this.insertStmt = c.w.$client.prepare(
      `INSERT INTO calls (${CALL_COLUMNS.join(', ')}) VALUES (${CALL_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (carrier, carrier_call_id) DO NOTHING`,
    );
    this.claimStmt = c.w.$client.prepare('UPDATE calls SET media_claimed_at = ? WHERE id = ? AND media_claimed_at IS NULL');
    this.bindStmt = c.w.$client.prepare('UPDATE calls SET carrier_call_id = ? WHERE id = ? AND carrier_call_id IS NULL');
  }
  insertBatch(batch: readonly Call[]) {
    return write(this.c, () => {
      const db = this.c.w.$client;
      const run = () =>
        batch.map(
          (x) =>
            this.insertStmt.run(
              x.id,
              x.teamId,
              x.direction,
              x.carrier,
              x.carrierCallId,
              x.from,
              x.to,
              x.phoneNumberId,
              x.assistantId,
              x.mediaUrl,
              x.status,
              x.reason,
              x.carrierStatus,
              x.carrierSeq,
              x.createdAt,
              x.answeredAt,
              x.endedAt,
              x.durationSec,
              x.endReason,
              x.mediaClaimedAt,
            ).changes === 1,
        );
      // Inside a transaction already (the writer holds one): just run.
      return db.inTransaction ? run() : db.transaction(run).immediate();
    });
  }
  get(id: string) {
    return read(() => this.byId.get({ id }));
  }
  getByCarrierId(carrier: string, carrierCallId: string) {
    return read(() => this.byCarrierId.get({ carrier, carrierCallId }));
  }
  update(id: string, patch: Partial<Call>) {
    return write(this.c, () => void this.c.w.update(calls).set(patch).where(eq(calls.id, id)).run());
  }
  bindCarrierCallId(id: string, carrierCallId: string) {
    return write(this.c, () => this.bindStmt.run(carrierCallId, id).changes === 1).catch((err: unknown) => {
      if (err instanceof UniqueViolation) return false; // another call has that id
      throw err;
    });
  }
  claimMedia(id: string, now: number) {
    return write(this.c, () => this.claimStmt.run(now, id).changes === 1);
  }
  failUnstreamed(from: number, inboundBefore: number, outboundBefore: number, now: number) {
    return write(
      this.c,
      () =>
        this.c.w.$client
          .prepare(
            `UPDATE calls SET status = 'failed', reason = COALESCE(reason, 'stream_never_opened'), ended_at = ?
              WHERE created_at >= ? AND created_at < ? AND status = 'routed' AND media_claimed_at IS NULL
                AND ((direction = 'inbound' AND created_at < ?) OR (direction = 'outbound' AND created_at < ?))`,
          )
          .run(now, from, Math.max(inboundBefore, outboundBefore), inboundBefore, outboundBefore).changes,
    );
  }
  list(f: CallListFilter) {
    return read(() => {
      const conds: SQL[] = [];
      if (f.teamId) conds.push(eq(calls.teamId, f.teamId));
      if (f.assistantId) conds.push(eq(calls.assistantId, f.assistantId));
      if (f.phoneNumberId) conds.push(eq(calls.phoneNumberId, f.phoneNumberId));
      if (f.status) conds.push(eq(calls.status, f.status));
      if (f.before) conds.push(keyset(calls.createdAt, calls.id, f.before));
      return this.c.r
        .select()
        .from(calls)
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(desc(calls.createdAt), desc(calls.id))
        .limit(f.limit)
        .all();
    });
  }
}

// ------------------------------------------------------------------ the rest

class Idempotency implements IdempotencyRepo {
  constructor(private readonly c: Conn) {}
  get(scope: string, key: string) {
    return read(() =>
      this.c.r
        .select({ requestHash: idempotencyKeys.requestHash, status: idempotencyKeys.status, body: idempotencyKeys.body })
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)))
        .get(),
    );
  }
  insert(scope: string, key: string, r: StoredResponse, now: number) {
    return write(
      this.c,
      () =>
        void this.c.w
          .insert(idempotencyKeys)
          .values({ scope, key, ...r, createdAt: now })
          .run(),
    );
  }
  prune(olderThan: number) {
    return write(this.c, () => this.c.w.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, olderThan)).run().changes);
  }
  delete(scope: string, key: string) {
    return write(
      this.c,
      () =>
        void this.c.w
          .delete(idempotencyKeys)
          .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)))
          .run(),
    );
  }
}

class DriftFindings implements DriftRepo {
  constructor(private readonly c: Conn) {}
  replace(provider: string, found: readonly Drift[]) {
    return write(this.c, () =>
      this.c.w.$client
        .transaction(() => {
          const before = new Set(
            this.c.w
              .select({ e164: providerDrift.e164, kind: providerDrift.kind })
              .from(providerDrift)
              .where(eq(providerDrift.provider, provider))
              .all()
              .map((d) => `${d.e164}|${d.kind}`),
          );
          this.c.w.delete(providerDrift).where(eq(providerDrift.provider, provider)).run();
          if (found.length)
            this.c.w
              .insert(providerDrift)
              .values([...found])
              .run();
          return found.filter((d) => !before.has(`${d.e164}|${d.kind}`));
        })
        .immediate(),
    );
  }
  list() {
    return read(() =>
      this.c.r
        .select()
        .from(providerDrift)
        .orderBy(providerDrift.provider, providerDrift.e164)
        .all()
        .map((d) => ({ ...d, kind: d.kind })),
    );
  }
}

class Audit implements AuditRepo {
  constructor(private readonly c: Conn) {}
  record(e: Omit<AuditEvent, 'id'>) {
    return write(
      this.c,
      () =>
        void writesOf(this.c.w.$client).insert(auditEvents, { ...e, id: timeOrderedId(e.createdAt), details: e.details ? JSON.stringify(e.details) : null }),
    );
  }
  list(f: { teamId?: string | undefined; before?: Before | undefined; limit: number }) {
    return read(() => {
      const conds: SQL[] = [];
      if (f.teamId) conds.push(eq(auditEvents.teamId, f.teamId));
      if (f.before) {
        conds.push(or(lt(auditEvents.createdAt, f.before.createdAt), and(eq(auditEvents.createdAt, f.before.createdAt), lt(auditEvents.id, f.before.id)))!);
      }
      return this.c.r
        .select()
        .from(auditEvents)
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
        .limit(f.limit)
        .all()
        .map((r) => ({ ...r, action: r.action as AuditAction, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null }));
    });
  }
}

class Meta implements MetaRepo {
  constructor(private readonly c: Conn) {}
  get(key: string) {
    return read(() => this.c.r.select({ value: meta.value }).from(meta).where(eq(meta.key, key)).get()?.value);
  }
  setIfAbsent(key: string, value: string) {
    return write(this.c, () => {
      this.c.w.insert(meta).values({ key, value }).onConflictDoNothing().run();
      return this.c.w.select({ value: meta.value }).from(meta).where(eq(meta.key, key)).get()!.value;
    });
  }
}

export function sqliteRepos(c: Conn): Repos {
  return {
    teams: new Teams(c),
    tokens: new Tokens(c),
    assistants: new Assistants(c),
    numbers: new Numbers(c),
    calls: new Calls(c),
    idempotency: new Idempotency(c),
    audit: new Audit(c),
    meta: new Meta(c),
    drift: new DriftFindings(c),
  };
}

/** The repositories plus the routing writes; only ever built on the writer, inside a routing transaction. */
export function sqliteRoutingRepos(c: Conn): RoutingRepos {
  const w = c.w;
  return {
    ...sqliteRepos(c),
    routingWrites: {
      insertNumber: (n: PhoneNumber) => write(c, () => void writesOf(w.$client).insert(phoneNumbers, n)),
      transitionNumber: (id, from, patch) =>
        write(c, () => writesOf(w.$client).update(phoneNumbers, patch, `id = ? AND status IN (${marks(from.length)})`, [id, ...from]).changes === 1),
      setNumberAssistant: (id, assistantId, now) =>
        write(c, () => void w.update(phoneNumbers).set({ assistantId, updatedAt: now }).where(eq(phoneNumbers.id, id)).run()),
      setAssistantMediaUrl: (id, mediaUrl, now) =>
        write(c, () => void w.update(assistants).set({ mediaUrl, updatedAt: now }).where(eq(assistants.id, id)).run()),
      deleteAssistant: (id, teamId) =>
        write(
          c,
          () =>
            w
              .delete(assistants)
              .where(and(eq(assistants.id, id), eq(assistants.teamId, teamId)))
              .run().changes === 1,
        ),
      setTeamPlan: (id, plan) => write(c, () => void w.update(teams).set({ plan }).where(eq(teams.id, id)).run()),
      makeTrialsPermanent: (teamId, now) =>
        write(
          c,
          () =>
            w
              .update(phoneNumbers)
              .set({ trial: false, expiresAt: null, updatedAt: now })
              .where(and(eq(phoneNumbers.teamId, teamId), eq(phoneNumbers.trial, true), inArray(phoneNumbers.status, [...HELD_STATUSES])))
              .returning()
              .all() as PhoneNumber[],
        ),
    },
  };
}
