/**
 * Carrier orders after the purchase: their results (the carrier's webhook or
 * the simulator's timer), failures, and recovery after a restart. A number is
 * never left `purchasing` for good: the sweeper fails what the carrier has not
 * confirmed within the deadline, and recover() settles what a crash left.
 */
import type { Logger } from 'pino';
import type { NumberProvider } from '../../carriers/provider.js';
import type { Clock } from '../../clock.js';
import type { PhoneNumber } from '../../domain/types.js';
import type { RoutingTable } from '../../routing/routing-table.js';
import type { Store } from '../ports.js';
import { auditNumber } from './audit-writer.js';
import { NO_EVENTS, type NumberEvents } from './events.js';

/** Longer than any carrier request may take (their clients time out at 15 s): an order still without an id after this was never placed. */
export const ORDER_GRACE_MS = 20_000;

export class ProvisioningService {
  events: NumberEvents = NO_EVENTS;

  constructor(
    private readonly store: Store,
    private readonly routing: RoutingTable,
    private readonly provider: NumberProvider,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** An order unconfirmed this long after purchase fails (api.md: 60 s). */
    readonly provisionTimeoutMs = 60_000,
  ) {}

  /** Places the carrier order for a number we now hold as `purchasing`. */
  async order(n: PhoneNumber): Promise<void> {
    try {
      const { orderId } = await this.provider.placeOrder({
        e164: n.e164,
        countryCode: n.countryCode,
        numberType: n.numberType,
        areaCode: n.areaCode,
        city: n.city,
        region: n.region,
        monthlyCost: n.monthlyCost,
        currency: n.currency,
      });
      // The order's result may already have been applied (a fast carrier);
      // only fill in the order id where it is still missing.
      const now = await this.store.numbers.get(n.id);
      if (now && now.orderId === null) await this.store.numbers.patchQuiet(n.id, { orderId });
      // Given back only if the number let go meanwhile: a suspended one is still held.
      if (now && now.status !== 'purchasing' && now.status !== 'active' && now.status !== 'suspended') await this.provider.release(n.e164, orderId);
    } catch (err) {
      this.log.warn({ err, numberId: n.id }, 'carrier refused the order');
      await this.fail(n.id, 'order_failed', null);
    }
  }

  /**
   * A carrier's order result (its webhook, or the simulator's timer), or what
   * recover() learnt by asking the carrier (then `numberId`: the row it read,
   * and no other). The same result may arrive more than once.
   */
  async applyOrderUpdate(u: { orderId: string; e164: string; status: 'active' | 'failed'; reason?: string }, numberId?: string): Promise<void> {
    const now = this.clock.now();
    const applied = await this.routing.mutate(async (tx, touch): Promise<PhoneNumber | 'held' | null> => {
      const n = await tx.numbers.heldByE164(u.e164);
      // Already applied: the number is held through this very order. A second
      // copy of a result is no order "nobody waits for", and releasing it would
      // leave an active number the carrier no longer holds for us. It comes
      // when recover() asks about an order the carrier is completing at that
      // moment: recover() reads the purchasing rows, the order's timer (or
      // getOrder itself, which completes a due order and notifies the
      // listeners) settles it, the listener applies the result, then recover()
      // applies the answer it got, a second time. Real carriers redeliver
      // webhooks, too.
      if (n && n.status !== 'purchasing' && n.orderId === u.orderId) return 'held';
      if (!n || n.status !== 'purchasing' || (n.orderId !== null && n.orderId !== u.orderId)) return null;
      // recover() read another row: that one let go since (and this is a
      // newer purchase of the number, its own order not yet recorded).
      if (numberId !== undefined && n.id !== numberId) return null;
      if (u.status === 'active') {
        await tx.routingWrites.transitionNumber(n.id, ['purchasing'], { status: 'active', orderId: u.orderId, activatedAt: now, updatedAt: now });
        await auditNumber(tx, 'system', 'number.activate', n, null, now);
      } else {
        const reason = u.reason ?? 'order_failed';
        await tx.routingWrites.transitionNumber(n.id, ['purchasing'], { status: 'error', orderId: u.orderId, failureReason: reason, updatedAt: now });
        await auditNumber(tx, 'system', 'number.fail', n, { reason }, now);
      }
      touch(n.e164);
      return n;
    });
    if (applied === 'held') {
      this.log.info({ orderId: u.orderId }, 'order result already applied');
      return;
    }
    if (!applied && u.status === 'active') {
      // We no longer want this number (timed out, or a stale order): give it back.
      this.log.info({ orderId: u.orderId }, 'carrier confirmed an order nobody waits for; releasing it');
      await this.provider.release(u.e164, u.orderId);
    } else if (applied) {
      const result = u.status === 'active' ? 'active' : 'error';
      this.events.provisioned(result, now - applied.createdAt);
      this.log.info({ numberId: applied.id, status: result, provisionMs: now - applied.createdAt }, 'number provisioned');
    }
  }

