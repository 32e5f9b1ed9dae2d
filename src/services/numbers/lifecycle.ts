/**
 * A team's numbers after the purchase: read, list, release, and the admin's
 * suspend / reactivate. Every change that affects routing goes through
 * RoutingTable.mutate, so it takes effect before the API answers.
 */
import type { Logger } from 'pino';
import type { NumberProvider, SearchFilters } from '../../carriers/provider.js';
import type { Clock } from '../../clock.js';
import { AppError, notFound } from '../../errors.js';
import type { AvailableNumber, NumberStatus, PhoneNumber, Principal } from '../../domain/types.js';
import type { RoutingTable } from '../../routing/routing-table.js';
import { assertTeamAccess, listScope, requireAdmin } from '../access.js';
import type { Store } from '../ports.js';
import type { TeamService } from '../teams.js';
import { auditNumber } from './audit-writer.js';

export const suspendedError = (n: PhoneNumber) =>
  new AppError(
    'NUMBER_SUSPENDED',
    `${n.e164} (${n.id}) was suspended by the operator: the team cannot release it or buy it again. Contact the operator to have it reactivated or released.`,
  );

export class NumberService {
  constructor(
    private readonly store: Store,
    private readonly teams: TeamService,
    private readonly routing: RoutingTable,
    private readonly provider: NumberProvider,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  search(filters: SearchFilters): Promise<AvailableNumber[]> {
    return this.provider.search(filters);
  }

  async get(p: Principal, id: string): Promise<PhoneNumber> {
    const n = await this.store.numbers.get(id);
    if (!n) throw notFound('Phone number');
    assertTeamAccess(p, n.teamId, 'Phone number');
    return n;
  }

  async list(p: Principal, f: { teamId?: string | undefined; status?: NumberStatus | undefined; assistantId?: string | undefined }): Promise<PhoneNumber[]> {
    const teamId = listScope(p, f.teamId);
    if (teamId) await this.teams.get(p, teamId);
    // No lookup of the assistant: another team's id and an unknown one both
    // give an empty list (no existence oracle).
    return this.store.numbers.list({ teamId, status: f.status, assistantId: f.assistantId });
  }

  /** Releases a number: unassigned, back to the pool. Calls in progress continue. */
  async release(p: Principal, id: string): Promise<PhoneNumber> {
    const now = this.clock.now();
    const { number, changed } = await this.routing.mutate(async (tx, touch) => {
      const n = await tx.numbers.get(id);
      if (!n) throw notFound('Phone number');
      assertTeamAccess(p, n.teamId, 'Phone number');
      if (n.status === 'released') return { number: n, changed: false };
      // Suspended is an operator's decision: only the operator may release it
      // (else the team could release and buy it back, active again).
      if (n.status === 'suspended' && p.kind !== 'admin') throw suspendedError(n);
      if (n.status !== 'active' && n.status !== 'suspended') {
        throw new AppError('INVALID_STATUS_TRANSITION', `A ${n.status} number cannot be released; only active or suspended ones.`);
      }
      await tx.routingWrites.transitionNumber(n.id, ['active', 'suspended'], { status: 'released', assistantId: null, releasedAt: now, updatedAt: now });
      touch(n.e164);
      await auditNumber(tx, p, 'number.release', n, n.assistantId ? { assistantId: n.assistantId } : null, now);
      return { number: (await tx.numbers.get(n.id))!, changed: true };
    });
    if (changed && number.orderId)
      await this.provider.release(number.e164, number.orderId).catch((err: unknown) => this.log.warn({ err }, 'release at carrier'));
    return number;
  }

  /** Admin: active ↔ suspended. A suspended number keeps its assistant but rejects calls. */
  async setStatus(p: Principal, id: string, status: 'active' | 'suspended'): Promise<PhoneNumber> {
    requireAdmin(p, 'suspend or reactivate numbers');
    const now = this.clock.now();
    return this.routing.mutate(async (tx, touch) => {
      const n = await tx.numbers.get(id);
      if (!n) throw notFound('Phone number');
      if (n.status === status) return n;
      const from: NumberStatus = status === 'suspended' ? 'active' : 'suspended';
      if (n.status !== from) {
        throw new AppError('INVALID_STATUS_TRANSITION', `A ${n.status} number cannot become ${status}; only ${from} ones can.`);
      }
      await tx.routingWrites.transitionNumber(n.id, [from], { status, updatedAt: now });
      touch(n.e164);
      await auditNumber(tx, p, status === 'suspended' ? 'number.suspend' : 'number.reactivate', n, null, now);
      return (await tx.numbers.get(n.id))!;
    });
  }
}
