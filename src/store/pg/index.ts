/**
 * The PostgreSQL store: several stateless gateway instances (on several
 * machines) behind a load balancer, sharing one replicated database.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { StoreUnavailable, type OpenedStore, type Repos, type Store } from '../../services/ports.js';
import { createPool, describeConnectError, mapError, migrateOnce, schema } from './client.js';
import { pgRepos } from './repos.js';
import { PgFeed, PgRoutingStore } from './routing.js';
import { PgSimStore } from './sim.js';

export interface PgStoreOptions {
  now: () => number;
  instanceId: string;
  log: Logger;
  invalidationTimeoutMs: number;
}

export async function openPgStore(url: string, o: PgStoreOptions): Promise<OpenedStore> {
  await migrateOnce(url);
  const pool = createPool(url);
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new StoreUnavailable(describeConnectError(err), { cause: err });
  }
  const db = drizzle(pool, { schema });
  const feed = new PgFeed(pool, { url, instanceId: o.instanceId, boundMs: o.invalidationTimeoutMs, log: o.log.child({ component: 'routing-feed' }) });
  const routing = new PgRoutingStore(db, feed, o.now);

  const store: Store = {
    dialect: 'postgres',
    ...pgRepos(db, pool),
    async transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T> {
      try {
        return await db.transaction((tx) => fn(pgRepos(tx)));
      } catch (err) {
        throw mapError(err);
      }
    },
    async ping() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async tryLease(name, holder, ttlMs) {
      // Database time: instances on several machines compare one clock.
      const r = await db
        .execute(
          sql`INSERT INTO leases (name, holder, expires_at)
              VALUES (${name}, ${holder}, floor(extract(epoch from clock_timestamp()) * 1000)::bigint + ${ttlMs})
              ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
              WHERE leases.expires_at < floor(extract(epoch from clock_timestamp()) * 1000)::bigint OR leases.holder = excluded.holder`,
        )
        .catch((err: unknown) => {
          throw mapError(err);
        });
      return r.rowCount === 1;
    },
    async releaseLease(name, holder) {
      await db.execute(sql`DELETE FROM leases WHERE name = ${name} AND holder = ${holder}`).catch((err: unknown) => {
        throw mapError(err);
      });
    },
    async close() {
      await pool.end().catch(() => {});
    },
  };
  return { store, routing, sim: new PgSimStore(db) };
}
