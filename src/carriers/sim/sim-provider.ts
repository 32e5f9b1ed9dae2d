/**
 * The simulated carrier: a real inventory (fixtures/inventory, loaded into its
 * own tables) and asynchronous provisioning with a configurable delay and
 * failure rate. It is the embedded default provider, so `npm start` sells
 * numbers with no carrier account, through the same NumberProvider interface
 * a Twilio or Telnyx provider implements.
 *
 * Its state (inventory holds, orders) is in the same SQLite file, so orders
 * placed before a restart complete after it, as they would at a real carrier.
 */
import { randomUUID } from 'node:crypto';
import { and, asc, eq, isNull, lte, sql } from 'drizzle-orm';
import { immediate, type Db } from '../../../db/client.js';
import { simInventory, simOrders } from '../../../db/schema.js';
import type { Clock } from '../../clock.js';
import type { AvailableNumber } from '../../domain/types.js';
import type { NumberProvider, OrderStatus, OrderUpdate, SearchFilters } from '../provider.js';

export interface SimProviderOptions {
  provisionMs: number;
  failureRate: number;
  clock: Clock;
  /** Source of randomness for failures; injectable for tests. */
  random?: () => number;
  /** Where a failure inside a timer goes (it must not end the process). */
  onError?: (err: unknown) => void;
}

type InventoryRow = typeof simInventory.$inferSelect;

function toAvailable(r: InventoryRow): AvailableNumber {
  return {
    e164: r.e164,
    countryCode: r.countryCode,
    numberType: r.numberType,
    areaCode: r.areaCode,
    city: r.city,
    region: r.region,
    monthlyCost: r.monthlyCost,
    currency: r.currency,
  };
}

export class SimProvider implements NumberProvider {
  readonly name = 'sim';
  private readonly listeners: Array<(u: OrderUpdate) => void> = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private readonly random: () => number;
  /** lower-cased city/region → the spelling stored, per country (matching is case-insensitive, umlauts included). */
  private names: Map<string, string> | null = null;

  private readonly quoteQuery;

  constructor(
    private readonly db: Db,
    private readonly opts: SimProviderOptions,
  ) {
    this.random = opts.random ?? Math.random;
    this.quoteQuery = db
      .select()
      .from(simInventory)
      .where(and(eq(simInventory.e164, sql.placeholder('e164')), isNull(simInventory.orderId)))
      .prepare();
  }

  async search(f: SearchFilters): Promise<AvailableNumber[]> {
    const conds = [
      eq(simInventory.countryCode, f.countryCode),
      eq(simInventory.numberType, f.numberType),
      isNull(simInventory.orderId),
    ];
    if (f.numberType === 'local') {
      if (f.areaCode) conds.push(eq(simInventory.areaCode, f.areaCode));
      if (f.city !== undefined) {
        const city = this.canonical(f.countryCode, 'city', f.city);
        if (city === null) return [];
        conds.push(eq(simInventory.city, city));
      }
      if (f.region !== undefined) {
        const region = this.canonical(f.countryCode, 'region', f.region);
        if (region === null) return [];
        conds.push(eq(simInventory.region, region));
      }
    } else if (f.prefix) {
      conds.push(eq(simInventory.areaCode, f.prefix));
    }
    const rows = this.db
      .select()
      .from(simInventory)
      .where(and(...conds))
      .orderBy(asc(simInventory.e164))
      .limit(f.limit)
      .all();
    return rows.map(toAvailable);
  }

  async quote(e164: string): Promise<AvailableNumber | null> {
    const row = this.quoteQuery.get({ e164 });
    return row ? toAvailable(row) : null;
  }

  async placeOrder(number: AvailableNumber): Promise<{ orderId: string }> {
    const orderId = `SO${randomUUID().replaceAll('-', '')}`;
    const now = this.opts.clock.now();
    const outcome = this.random() < this.opts.failureRate ? 'failed' : 'active';
    const readyAt = now + this.opts.provisionMs;
    immediate(this.db, () => {
      const held = this.db
        .update(simInventory)
        .set({ orderId })
        .where(and(eq(simInventory.e164, number.e164), isNull(simInventory.orderId)))
        .run();
      if (held.changes !== 1) throw new Error(`sim carrier: ${number.e164} is not available`);
      this.db.insert(simOrders).values({ id: orderId, e164: number.e164, status: 'pending', outcome, readyAt, createdAt: now }).run();
    });
    this.arm(orderId, readyAt);
    return { orderId };
  }

