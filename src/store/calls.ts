import type { Statement } from 'better-sqlite3';
import { and, desc, eq, lt, or, sql, type SQL } from 'drizzle-orm';
import { immediate, type Db } from '../../db/client.js';
import { calls } from '../../db/schema.js';
import type { Call, CallStatus } from '../domain/types.js';

export interface CallListFilter {
  teamId?: string | undefined;
  assistantId?: string | undefined;
  phoneNumberId?: string | undefined;
  status?: CallStatus | undefined;
  /** Exclusive upper bound (createdAt, id) from a cursor. */
  before?: { createdAt: number; id: string } | undefined;
  limit: number;
}

const COLUMNS = [
  'id', 'team_id', 'direction', 'carrier', 'carrier_call_id', 'from_number', 'to_number', 'phone_number_id',
  'assistant_id', 'media_url', 'status', 'reason', 'carrier_status', 'carrier_seq', 'created_at', 'answered_at',
  'ended_at', 'duration_sec', 'end_reason', 'media_claimed_at',
] as const;

export class CallStore {
  /** Hand-prepared: this insert is on every call's path (see docs/architecture.md). */
  private readonly insertStmt: Statement<unknown[]>;
  private readonly byId;
  private readonly byCarrierId;

  constructor(private readonly db: Db) {
    this.byId = db.select().from(calls).where(eq(calls.id, sql.placeholder('id'))).prepare();
    this.byCarrierId = db
      .select()
      .from(calls)
      .where(and(eq(calls.carrier, sql.placeholder('carrier')), eq(calls.carrierCallId, sql.placeholder('carrierCallId'))))
      .prepare();
    this.insertStmt = db.$client.prepare(
      `INSERT INTO calls (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (carrier, carrier_call_id) DO NOTHING`,
    );
  }

  transaction<T>(fn: () => T): T {
    return immediate(this.db, fn);
  }

  /** Inserts a call; false when a call with the same carrier call id exists already. */
  insert(c: Call): boolean {
    return (
      this.insertStmt.run(
        c.id, c.teamId, c.direction, c.carrier, c.carrierCallId, c.from, c.to, c.phoneNumberId, c.assistantId,
        c.mediaUrl, c.status, c.reason, c.carrierStatus, c.carrierSeq, c.createdAt, c.answeredAt, c.endedAt,
        c.durationSec, c.endReason, c.mediaClaimedAt,
      ).changes === 1
    );
  }

  bindCarrierCallId(id: string, carrierCallId: string): void {
    this.db.$client.prepare('UPDATE calls SET carrier_call_id = ? WHERE id = ? AND carrier_call_id IS NULL').run(carrierCallId, id);
  }

  /** Claims the call's one media stream; false when a stream was opened before (by any process). */
  claimMedia(id: string, now: number): boolean {
    return this.db.$client.prepare('UPDATE calls SET media_claimed_at = ? WHERE id = ? AND media_claimed_at IS NULL').run(now, id).changes === 1;
  }

  get(id: string): Call | undefined {
    return this.byId.get({ id });
  }

  getByCarrierId(carrier: Call['carrier'], carrierCallId: string): Call | undefined {
    return this.byCarrierId.get({ carrier, carrierCallId });
  }

  update(id: string, patch: Partial<Call>): void {
    this.db.update(calls).set(patch).where(eq(calls.id, id)).run();
  }

  /** Newest first, keyset-paginated on (createdAt, id). */
  list(f: CallListFilter): Call[] {
    const conds: SQL[] = [];
    if (f.teamId) conds.push(eq(calls.teamId, f.teamId));
    if (f.assistantId) conds.push(eq(calls.assistantId, f.assistantId));
    if (f.phoneNumberId) conds.push(eq(calls.phoneNumberId, f.phoneNumberId));
    if (f.status) conds.push(eq(calls.status, f.status));
    if (f.before) {
      conds.push(
        or(lt(calls.createdAt, f.before.createdAt), and(eq(calls.createdAt, f.before.createdAt), lt(calls.id, f.before.id)))!,
      );
    }
    return this.db
      .select()
      .from(calls)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(calls.createdAt), desc(calls.id))
      .limit(f.limit)
      .all();
  }
}
