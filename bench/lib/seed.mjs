/**
 * Seeds a benchmark database: the schema through the real migrations (the
 * store's own openers in the build, dist/src/store/*), then plain SQL
 * inserts: one team, `assistants` assistants, `numbers` active, assigned
 * phone numbers, and optionally `inventory` free numbers in the simulated
 * carrier's inventory. The target is a SQLite path or a postgres:// URL, as
 * SWITCHBOARD_DB takes it. 1,000,000 numbers take ~10 s on SQLite.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { closeDb, openDb } from '../../dist/src/store/sqlite/client.js';
import { migrateOnce } from '../../dist/src/store/pg/client.js';

// Real US area codes; with exchanges 200-999 (no N11, no 555) and 10,000
// line numbers each, the sequence below has over 300 million valid numbers.
const AREA_CODES = [
  201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256,
  260, 262, 267, 269, 270, 276, 281, 301, 302,
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

/** Inventory numbers start here, so they never overlap the held numbers. */
export const INVENTORY_FIRST = 10_000_000;

export const isPg = (target) => /^postgres(ql)?:\/\//i.test(target);

/** Seeds `target` (a SQLite path or a postgres:// URL); returns { teamId }. */
export async function seed(target, o) {
  return isPg(target) ? seedPg(target, o) : seedSqlite(target, o);
}

function seedSqlite(path, { numbers, assistants = 50, inventory = 0, mediaUrl = 'ws://127.0.0.1:9/assistant' }) {
  const db = openDb({ path }); // pragmas and the generated migrations
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
         assistant_id, trial, expires_at, provider, provider_number_id, imported, order_id, failure_reason, last_used_at,
         created_at, activated_at, released_at, updated_at)
       VALUES (?, ?, ?, 'US', 'local', ?, NULL, NULL, 115, 'USD', 'active', ?, 0, NULL, 'sim', NULL, 0, NULL, NULL, NULL, ?, ?, NULL, ?)`,
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
      for (let i = 0; i < inventory; i++) {
        const e164 = benchNumber(INVENTORY_FIRST + i);
        insI.run(e164, e164.slice(2, 5));
      }
    }
  }).immediate();
  c.pragma('wal_checkpoint(TRUNCATE)');
  closeDb(db);
  return { teamId };
}

async function seedPg(url, { numbers, assistants = 50, inventory = 0, mediaUrl = 'ws://127.0.0.1:9/assistant' }) {
  await migrateOnce(url);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const now = Date.now();
  const teamId = randomUUID();
  try {
    await c.query('BEGIN');
    await c.query(`INSERT INTO teams (id, slug, name, plan, created_at) VALUES ($1, 'bench', 'Bench', 'enterprise', $2)`, [teamId, now]);
    const ids = Array.from({ length: assistants }, () => randomUUID());
    await c.query(
      `INSERT INTO assistants (id, team_id, name, media_url, created_at, updated_at)
       SELECT id, $2, 'a' || (ord - 1), $3, $4, $4 FROM unnest($1::text[]) WITH ORDINALITY AS t(id, ord)`,
      [ids, teamId, mediaUrl, now],
    );
    // Batches of arrays through unnest: one statement per 20,000 rows.
    const BATCH = 20_000;
    for (let b = 0; b < numbers; b += BATCH) {
      const n = Math.min(BATCH, numbers - b);
      const rowIds = [],
        e164s = [],
        areas = [],
        asst = [];
      for (let i = b; i < b + n; i++) {
        const e164 = benchNumber(i);
        rowIds.push(randomUUID());
        e164s.push(e164);
        areas.push(e164.slice(2, 5));
        asst.push(ids[i % ids.length]);
      }
      await c.query(
        `INSERT INTO phone_numbers (id, e164, team_id, country_code, number_type, area_code, monthly_cost, currency, status,
           assistant_id, trial, provider, imported, created_at, activated_at, updated_at)
         SELECT id, e164, $5, 'US', 'local', area, 115, 'USD', 'active', asst, false, 'sim', false, $6, $6, $6
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(id, e164, area, asst)`,
        [rowIds, e164s, areas, asst, teamId, now],
      );
    }
    for (let b = 0; b < inventory; b += BATCH) {
      const n = Math.min(BATCH, inventory - b);
      const e164s = [],
        areas = [];
      for (let i = b; i < b + n; i++) {
        const e164 = benchNumber(INVENTORY_FIRST + i);
        e164s.push(e164);
        areas.push(e164.slice(2, 5));
      }
      await c.query(
        `INSERT INTO sim_inventory (e164, country_code, number_type, area_code, city, region, monthly_cost, currency, order_id)
         SELECT e164, 'US', 'local', area, 'Bench City', 'CA', 115, 'USD', NULL FROM unnest($1::text[], $2::text[]) AS t(e164, area)`,
        [e164s, areas],
      );
    }
    await c.query('COMMIT');
    await c.query('VACUUM ANALYZE');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await c.end();
  }
  return { teamId };
}
