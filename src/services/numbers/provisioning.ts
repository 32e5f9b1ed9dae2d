/**
 * Carrier orders after the purchase: their results (the carrier's webhook or
 * the simulator's timer), failures, and recovery after a restart. A number is
 * never left `purchasing` for good: the sweeper fails what the carrier has not
 * confirmed within the deadline, and recover() settles what a crash left.
 */
import type { Logger } from 'pino';
import { ProviderError, type NumberProvider, type ProviderSet } from '../../providers/provider.js';
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
    private readonly providers: ProviderSet,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** An order unconfirmed this long after purchase fails (api.md: 60 s). */
    readonly provisionTimeoutMs = 60_000,
  ) {}

  /** The provider a number came from. */
  providerOf(n: { provider: string }): NumberProvider {
    const p = this.providers.get(n.provider);
    if (!p) throw new Error(`number provider ${n.provider} is not configured any more`);
    return p;
  }

  /**
   * Places the provider order for a number we now hold as `purchasing`.
   * Resolves when the order is placed (active at once, pending, or unknown);
   * throws the ProviderError when the provider refused it, after the number
   * has been failed (it is not held any more) and `onRefused` has run.
   */
  async order(n: PhoneNumber, onRefused: () => Promise<void>): Promise<void> {
    const provider = this.providerOf(n);
    let placed;
    try {
      placed = await provider.placeOrder(
        {
          e164: n.e164,
          countryCode: n.countryCode,
          numberType: n.numberType,
          areaCode: n.areaCode,
          city: n.city,
          region: n.region,
          monthlyCost: n.monthlyCost,
          currency: n.currency,
        },
        n.id,
      );
    } catch (err) {
      const reason = err instanceof ProviderError ? `provider_${err.kind}` : 'order_failed';
      this.log.warn({ err: err instanceof Error ? err.message : String(err), numberId: n.id, provider: provider.name }, 'provider refused the order');
      await this.fail(n.id, reason, null, { release: false });
      await onRefused();
      throw err;
    }
    if (placed.outcome === 'active') {
      await this.applyOrderUpdate({ orderId: placed.orderId, e164: n.e164, status: 'active', providerNumberId: placed.providerNumberId });
      return;
    }
    // The order's result may already have been applied (a fast carrier):
    // only fill in the order id where it is still missing.
    const now = await this.store.numbers.get(n.id);
    if (now && now.orderId === null) await this.store.numbers.patchQuiet(n.id, { orderId: placed.orderId });
    // Given back only if the number let go meanwhile: a suspended one is still held.
    if (now && now.status !== 'purchasing' && now.status !== 'active' && now.status !== 'suspended') await provider.release(n.e164, placed.orderId, null);
  }

  /**
   * A carrier's order result (its webhook, or the simulator's timer), or what
   * recover() learnt by asking the carrier (then `numberId`: the row it read,
   * and no other). The same result may arrive more than once.
   */
  async applyOrderUpdate(
    u: { orderId: string; e164: string; status: 'active' | 'failed'; reason?: string; providerNumberId?: string | undefined },
    numberId?: string,
  ): Promise<void> {
    const now = this.clock.now();
    // Already applied: a confirmation that comes twice (a carrier's retried
    // webhook, or the recovery sweep racing the carrier's own confirmation).
    // The number is still ours; giving its order back would leave it active
    // with nothing held at the carrier.
    let current = false;
    const applied = await this.routing.mutate(async (tx, touch) => {
      const n = await tx.numbers.heldByE164(u.e164);
      current = n !== undefined && n.status !== 'purchasing' && n.orderId === u.orderId;
      if (!n || n.status !== 'purchasing' || (n.orderId !== null && n.orderId !== u.orderId)) return null;
      // recover() read another row: that one let go since, and this is a newer
      // purchase of the number (its own order not recorded yet).
      if (numberId !== undefined && n.id !== numberId) return null;
      if (u.status === 'active') {
        await tx.routingWrites.transitionNumber(n.id, ['purchasing'], {
          status: 'active',
          orderId: u.orderId,
          providerNumberId: u.providerNumberId ?? n.providerNumberId,
          activatedAt: now,
          updatedAt: now,
        });
        await auditNumber(tx, 'system', 'number.activate', n, null, now);
      } else {
        const reason = u.reason ?? 'order_failed';
        await tx.routingWrites.transitionNumber(n.id, ['purchasing'], { status: 'error', orderId: u.orderId, failureReason: reason, updatedAt: now });
        await auditNumber(tx, 'system', 'number.fail', n, { reason }, now);
      }
      touch(n.e164);
      return n;
    });
    if (current) {
      this.log.info({ orderId: u.orderId }, 'order result already applied');
    } else if (!applied && u.status === 'active') {
      // We no longer want this number (timed out, or a stale order): give it back.
      this.log.info({ orderId: u.orderId }, 'carrier confirmed an order nobody waits for; releasing it');
      const owner = (await this.store.numbers.list({ status: 'error' })).find((x) => x.orderId === u.orderId) ?? null;
      const provider = owner ? this.providerOf(owner) : this.providers.all().find((p) => p.name === this.providers.defaultName)!;
      await provider.release(u.e164, u.orderId, u.providerNumberId ?? null);
    } else if (applied) {
      const result = u.status === 'active' ? 'active' : 'error';
      this.events.provisioned(result, now - applied.createdAt);
      this.log.info({ numberId: applied.id, status: result, provisionMs: now - applied.createdAt }, 'number provisioned');
    }
  }

  /** Marks a purchasing number as failed and (unless told not to) gives it back to the carrier. */
  async fail(numberId: string, reason: string, orderId: string | null, o: { release?: boolean } = {}): Promise<void> {
    const now = this.clock.now();
    let order = orderId;
    if (order === null && o.release !== false) {
      // The order's id was never saved (the process died between placing it
      // and saving its id). Where the provider's holds are our orders, ask
      // which order holds the number now, while this row still holds it:
      // nobody else can buy the number meanwhile, so that hold is this
      // purchase's (or an orphan nobody wants). Asked after the commit below,
      // the answer could be the next buyer's order, placed in between.
      const before = await this.store.numbers.get(numberId);
      if (!before || before.status !== 'purchasing') return;
      const provider = this.providers.get(before.provider);
      order =
        before.orderId ??
        (provider?.holdingOrder
          ? await provider.holdingOrder(before.e164).catch((err: unknown) => {
              // Left for reconcileHolds() to give back.
              this.log.warn({ err }, 'asking the provider which order holds a failed number');
              return null;
            })
          : null);
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
      if (o.release !== false) {
        await this.providerOf(n)
          .release(n.e164, order ?? n.orderId, n.providerNumberId)
          .catch((err: unknown) => this.log.warn({ err }, 'release after failure'));
      }
    }
  }

  /**
   * Gives back every hold our orders have at a provider that no number of
   * ours holds (the simulated carrier; real accounts are reconciled, never
   * released behind the operator's back). A number lets go (released,
   * expired, failed: committed) before the provider is told, and a process
   * killed between the two, or a provider request that failed, leaves a hold
   * nobody has: it would never return to the pool. Safe beside live processes
   * and their purchases: the provider's list is read first, and a hold is
   * given back only if no row holds its number after that. A purchase inserts
   * its row before it orders, and an order can take only a number held for
   * nobody, so a listed hold whose number no row holds belongs to no purchase
   * in flight.
   */
  async reconcileHolds(): Promise<number> {
    let released = 0;
    for (const provider of this.providers.all()) {
      if (!provider.holds) continue;
      for (const h of await provider.holds()) {
        if (await this.store.numbers.heldByE164(h.e164)) continue;
        await provider.release(h.e164, h.orderId, null);
        released++;
      }
    }
    if (released) this.log.warn({ released }, 'gave back provider holds no number of ours held');
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
    const pending = new Map<NumberProvider, Array<{ orderId: string; e164: string }>>();
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
      const provider = this.providerOf(n);
      const order = await provider.getOrder(n.orderId, n.e164).catch((err: unknown) => {
        // The provider cannot say now: ask again next sweep (the deadline still holds).
        this.log.warn({ err: err instanceof Error ? err.message : String(err), numberId: n.id }, 'provider order status unavailable');
        return { status: 'pending' as const };
      });
      if (order.status === 'active' || order.status === 'failed') {
        await this.applyOrderUpdate(
          { orderId: n.orderId, e164: n.e164, status: order.status, reason: order.reason ?? 'carrier_rejected', providerNumberId: order.providerNumberId },
          n.id,
        );
        settled++;
      } else {
        // pending, or unknown (the provider cannot tell yet): ask again on the next sweep; the deadline still holds.
        const list = pending.get(provider) ?? [];
        list.push({ orderId: n.orderId, e164: n.e164 });
        pending.set(provider, list);
        resumed++;
      }
    }
    // Providers that poll (Telnyx) follow the orders still pending, whoever placed them.
    for (const [provider, orders] of pending) for (const o of orders) provider.track?.(o.orderId, o.e164);
    return { resumed, settled, timedOut };
  }
}
