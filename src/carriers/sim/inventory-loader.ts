/**
 * Loads the simulated carrier's inventory (fixtures/inventory/*.csv, made by
 * scripts/generate-inventory.mjs) into its table on first start.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { immediate, type Db } from '../../../db/client.js';
import { simInventory } from '../../../db/schema.js';

const HEADER = 'phoneNumber,countryCode,numberType,areaCode,city,region,monthlyCost,currency';

export type InventoryRow = typeof simInventory.$inferInsert;

export function parseInventoryCsv(text: string, file = 'inventory'): InventoryRow[] {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines[0] !== HEADER) throw new Error(`${file}: unexpected header ${JSON.stringify(lines[0])}`);
  return lines.slice(1).map((line, i) => {
    const f = line.split(',');
    if (f.length !== 8) throw new Error(`${file}:${i + 2}: expected 8 fields, got ${f.length}`);
    const [e164, countryCode, numberType, areaCode, city, region, cost, currency] = f as [string, string, string, string, string, string, string, string];
    if (numberType !== 'local' && numberType !== 'toll-free') throw new Error(`${file}:${i + 2}: bad numberType ${numberType}`);
    return {
      e164,
      countryCode,
      numberType,
      areaCode,
      city: city || null,
      region: region || null,
      monthlyCost: Number(cost),
      currency,
      orderId: null,
    };
  });
}

/** Inserts the inventory if the table is empty. Returns the number of rows inserted. */
export function loadInventoryIfEmpty(db: Db, dir: string): number {
  const any = db.select({ e164: simInventory.e164 }).from(simInventory).limit(1).get();
  if (any) return 0;
  const files = readdirSync(dir).filter((f) => f.endsWith('.csv')).sort();
  let n = 0;
  // One prepared statement: the query builder costs ~40 µs a row, which made
  // every first start (and every test gateway) spend most of a second here.
  const insert = db.$client.prepare(
    `INSERT INTO sim_inventory (e164, country_code, number_type, area_code, city, region, monthly_cost, currency, order_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
  );
  immediate(db, () => {
    // Re-check inside the write lock: two processes may start on one new file.
    if (db.select({ e164: simInventory.e164 }).from(simInventory).limit(1).get()) return;
    for (const file of files) {
      for (const r of parseInventoryCsv(readFileSync(join(dir, file), 'utf8'), file)) {
        insert.run(r.e164, r.countryCode, r.numberType, r.areaCode, r.city ?? null, r.region ?? null, r.monthlyCost, r.currency);
        n++;
      }
    }
  });
  return n;
}
