/**
 * Seeds a benchmark database straight through SQL (the migrations come from
 * the real build): one team, `assistants` assistants, and `numbers` active,
 * assigned phone numbers. 1,000,000 numbers take ~10 s.
 */
import { randomUUID } from 'node:crypto';
import { openDb, closeDb } from '../../dist/db/client.js';

// Real US area codes; with exchanges 200-999 (no N11, no 555) and 10,000
// line numbers each, the sequence below has over 300 million valid numbers.
const AREA_CODES = [
  201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228,
  229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 276, 281, 301, 302,
];
const EXCHANGES = [];
for (let x = 200; x <= 999; x++) if (x % 100 !== 11 && x !== 555) EXCHANGES.push(x);

/** The i-th synthetic number: a valid US number, distinct for every i. */
export function benchNumber(i) {
  const npa = AREA_CODES[i % AREA_CODES.length];
  const rest = Math.floor(i / AREA_CODES.length);
  const nxx = EXCHANGES[rest % EXCHANGES.length];
  const line = Math.floor(rest / EXCHANGES.length);
  return `+1${npa}${nxx}${String(line).padStart(4, '0')}`;
}

export function seed(path, { numbers, assistants = 50, inventory = 0, mediaUrl = 'ws://127.0.0.1:9/assistant' }) {
  const db = openDb({ path });
  const c = db.$client;
  const now = Date.now();
  const teamId = randomUUID();
  c.transaction(() => {
    c.prepare(`INSERT INTO teams (id, slug, name, plan, created_at) VALUES (?, 'bench', 'Bench', 'enterprise', ?)`).run(teamId, now);
    const insA = c.prepare(`INSERT INTO assistants (id, team_id, name, media_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`);
    const ids = [];
    for (let i = 0; i < assistants; i++) {
      const id = randomUUID();
      ids.push(id);
      insA.run(id, teamId, `a${i}`, mediaUrl, now, now);
    }
    const insN = c.prepare(
      `INSERT INTO phone_numbers (id, e164, team_id, country_code, number_type, area_code, city, region, monthly_cost, currency, status,
         assistant_id, trial, expires_at, order_id, failure_reason, last_used_at, created_at, activated_at, released_at, updated_at)
       VALUES (?, ?, ?, 'US', 'local', ?, NULL, NULL, 115, 'USD', 'active', ?, 0, NULL, NULL, NULL, NULL, ?, ?, NULL, ?)`,
    );
    for (let i = 0; i < numbers; i++) {
      const e164 = benchNumber(i);
      insN.run(randomUUID(), e164, teamId, e164.slice(2, 5), ids[i % ids.length], now, now, now);
    }
    if (inventory > 0) {
      const insI = c.prepare(
        `INSERT INTO sim_inventory (e164, country_code, number_type, area_code, city, region, monthly_cost, currency, order_id)
         VALUES (?, 'US', 'local', ?, 'Bench City', 'CA', 115, 'USD', NULL)`,
      );
      // Offset so the inventory never overlaps the held numbers above.
      for (let i = 0; i < inventory; i++) {
        const e164 = benchNumber(10_000_000 + i);
        insI.run(e164, e164.slice(2, 5));
      }
    }
  }).immediate();
  c.pragma('wal_checkpoint(TRUNCATE)');
  closeDb(db);
  return { teamId };
}
