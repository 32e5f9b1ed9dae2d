/**
 * Opens the store SWITCHBOARD_DB names: a path or ':memory:' → SQLite (the
 * embedded default); postgres://... → PostgreSQL (several instances, several
 * machines). The only place that knows both exist.
 */
import type { Logger } from 'pino';
import type { DbTarget } from '../config.js';
import type { RoutingStore, SimCarrierStore, Store } from '../services/ports.js';

export interface OpenedStore {
  store: Store;
  routing: RoutingStore;
  sim: SimCarrierStore;
}

export interface OpenOptions {
  /** The gateway's clock (ms): routing change-log times. */
  now: () => number;
  /** This process among the instances on the database. */
  instanceId: string;
  log: Logger;
}

export async function openStore(db: DbTarget, o: OpenOptions & { invalidationTimeoutMs: number }): Promise<OpenedStore> {
  if (db.kind === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite/index.js');
    return openSqliteStore(db.path, o.now);
  }
  const { openPgStore } = await import('./pg/index.js');
  return openPgStore(db.url, o);
}