  async getOrder(orderId: string): Promise<OrderStatus> {
    const row = this.db.select({ status: simOrders.status }).from(simOrders).where(eq(simOrders.id, orderId)).get();
    if (!row) return 'unknown';
    return row.status === 'released' ? 'failed' : row.status;
  }

  async release(e164: string, orderId: string | null): Promise<void> {
    if (!orderId) {
      // We lost the order id (crashed between ordering and saving it): the
      // hold on this number, if any, is ours; find its order.
      const held = this.db.select({ orderId: simInventory.orderId }).from(simInventory).where(eq(simInventory.e164, e164)).get();
      orderId = held?.orderId ?? null;
    }
    immediate(this.db, () => {
      if (orderId) {
        this.db.update(simOrders).set({ status: 'released' }).where(eq(simOrders.id, orderId)).run();
        this.db
          .update(simInventory)
          .set({ orderId: null })
          .where(and(eq(simInventory.e164, e164), eq(simInventory.orderId, orderId)))
          .run();
      }
    });
    if (orderId) this.disarm(orderId);
  }

  onOrderUpdate(listener: (u: OrderUpdate) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.stopped = false;
    const pending = this.db
      .select({ id: simOrders.id, readyAt: simOrders.readyAt })
      .from(simOrders)
      .where(eq(simOrders.status, 'pending'))
      .all();
    for (const o of pending) this.arm(o.id, o.readyAt);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Completes every pending order whose time has come. Timers call it; tests may too. */
  processDue(): number {
    const now = this.opts.clock.now();
    const due = this.db
      .select()
      .from(simOrders)
      .where(and(eq(simOrders.status, 'pending'), lte(simOrders.readyAt, now)))
      .all();
    for (const o of due) this.complete(o.id);
    return due.length;
  }

  private complete(orderId: string): void {
    this.disarm(orderId);
    const update = immediate(this.db, (): OrderUpdate | null => {
      const o = this.db.select().from(simOrders).where(eq(simOrders.id, orderId)).get();
      if (!o || o.status !== 'pending') return null;
      this.db.update(simOrders).set({ status: o.outcome }).where(eq(simOrders.id, orderId)).run();
      if (o.outcome === 'failed') {
        this.db
          .update(simInventory)
          .set({ orderId: null })
          .where(and(eq(simInventory.e164, o.e164), eq(simInventory.orderId, orderId)))
          .run();
        return { orderId, e164: o.e164, status: 'failed', reason: 'carrier_rejected' };
      }
      return { orderId, e164: o.e164, status: 'active' };
    });
    if (update) for (const l of this.listeners) l(update);
  }

  private arm(orderId: string, readyAt: number): void {
    if (this.stopped) return;
    this.disarm(orderId);
    const delay = Math.max(0, readyAt - this.opts.clock.now());
    const t = setTimeout(() => {
      this.timers.delete(orderId);
      if (this.stopped) return;
      try {
        this.complete(orderId);
      } catch (err) {
        // The order stays pending in sim_orders: the next start() re-arms it,
        // and the gateway's provisioning deadline settles it meanwhile.
        this.opts.onError?.(err);
      }
    }, delay);
    t.unref();
    this.timers.set(orderId, t);
  }

  private disarm(orderId: string): void {
    const t = this.timers.get(orderId);
    if (t) {
      clearTimeout(t);
      this.timers.delete(orderId);
    }
  }

  private canonical(country: string, field: 'city' | 'region', value: string): string | null {
    if (!this.names) {
      this.names = new Map();
      const rows = this.db
        .selectDistinct({ c: simInventory.countryCode, city: simInventory.city, region: simInventory.region })
        .from(simInventory)
        .all();
      for (const r of rows) {
        if (r.city) this.names.set(`${r.c}|city|${r.city.toLowerCase()}`, r.city);
        if (r.region) this.names.set(`${r.c}|region|${r.region.toLowerCase()}`, r.region);
      }
    }
    return this.names.get(`${country}|${field}|${value.trim().toLowerCase()}`) ?? null;
  }
}
