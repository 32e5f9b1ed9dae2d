import { and, asc, desc, eq, inArray, isNotNull, lte, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { phoneNumbers } from '../../db/schema.js';
import type { NumberStatus, PhoneNumber } from '../domain/types.js';

export interface NumberListFilter {
  teamId?: string | undefined;
  status?: NumberStatus | undefined;
  assistantId?: string | undefined;
}

export class NumberStore {
  private readonly byId;
  private readonly heldRow;

  constructor(private readonly db: Db) {
    // Built once: these run on every purchase, provisioning result and lookup by id.
    this.byId = db.select().from(phoneNumbers).where(eq(phoneNumbers.id, sql.placeholder('id'))).prepare();
    this.heldRow = db
      .select()
      .from(phoneNumbers)
      .where(and(eq(phoneNumbers.e164, sql.placeholder('e164')), inArray(phoneNumbers.status, ['purchasing', 'active', 'suspended'])))
      .prepare();
  }

  insert(n: PhoneNumber): void {
    this.db.insert(phoneNumbers).values(n).run();
  }

  get(id: string): PhoneNumber | undefined {
    return this.byId.get({ id });
  }

  getMany(ids: string[]): PhoneNumber[] {
    if (ids.length === 0) return [];
    return this.db.select().from(phoneNumbers).where(inArray(phoneNumbers.id, ids)).all();
  }

  /** The row that holds this number now (purchasing, active or suspended), if any. */
  heldByE164(e164: string): PhoneNumber | undefined {
    return this.heldRow.get({ e164 });
  }

  getByOrderId(orderId: string): PhoneNumber | undefined {
    return this.db.select().from(phoneNumbers).where(eq(phoneNumbers.orderId, orderId)).get();
  }

  /** The team's numbers, newest first. Released and failed numbers are history and are listed too. */
  list(f: NumberListFilter): PhoneNumber[] {
    const conds = [];
    if (f.teamId) conds.push(eq(phoneNumbers.teamId, f.teamId));
    if (f.status) conds.push(eq(phoneNumbers.status, f.status));
    if (f.assistantId) conds.push(eq(phoneNumbers.assistantId, f.assistantId));
    return this.db
      .select()
      .from(phoneNumbers)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(phoneNumbers.createdAt), desc(phoneNumbers.id))
      .all();
  }

  idsOnAssistant(assistantId: string): string[] {
    return this.db
      .select({ id: phoneNumbers.id })
      .from(phoneNumbers)
      .where(eq(phoneNumbers.assistantId, assistantId))
      .orderBy(asc(phoneNumbers.createdAt), asc(phoneNumbers.id))
      .all()
      .map((r) => r.id);
  }

  onAssistant(assistantId: string): PhoneNumber[] {
    return this.db.select().from(phoneNumbers).where(eq(phoneNumbers.assistantId, assistantId)).all();
  }

  update(id: string, patch: Partial<PhoneNumber>): void {
    this.db.update(phoneNumbers).set(patch).where(eq(phoneNumbers.id, id)).run();
  }

  /** Sets a status only if the number is still in `from`; returns whether it moved. */
  transition(id: string, from: NumberStatus[], patch: Partial<PhoneNumber> & { status: NumberStatus }): boolean {
    return (
      this.db
        .update(phoneNumbers)
        .set(patch)
        .where(and(eq(phoneNumbers.id, id), inArray(phoneNumbers.status, from)))
        .run().changes === 1
    );
  }

  purchasing(): PhoneNumber[] {
    return this.db.select().from(phoneNumbers).where(eq(phoneNumbers.status, 'purchasing')).all();
  }

  stalePurchasing(createdBefore: number): PhoneNumber[] {
    return this.db
      .select()
      .from(phoneNumbers)
      .where(and(eq(phoneNumbers.status, 'purchasing'), lt(phoneNumbers.createdAt, createdBefore)))
      .all();
  }

  /** Held trial numbers whose expiry has passed (suspended ones wait for the operator). */
  expiredTrials(now: number): PhoneNumber[] {
    return this.db
      .select()
      .from(phoneNumbers)
      .where(
        and(
          inArray(phoneNumbers.status, ['active', 'purchasing']),
          isNotNull(phoneNumbers.expiresAt),
          lte(phoneNumbers.expiresAt, now),
        ),
      )
      .all();
  }

  /** Makes a team's trial numbers permanent (plan upgrade). Returns the numbers changed. */
  makeTrialsPermanent(teamId: string, now: number): PhoneNumber[] {
    return this.db
      .update(phoneNumbers)
      .set({ trial: false, expiresAt: null, updatedAt: now })
      .where(
        and(
          eq(phoneNumbers.teamId, teamId),
          eq(phoneNumbers.trial, true),
          inArray(phoneNumbers.status, ['purchasing', 'active', 'suspended']),
        ),
      )
      .returning()
      .all();
  }

  /** Active, unexpired numbers on an assistant: caller-ID candidates. */
  callerIdCandidates(assistantId: string, now: number): PhoneNumber[] {
    return this.db
      .select()
      .from(phoneNumbers)
      .where(
        and(
          eq(phoneNumbers.assistantId, assistantId),
          eq(phoneNumbers.status, 'active'),
          sql`(${phoneNumbers.expiresAt} IS NULL OR ${phoneNumbers.expiresAt} > ${now})`,
        ),
      )
      .all();
  }
}
