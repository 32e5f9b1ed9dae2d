/**
 * The sweep: releases expired trial numbers (expiries missed while every
 * process was down included) and fails purchases the carrier has not
 * confirmed within the deadline. One process at a time runs it (a lease in
 * the database); each transition is conditional anyway, so two sweeps could
 * never release one trial twice.
 */
import type { Logger } from 'pino';
import type { NumberProvider } from '../../carriers/provider.js';
import type { Clock } from '../../clock.js';
import type { RoutingTable } from '../../routing/routing-table.js';
import type { Store } from '../ports.js';
import { auditNumber } from './audit-writer.js';
import { NO_EVENTS, type NumberEvents } from './events.js';
import type { ProvisioningService } from './provisioning.js';

/** How often the sweep compares the carrier's holds with our numbers (listing them is not free at a real carrier). */
export const RECONCILE_MS = 60_000;

export class Sweeper {
  events: NumberEvents = NO_EVENTS;
  private reconciledAt = -Infinity;

  constructor(
    private readonly store: Store,
    private readonly routing: RoutingTable,
    private readonly provider: NumberProvider,
    private readonly provisioning: ProvisioningService,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * What a start does when another process holds the sweeper's lease. That
   * may be this process's predecessor, killed: its lease outlives it for up to
   * its term, and meanwhile nobody would settle the purchases it left (an
   * order the carrier completed while nobody listened stays `purchasing`) or
   * give back the carrier holds it dropped. Both steps are conditional, so
   * they may overlap a live leader's sweep.
   */
  async catchUp(): Promise<{ resumed: number; settled: number; timedOut: number; released: number }> {
    const recovered = await this.provisioning.recover();
    this.reconciledAt = this.clock.now();
    return { ...recovered, released: await this.provisioning.reconcileHolds() };
  }

  async sweep(): Promise<{ expired: number; timedOut: number; resumed: number; settled: number }> {
    // Purchases left by a crash, orders a carrier settled while nobody listened.
    const recovered = await this.provisioning.recover();
    const { resumed, settled } = recovered;
    const now = this.clock.now();
    // Carrier holds a crash (or a failed release) left without a holder: on
    // the first sweep, then now and then.
    if (now - this.reconciledAt >= RECONCILE_MS) {
      this.reconciledAt = now;
      await this.provisioning.reconcileHolds();
    }
    let expired = 0;
    for (const n of await this.store.numbers.expiredTrials(now)) {
      const done = await this.routing.mutate(async (tx, touch) => {
        // Not a suspended one: releasing it would hand it back to the team (it
        // could buy it again, active). It expires once the operator
        // reactivates it, or the operator releases it.
        const moved = await tx.routingWrites.transitionNumber(n.id, ['active'], { status: 'released', assistantId: null, releasedAt: now, updatedAt: now });
        if (!moved) return false;
        touch(n.e164);
        await auditNumber(tx, 'system', 'number.expire', n, { expiresAt: new Date(n.expiresAt!).toISOString() }, now);
        return true;
      });
      if (done) {
        expired++;
        this.events.trialExpired();
        if (n.orderId) await this.provider.release(n.e164, n.orderId).catch((err: unknown) => this.log.warn({ err }, 'release after expiry'));
      }
    }
    let timedOut = recovered.timedOut;
    for (const n of await this.store.numbers.stalePurchasing(now - this.provisioning.provisionTimeoutMs)) {
      await this.provisioning.fail(n.id, 'provisioning_timeout', n.orderId);
      timedOut++;
    }
    if (expired || timedOut || settled) this.log.info({ expired, timedOut, settled }, 'sweep');
    return { expired, timedOut, resumed, settled };
  }
}
