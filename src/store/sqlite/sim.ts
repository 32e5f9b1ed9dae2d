/** The simulated carrier's tables on SQLite (see SimCarrierStore). */
import { and, asc, eq, isNotNull, isNull, lte, sql } from 'drizzle-orm';
import { simInventory, simOrders } from '../../../db/sqlite/schema.js';
import type { AvailableNumber, NumberType } from '../../domain/types.js';
import type { SimCarrierStore } from '../../services/ports.js';
import type { Conn } from './repos.js';
import { writesOf } from './writes.js';

type InventoryRow = typeof simInventory.$inferSelect;

const toAvailable = (r: InventoryRow): AvailableNumber => ({
  e164: r.e164,
  countryCode: r.countryCode,
  numberType: r.numberType,
  areaCode: r.areaCode,
  city: r.city,
  region: r.region,
  monthlyCost: r.monthlyCost,
  currency: r.currency,
});

export class SqliteSimStore implements SimCarrierStore {
  private readonly quoteQuery;

  constructor(private readonly c: Conn) {
    this.quoteQuery = c.r
      .select()
      .from(simInventory)
      .where(and(eq(simInventory.e164, sql.placeholder('e164')), isNull(simInventory.orderId)))
      .prepare();
  }

  async inventoryEmpty(): Promise<boolean> {
    return !this.c.r.select({ e164: simInventory.e164 }).from(simInventory).limit(1).get();
  }

  loadInventory(rows: readonly AvailableNumber[]): Promise<number> {
    return this.c.write(() => {
      const db = this.c.w.$client;
      // One prepared statement: the query builder costs ~40 µs a row.
      const insert = db.prepare(
        `INSERT INTO sim_inventory (e164, country_code, number_type, area_code, city, region, monthly_cost, currency, order_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
      );
      return db
        .transaction(() => {
          // Re-checked under the write lock: two processes may start on one new file.
          if (db.prepare('SELECT 1 FROM sim_inventory LIMIT 1').get()) return 0;
          for (const r of rows) insert.run(r.e164, r.countryCode, r.numberType, r.areaCode, r.city, r.region, r.monthlyCost, r.currency);
          return rows.length;
        })
        .immediate();
    });
  }

  async search(f: { countryCode: string; numberType: string; areaCode?: string; city?: string; region?: string; limit: number }): Promise<AvailableNumber[]> {
    const conds = [eq(simInventory.countryCode, f.countryCode), eq(simInventory.numberType, f.numberType as NumberType), isNull(simInventory.orderId)];
    if (f.areaCode !== undefined) conds.push(eq(simInventory.areaCode, f.areaCode));
    if (f.city !== undefined) conds.push(eq(simInventory.city, f.city));
    if (f.region !== undefined) conds.push(eq(simInventory.region, f.region));
    return this.c.r
      .select()
      .from(simInventory)
      .where(and(...conds))
      .orderBy(asc(simInventory.e164))
      .limit(f.limit)
      .all()
      .map(toAvailable);
  }

  async places() {
    return this.c.r.selectDistinct({ countryCode: simInventory.countryCode, city: simInventory.city, region: simInventory.region }).from(simInventory).all();
  }

  async quote(e164: string) {
    const row = this.quoteQuery.get({ e164 });
    return row ? toAvailable(row) : undefined;
  }

  placeOrder(o: { id: string; e164: string; outcome: 'active' | 'failed'; readyAt: number; createdAt: number }): Promise<boolean> {
    return this.c.write(() =>
      this.c.w.$client
        .transaction(() => {
          const w = writesOf(this.c.w.$client);
          const held = w.update(simInventory, { orderId: o.id }, 'e164 = ? AND order_id IS NULL', [o.e164]);
          if (held.changes !== 1) return false;
          w.insert(simOrders, { ...o, status: 'pending' });
          return true;
        })
        .immediate(),
    );
  }

  async orderStatus(id: string) {
    return this.c.r.select({ status: simOrders.status }).from(simOrders).where(eq(simOrders.id, id)).get()?.status;
  }

  async holds() {
    return this.c.r
      .select({ e164: simInventory.e164, orderId: simInventory.orderId })
      .from(simInventory)
      .where(isNotNull(simInventory.orderId))
      .all()
      .map((r) => ({ e164: r.e164, orderId: r.orderId! }));
  }

  async holder(e164: string) {
    return this.c.r.select({ orderId: simInventory.orderId }).from(simInventory).where(eq(simInventory.e164, e164)).get()?.orderId ?? null;
  }

  releaseOrder(id: string, e164: string): Promise<void> {
    return this.c.write(() =>
      this.c.w.$client
        .transaction(() => {
          this.c.w.update(simOrders).set({ status: 'released' }).where(eq(simOrders.id, id)).run();
          this.c.w
            .update(simInventory)
            .set({ orderId: null })
            .where(and(eq(simInventory.e164, e164), eq(simInventory.orderId, id)))
            .run();
        })
        .immediate(),
    );
  }

  async pendingOrders() {
    return this.c.r.select({ id: simOrders.id, readyAt: simOrders.readyAt }).from(simOrders).where(eq(simOrders.status, 'pending')).all();
  }

  async dueOrders(now: number) {
    return this.c.r
      .select({ id: simOrders.id })
      .from(simOrders)
      .where(and(eq(simOrders.status, 'pending'), lte(simOrders.readyAt, now)))
      .all()
      .map((r) => r.id);
  }

  completeOrder(id: string): Promise<{ e164: string; outcome: 'active' | 'failed' } | null> {
    return this.c.write(() =>
      this.c.w.$client
        .transaction(() => {
          const w = writesOf(this.c.w.$client);
          const o = w.stmt('SELECT e164, status, outcome FROM sim_orders WHERE id = ?').get(id) as
            { e164: string; status: (typeof simOrders.$inferSelect)['status']; outcome: 'active' | 'failed' } | undefined;
          if (!o || o.status !== 'pending') return null;
          w.update(simOrders, { status: o.outcome }, 'id = ?', [id]);
          if (o.outcome === 'failed') w.update(simInventory, { orderId: null }, 'e164 = ? AND order_id = ?', [o.e164, id]);
          return { e164: o.e164, outcome: o.outcome };
        })
        .immediate(),
    );
  }
}