  /** Marks a purchasing number as failed and gives it back to the carrier. */
  async fail(numberId: string, reason: string, orderId: string | null): Promise<void> {
    const now = this.clock.now();
    let order = orderId;
    if (order === null) {
      // The order's id was never saved (the process died between placing it
      // and saving its id, or the carrier refused it). Ask the carrier which
      // order holds the number now, while this row still holds it: nobody else
      // can buy the number meanwhile, so that hold is this purchase's (or an
      // orphan nobody wants). Asked after the commit below, the answer could be
      // the next buyer's order, placed in between: releasing that one would
      // leave the next buyer's number active with no hold at the carrier.
      const before = await this.store.numbers.get(numberId);
      if (!before || before.status !== 'purchasing') return;
      order =
        before.orderId ??
        (await this.provider.holdingOrder(before.e164).catch((err: unknown) => {
          // Left for reconcileHolds() to give back.
          this.log.warn({ err }, 'asking the carrier which order holds a failed number');
          return null;
        }));
    }
    const n = await this.routing.mutate(async (tx, touch) => {
      const n = await tx.numbers.get(numberId);
      if (!n || !(await tx.routingWrites.transitionNumber(n.id, ['purchasing'], { status: 'error', failureReason: reason, updatedAt: now }))) return null;
      touch(n.e164);
      await auditNumber(tx, 'system', 'number.fail', n, { reason }, now);
      return n;
    });
    if (n) {
      this.events.provisioned('error', now - n.createdAt);
      this.log.warn({ numberId, reason }, 'number purchase failed');
      const give = order ?? n.orderId;
      if (give) await this.provider.release(n.e164, give).catch((err: unknown) => this.log.warn({ err }, 'release after failure'));
    }
  }

  /**
   * Gives back every carrier hold that no number of ours holds. A number lets
   * go (released, expired, failed: committed) before the carrier is told, and
   * a process killed between the two, or a carrier request that failed, leaves
   * the carrier holding a number nobody has: it would never return to the
   * pool. Safe beside live processes and their purchases: the carrier's list
   * is read first, and a hold is given back only if no row holds its number
   * after that. A purchase inserts its row before it orders, and an order can
   * take only a number the carrier holds for nobody, so a listed hold whose
   * number no row holds belongs to no purchase in flight. A number held by a
   * row (its order id maybe not saved yet) is left alone.
   */
  async reconcileHolds(): Promise<number> {
    let released = 0;
    for (const h of await this.provider.holds()) {
      if (await this.store.numbers.heldByE164(h.e164)) continue;
      await this.provider.release(h.e164, h.orderId);
      released++;
    }
    if (released) this.log.warn({ released }, 'gave back carrier holds no number of ours held');
    return released;
  }

  /**
   * Every number left `purchasing` is resumed (its order is still pending at
   * the carrier) or settled: after a restart, and on every sweep (the
   * sweeper's leader runs it), so none is left waiting forever.
   */
  async recover(): Promise<{ resumed: number; settled: number; timedOut: number }> {
    let resumed = 0;
    let settled = 0;
    let timedOut = 0;
    const now = this.clock.now();
    const deadline = now - this.provisionTimeoutMs;
    for (const n of await this.store.numbers.purchasing()) {
      if (!n.orderId) {
        // No order id: the process that bought it died before (or while)
        // placing the order, or another instance is placing it right now. A
        // carrier request takes at most ORDER_GRACE_MS, so past that, the
        // order was never placed (or its id was lost): settle it.
        if (n.createdAt < now - Math.min(ORDER_GRACE_MS, this.provisionTimeoutMs)) {
          await this.fail(n.id, 'order_not_placed', null);
          settled++;
        } else {
          resumed++;
        }
        continue;
      }
      if (n.createdAt < deadline) {
        // Past the deadline while we were down: the purchase failed, whatever
        // the carrier did meanwhile (api.md: unconfirmed within 60 s = error).
        await this.fail(n.id, 'provisioning_timeout', n.orderId);
        settled++;
        timedOut++;
        continue;
      }
      const status = await this.provider.getOrder(n.orderId);
      if (status === 'active' || status === 'failed') {
        await this.applyOrderUpdate({ orderId: n.orderId, e164: n.e164, status, reason: 'carrier_rejected' }, n.id);
        settled++;
      } else if (status === 'unknown') {
        await this.fail(n.id, 'order_lost', n.orderId);
        settled++;
      } else {
        resumed++;
      }
    }
    return { resumed, settled, timedOut };
  }
}
