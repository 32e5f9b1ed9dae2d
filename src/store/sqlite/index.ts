/**
 * The embedded store: one SQLite file (or ':memory:'). `npm start` needs no
 * database server. Several gateway processes on one machine may share a file.
 */
import type { OpenedStore, Repos, Store } from '../../services/ports.js';
import { WriteLock } from '../write-lock.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { closeConnections, openConnections, type SqliteConnections } from './client.js';
import { mapError, sqliteRepos, sqliteRoutingRepos, type Conn } from './repos.js';
import { writesOf } from './writes.js';
import { SqliteRoutingStore } from './routing.js';
import { SqliteSimStore } from './sim.js';

export function openSqliteStore(path: string, now: () => number): OpenedStore {
  const c: SqliteConnections = openConnections(path);
  const lock = new WriteLock();
  const outside: Conn = { r: c.reader, w: c.writer, write: (fn) => lock.sync(fn) };
  const inside: Conn = {
    r: c.writer,
    w: c.writer,
    write: (fn) => {
      try {
        return Promise.resolve(fn());
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
  const repos = sqliteRepos(outside);
  const txRepos = sqliteRoutingRepos(inside);
  const routing = new SqliteRoutingStore(c, lock, txRepos, now);
  const ping = c.reader.$client.prepare('SELECT 1').pluck();
  const leaseStmt = c.writer.$client.prepare(
    `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
     WHERE leases.expires_at < ? OR leases.holder = excluded.holder`,
  );
  const unleaseStmt = c.writer.$client.prepare('DELETE FROM leases WHERE name = ? AND holder = ?');
  let checkpointer: Checkpointer | null = path !== ':memory:' && !path.startsWith('file:') ? startCheckpointer(path) : null;

  const store: Store = {
    dialect: 'sqlite',
    ...repos,
    transaction<T>(fn: (tx: Repos) => Promise<T>): Promise<T> {
      return lock.run(async () => {
        const db = c.writer.$client;
        try {
          writesOf(db).stmt('BEGIN IMMEDIATE').run();
        } catch (err) {
          throw mapError(err);
        }
        try {
          const r = await fn(txRepos);
          writesOf(db).stmt('COMMIT').run();
          return r;
        } catch (err) {
          if (db.inTransaction) writesOf(db).stmt('ROLLBACK').run();
          throw mapError(err);
        }
      });
    },
    async ping() {
      try {
        return ping.get() === 1;
      } catch {
        return false;
      }
    },
    tryLease(name, holder, ttlMs) {
      // Wall-clock time: leases are between processes, whatever clock a test injects.
      const t = Date.now();
      return lock.sync(() => leaseStmt.run(name, holder, t + ttlMs, t).changes === 1);
    },
    releaseLease(name, holder) {
      return lock.sync(() => void unleaseStmt.run(name, holder));
    },
    async close() {
      // Let queued writes finish, then close.
      await lock.run(() => undefined);
      await checkpointer?.stop();
      checkpointer = null;
      closeConnections(c);
    },
  };
  return { store, routing, sim: new SqliteSimStore(outside) };
}
