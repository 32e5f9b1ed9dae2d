/**
 * Loads the simulated carrier's inventory (fixtures/inventory/*.csv, made by
 * scripts/generate-inventory.mjs) into its table on first start.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AvailableNumber } from '../../domain/types.js';
import type { SimCarrierStore } from '../../services/ports.js';

const HEADER = 'phoneNumber,countryCode,numberType,areaCode,city,region,monthlyCost,currency';

export function parseInventoryCsv(text: string, file = 'inventory'): AvailableNumber[] {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines[0] !== HEADER) throw new Error(`${file}: unexpected header ${JSON.stringify(lines[0])}`);
  return lines.slice(1).map((line, i) => {
    const f = line.split(',');
    if (f.length !== 8) throw new Error(`${file}:${i + 2}: expected 8 fields, got ${f.length}`);
    const [e164, countryCode, numberType, areaCode, city, region, cost, currency] = f as [string, string, string, string, string, string, string, string];
    if (numberType !== 'local' && numberType !== 'toll-free') throw new Error(`${file}:${i + 2}: bad numberType ${numberType}`);
    return { e164, countryCode, numberType, areaCode, city: city || null, region: region || null, monthlyCost: Number(cost), currency };
  });
}

/** Inserts the inventory if the table is empty (one process wins a race on a new database). Returns the rows inserted. */
export async function loadInventoryIfEmpty(sim: SimCarrierStore, dir: string): Promise<number> {
  if (!(await sim.inventoryEmpty())) return 0;
  const rows: AvailableNumber[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort()) {
    rows.push(...parseInventoryCsv(readFileSync(join(dir, file), 'utf8'), file));
  }
  return sim.loadInventory(rows);
}
