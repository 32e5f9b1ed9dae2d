/** One audit line per change to a number, written in the same transaction as the change. */
import type { PhoneNumber, Principal } from '../../domain/types.js';
import { actorOf } from '../access.js';
import type { AuditAction, Repos } from '../ports.js';

export function auditNumber(
  tx: Repos,
  who: Principal | 'system',
  action: AuditAction,
  n: PhoneNumber,
  details: Record<string, unknown> | null,
  now: number,
): Promise<void> {
  return tx.audit.record({
    teamId: n.teamId,
    // 'system': changes nobody asked for in that request (provisioning results, expiries).
    actor: who === 'system' ? 'system' : actorOf(who),
    action,
    phoneNumberId: n.id,
    e164: n.e164,
    assistantId: n.assistantId,
    details,
    createdAt: now,
  });
}
