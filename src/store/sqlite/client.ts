/**
 * Opens the embedded SQLite database: pragmas, then the generated migrations.
 * The pragmas and what they cost are explained in docs/storage.md.
 *
 * Two connections on one file: a writer (every write and transaction, one at
 * a time through the WriteLock) and a reader (reads outside transactions),
 * so a read never sees another request's uncommitted transaction. With WAL,
 * the reader sees each commit as soon as it is made. ':memory:' has one
 * connection (an in-memory database cannot be shared); it is for experiments.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from '../../../db/sqlite/schema.js';
import { SQLITE_MIGRATIONS_DIR } from '../../paths.js';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export interface OpenDbOptions {
  /** SQLite file, or ':memory:'. The folder is created if missing. */
  path: string;
}

export interface SqliteConnections {
  writer: Db;
  /** The writer itself for ':memory:'. */
  reader: Db;
}

export function openConnections(path: string): SqliteConnections {
  const writer = openDb({ path });
  if (path === ':memory:') return { writer, reader: writer };
  return { writer, reader: connect(path) };
}

export function closeConnections(c: SqliteConnections): void {
  if (c.reader !== c.writer) closeDb(c.reader);
  closeDb(c.writer);
}

/** A connection with the pragmas, no migrations (the writer ran them). */
function connect(path: string): Db {
  const sqlite = new Database(path);
  pragmas(sqlite);
  const db = drizzle(withStatementCache(sqlite), { schema }) as Db;
  (db as { $client: Database.Database }).$client = sqlite;
  return db;
}

export function openDb({ path }: OpenDbOptions): Db {
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  pragmas(sqlite);
  // drizzle prepares its SQL again on every query; give it a client that
  // reuses statements (same SQL text, same statement). Our own hand-prepared
  // statements use $client, the plain database, and keep their modes.
  const db = drizzle(withStatementCache(sqlite), { schema }) as Db;
  (db as { $client: Database.Database }).$client = sqlite;
  migrateWithRetry(db);
  return db;
}

function pragmas(sqlite: Database.Database): void {
  // WAL: readers never block the writer and several gateway processes can
  // share one file. synchronous=NORMAL: a commit survives a process crash
  // (the WAL is written before the commit returns); only an OS crash or power
  // loss can lose the last commits, see docs/storage.md.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // Another process holding the write lock makes us wait, not fail.
  sqlite.pragma('busy_timeout = 5000');
  // Checkpoints normally run in a worker (checkpointer.ts); this larger
  // automatic threshold (~40 MB of WAL) is only the safety net.
  sqlite.pragma('wal_autocheckpoint = 10000');
}

/**
 * A view of the database whose prepare() returns a cached statement for SQL
 * it has seen. Statements are synchronous, so one object can serve every
 * caller; drizzle sets raw mode itself where it wants arrays, so a cached
 * statement is handed out in the default (object) mode.
 */
function withStatementCache(sqlite: Database.Database, max = 1000): Database.Database {
  const cache = new Map<string, Database.Statement>();
  const prepare = (source: string) => {
    let stmt = cache.get(source);
    if (stmt) {
      if (stmt.reader) stmt.raw(false);
      return stmt;
    }
    stmt = sqlite.prepare(source);
    if (cache.size >= max) cache.clear();
    cache.set(source, stmt);
    return stmt;
  };
  return new Proxy(sqlite, {
    get(target, prop) {
      if (prop === 'prepare') return prepare;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/**
 * drizzle's migrator reads the applied migrations before it takes the write
 * lock, so two processes starting on one new file can both try to apply the
 * first migration. The loser sees "already exists"; by then the winner has
 * committed, and running again applies nothing.
 */
function migrateWithRetry(db: Db): void {
  for (let attempt = 1; ; attempt++) {
    try {
      migrate(db, { migrationsFolder: SQLITE_MIGRATIONS_DIR });
      return;
    } catch (err) {
      if (attempt >= 5 || !/already exists|SQLITE_BUSY|database is locked/i.test(errorChain(err))) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 * attempt);
    }
  }
}

/**
 * The error's message and code with those of its causes: drizzle wraps the
 * SQLite error ("table ... already exists") in a DrizzleError whose own
 * message is only "Failed to run the query ...".
 */
function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e != null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(String(e), String((e as { code?: unknown }).code ?? ''));
  }
  return parts.join(' ');
}

export function closeDb(db: Db): void {
  if (db.$client.open) db.$client.close();
}
