/**
 * Assigning numbers to an assistant (PATCH /api/assistants/:id/telephony/phone-numbers):
 * the complete list, set atomically. Numbers on another assistant move;
 * numbers no longer listed become unassigned. Takes effect for new calls
 * before the API answers; calls in progress stay where they were routed.
 */
import type { Clock } from '../clock.js';
import { AppError, notFound } from '../errors.js';
import type { NumberStatus, Principal } from '../domain/types.js';
import type { RoutingTable } from '../routing/routing-table.js';
import { assertTeamAccess } from './access.js';
import { auditNumber } from './numbers/audit-writer.js';
import type { TeamService } from './teams.js';

/** What to do about a number that cannot be assigned, by its status. */
const STATUS_HINT: Partial<Record<NumberStatus, string>> = {
  purchasing: ' (the carrier is still provisioning it: wait until GET /api/phone-numbers/<id> says active, usually a few seconds)',
  error: ' (its purchase failed: buy another number)',
  released: ' (it was released: buy it or another number again)',
  suspended: ' (the operator suspended it: contact the operator)',
};

export class AssignmentService {
  constructor(
    private readonly teams: TeamService,
    private readonly routing: RoutingTable,
    private readonly clock: Clock,
  ) {}

  async assign(p: Principal, assistantId: string, accountSlug: string, phoneNumberIds: string[]): Promise<void> {
    const now = this.clock.now();
    const wanted = [...new Set(phoneNumberIds)];
    const team = await this.teams.bySlug(p, accountSlug);
    await this.routing.mutate(async (tx, touch) => {
      const assistant = await tx.assistants.get(assistantId);
      if (!assistant) throw notFound('Assistant');
      assertTeamAccess(p, assistant.teamId, 'Assistant');
      if (assistant.teamId !== team.id) throw notFound('Assistant');
      const found = new Map((await tx.numbers.getMany(wanted)).map((n) => [n.id, n]));
      const missing = wanted.filter((id) => found.get(id)?.teamId !== team.id);
      if (missing.length) {
        throw new AppError('NOT_FOUND', `Phone number${missing.length > 1 ? 's' : ''} not found in team ${accountSlug}: ${missing.join(', ')}.`, {
          phoneNumberIds: missing,
        });
      }
      const inactive = wanted.map((id) => found.get(id)!).filter((n) => n.status !== 'active');
      if (inactive.length) {
        throw new AppError(
          'NUMBER_NOT_ACTIVE',
          `Only active numbers can be assigned: ${inactive.map((n) => `${n.id} (${n.e164}) is ${n.status}${STATUS_HINT[n.status] ?? ''}`).join('; ')}.`,
          { phoneNumberIds: inactive.map((n) => n.id) },
        );
      }
      const keep = new Set(wanted);
      for (const n of await tx.numbers.onAssistant(assistant.id)) {
        if (keep.has(n.id)) continue;
        await tx.routingWrites.setNumberAssistant(n.id, null, now);
        touch(n.e164);
        await auditNumber(tx, p, 'number.unassign', n, { assistantId: assistant.id }, now);
      }
      for (const id of wanted) {
        const n = found.get(id)!;
        if (n.assistantId === assistant.id) continue;
        await tx.routingWrites.setNumberAssistant(n.id, assistant.id, now);
        touch(n.e164);
        if (n.assistantId) await auditNumber(tx, p, 'number.reassign', { ...n, assistantId: assistant.id }, { fromAssistantId: n.assistantId }, now);
        else await auditNumber(tx, p, 'number.assign', { ...n, assistantId: assistant.id }, null, now);
      }
    });
  }
}
