import { randomUUID } from 'node:crypto';
import { and, desc, eq, lt, or, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { auditEvents } from '../../db/schema.js';

export type AuditAction =
  | 'number.purchase'
  | 'number.activate'
  | 'number.fail'
  | 'number.assign'
  | 'number.unassign'
  | 'number.reassign'
  | 'number.release'
  | 'number.suspend'
  | 'number.reactivate'
  | 'number.expire'
  | 'team.plan_change'
  | 'token.create'
  | 'token.revoke';

export interface AuditEvent {
  id: string;
  teamId: string;
  actor: string;
  action: AuditAction;
  phoneNumberId: string | null;
  e164: string | null;
  assistantId: string | null;
  details: Record<string, unknown> | null;
  createdAt: number;
}

export class AuditStore {
  constructor(private readonly db: Db) {}

  record(e: Omit<AuditEvent, 'id'>): void {
    this.db
      .insert(auditEvents)
      .values({ ...e, id: randomUUID(), details: e.details ? JSON.stringify(e.details) : null })
      .run();
  }

  list(f: { teamId?: string | undefined; before?: { createdAt: number; id: string } | undefined; limit: number }): AuditEvent[] {
    const conds: SQL[] = [];
    if (f.teamId) conds.push(eq(auditEvents.teamId, f.teamId));
    if (f.before) {
      conds.push(
        or(lt(auditEvents.createdAt, f.before.createdAt), and(eq(auditEvents.createdAt, f.before.createdAt), lt(auditEvents.id, f.before.id)))!,
      );
    }
    return this.db
      .select()
      .from(auditEvents)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
      .limit(f.limit)
      .all()
      .map((r) => ({ ...r, action: r.action as AuditAction, details: r.details ? JSON.parse(r.details) : null }));
  }
}
