/** The simulated carrier's tables on PostgreSQL (see SimCarrierStore). */
import { and, asc, eq, isNotNull, isNull, lte, sql } from 'drizzle-orm';
import type { AvailableNumber, NumberType } from '../../domain/types.js';
import type { SimCarrierStore } from '../../services/ports.js';
import { mapError, schema, type PgDb } from './client.js';

const { simInventory, simOrders } = schema;
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

async function q<T>(p: PromiseLike<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw mapError(err);
  }
}

export class PgSimStore implements SimCarrierStore {
  constructor(private readonly db: PgDb) {}

  async inventoryEmpty(): Promise<boolean> {
    return (await q(this.db.select({ e164: simInventory.e164 }).from(simInventory).limit(1))).length === 0;
  }

  loadInventory(rows: readonly AvailableNumber[]): Promise<number> {
    return q(
      this.db.transaction(async (tx) => {
        // Several instances may start on a new database together: one loads.
        await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended('sim-inventory', 0))`);
        if ((await tx.select({ e164: simInventory.e164 }).from(simInventory).limit(1)).length) return 0;
        for (let i = 0; i < rows.length; i += 1000) {
          await tx.insert(simInventory).values(rows.slice(i, i + 1000).map((r) => ({ ...r, orderId: null })));
        }
        return rows.length;
      }),
    );
  }

  async search(f: { countryCode: string; numberType: string; areaCode?: string; city?: string; region?: string; limit: number }): Promise<AvailableNumber[]> {
    const conds = [eq(simInventory.countryCode, f.countryCode), eq(simInventory.numberType, f.numberType as NumberType), isNull(simInventory.orderId)];
    if (f.areaCode !== undefined) conds.push(eq(simInventory.areaCode, f.areaCode));
    if (f.city !== undefined) conds.push(eq(simInventory.city, f.city));
    if (f.region !== undefined) conds.push(eq(simInventory.region, f.region));
    const rows = await q(
      this.db
        .select()
        .from(simInventory)
        .where(and(...conds))
        .orderBy(asc(simInventory.e164))
        .limit(f.limit),
    );
    return rows.map(toAvailable);
  }

  places() {
    return q(this.db.selectDistinct({ countryCode: simInventory.countryCode, city: simInventory.city, region: simInventory.region }).from(simInventory));
  }

  async quote(e164: string) {
    const row = (
      await q(
        this.db
          .select()
          .from(simInventory)
          .where(and(eq(simInventory.e164, e164), isNull(simInventory.orderId))),
      )
    )[0];
    return row ? toAvailable(row) : undefined;
  }

  placeOrder(o: { id: string; e164: string; outcome: 'active' | 'failed'; readyAt: number; createdAt: number }): Promise<boolean> {
    return q(
      this.db.transaction(async (tx) => {
        const held = await tx
          .update(simInventory)
          .set({ orderId: o.id })
          .where(and(eq(simInventory.e164, o.e164), isNull(simInventory.orderId)))
          .returning({ e164: simInventory.e164 });
        if (held.length !== 1) return false;
        await tx.insert(simOrders).values({ ...o, status: 'pending' });
        return true;
      }),
    );
  }

  async orderStatus(id: string) {
    return (await q(this.db.select({ status: simOrders.status }).from(simOrders).where(eq(simOrders.id, id))))[0]?.status;
  }

  async holds() {
    const rows = await q(this.db.select({ e164: simInventory.e164, orderId: simInventory.orderId }).from(simInventory).where(isNotNull(simInventory.orderId)));
    return rows.map((r) => ({ e164: r.e164, orderId: r.orderId! }));
  }

  async holder(e164: string) {
    return (await q(this.db.select({ orderId: simInventory.orderId }).from(simInventory).where(eq(simInventory.e164, e164))))[0]?.orderId ?? null;
  }

  async releaseOrder(id: string, e164: string): Promise<void> {
    await q(
      this.db.transaction(async (tx) => {
        await tx.update(simOrders).set({ status: 'released' }).where(eq(simOrders.id, id));
        await tx
          .update(simInventory)
          .set({ orderId: null })
          .where(and(eq(simInventory.e164, e164), eq(simInventory.orderId, id)));
      }),
    );
  }

  pendingOrders() {
    return q(this.db.select({ id: simOrders.id, readyAt: simOrders.readyAt }).from(simOrders).where(eq(simOrders.status, 'pending')));
  }

  async dueOrders(now: number) {
    return (
      await q(
        this.db
          .select({ id: simOrders.id })
          .from(simOrders)
          .where(and(eq(simOrders.status, 'pending'), lte(simOrders.readyAt, now))),
      )
    ).map((r) => r.id);
  }

  completeOrder(id: string): Promise<{ e164: string; outcome: 'active' | 'failed' } | null> {
    return q(
      this.db.transaction(async (tx) => {
        // Settled once, whichever instance's timer fires first: the row lock makes the others wait and find it settled.
        const o = (await tx.select().from(simOrders).where(eq(simOrders.id, id)).for('update'))[0];
        if (!o || o.status !== 'pending') return null;
        await tx.update(simOrders).set({ status: o.outcome }).where(eq(simOrders.id, id));
        if (o.outcome === 'failed') {
          await tx
            .update(simInventory)
            .set({ orderId: null })
            .where(and(eq(simInventory.e164, o.e164), eq(simInventory.orderId, id)));
        }
        return { e164: o.e164, outcome: o.outcome };
      }),
    );
  }
}
