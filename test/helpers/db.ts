/**
 * The database under test. `npm test` runs on SQLite files; the integration
 * tier sets SWITCHBOARD_TEST_PG_URL and the very same tests run on a real
 * PostgreSQL server, each gateway on a database of its own, copied from a
 * template that already has the migrations and the simulated inventory.
 *
 * TestSql is the tests' own connection to that database, for reading (and,
 * in crash and recovery tests, tampering with) rows directly: `?`
 * placeholders on both dialects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

/** Set by the integration tier: a server URL (its `postgres` database) to make test databases on. */
export const PG_URL = process.env.SWITCHBOARD_TEST_PG_URL;
export const DIALECT: 'sqlite' | 'postgres' = PG_URL ? 'postgres' : 'sqlite';
/** The database every test database is copied from (made by the tier's global setup). */
export const PG_TEMPLATE = 'switchboard_template';

pg.types.setTypeParser(20, (v) => Number(v));

const dbUrl = (name: string) => {
  const u = new URL(PG_URL!);
  u.pathname = `/${name}`;
  return u.toString();
};

let counter = 0;

export interface TestDb {
  /** SWITCHBOARD_DB for the gateway: a file path or a postgres:// URL. */
  target: string;
  /** Removes the database (the folder, or DROP DATABASE). */
  remove(): Promise<void>;
}

export interface NewTestDbOptions {
  /** SQLite: the folder of the file (it need not exist; remove() removes it). Default: a new temp folder. */
  dir?: string;
  /**
   * PostgreSQL: a database with nothing in it (no migrations, no inventory),
   * for tests of what a gateway does on a new database. SQLite: no difference
   * (the file does not exist until a gateway opens it).
   */
  empty?: boolean;
}

/** A new database for a gateway (SQLite: a file not yet created, in a new temp folder; PostgreSQL: a copy of the template, or an empty one). */
export async function newTestDb({ dir, empty = false }: NewTestDbOptions = {}): Promise<TestDb> {
  if (!PG_URL) {
    const folder = dir ?? mkdtempSync(join(tmpdir(), 'switchboard-test-'));
    return { target: join(folder, 'switchboard.db'), remove: async () => rmSync(folder, { recursive: true, force: true }) };
  }
  const name = `sbt_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    // Copying the template takes a lock on it; two workers at once wait or retry.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(empty ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${PG_TEMPLATE}`);
        break;
      } catch (err) {
        if (attempt > 20 || !/being accessed by other users/.test(String((err as Error).message))) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  } finally {
    await admin.end();
  }
  return {
    target: dbUrl(name),
    remove: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface TestSql {
  all<T = Record<string, unknown>>(query: string, ...params: unknown[]): Promise<T[]>;
  get<T = Record<string, unknown>>(query: string, ...params: unknown[]): Promise<T | undefined>;
  /** The first column of the first row. */
  value<T = unknown>(query: string, ...params: unknown[]): Promise<T>;
  /** Rows changed. */
  run(query: string, ...params: unknown[]): Promise<number>;
  /** The application's table names. */
  tables(): Promise<string[]>;
  close(): Promise<void>;
}

/** `?` → `$1, $2, ...` (no `?` inside the tests' string literals). */
const numbered = (q: string) => {
  let i = 0;
  return q.replace(/\?/g, () => `$${++i}`);
};

export interface TestSqlOptions {
  /**
   * Look, do not touch. SQLite: the file is opened read-only and must exist
   * (closing the connection then leaves a WAL as it was, e.g. the one a killed
   * process left for the next start to recover); PostgreSQL: every
   * transaction is read-only.
   */
  readonly?: boolean;
}

export function testSql(target: string, { readonly = false }: TestSqlOptions = {}): TestSql {
  if (!/^postgres/.test(target)) {
    let db: Database.Database | null = null;
    const conn = () => {
      if (!db) {
        db = readonly ? new Database(target, { readonly: true, fileMustExist: true }) : new Database(target);
        db.pragma('busy_timeout = 5000');
      }
      return db;
    };
    const norm = (p: unknown[]) => p.map((v) => (typeof v === 'boolean' ? Number(v) : v));
    return {
      all: async <T>(q: string, ...p: unknown[]) =>
        conn()
          .prepare(q)
          .all(...norm(p)) as T[],
      get: async <T>(q: string, ...p: unknown[]) =>
        conn()
          .prepare(q)
          .get(...norm(p)) as T | undefined,
      value: async <T>(q: string, ...p: unknown[]) =>
        conn()
          .prepare(q)
          .pluck()
          .get(...norm(p)) as T,
      run: async (q: string, ...p: unknown[]) =>
        conn()
          .prepare(q)
          .run(...norm(p)).changes,
      tables: async () =>
        (
          conn().prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%'").all() as Array<{
            name: string;
          }>
        ).map((r) => r.name),
      close: async () => {
        db?.close();
        db = null;
      },
    };
  }
  let client: pg.Client | null = null;
  const conn = async () => {
    if (!client) {
      client = new pg.Client({ connectionString: target, ...(readonly ? { options: '-c default_transaction_read_only=on' } : {}) });
      client.on('error', () => {});
      await client.connect();
    }
    return client;
  };
  const query = async (q: string, p: unknown[]) => (await conn()).query(numbered(q), p);
  return {
    all: async <T>(q: string, ...p: unknown[]) => (await query(q, p)).rows as T[],
    get: async <T>(q: string, ...p: unknown[]) => (await query(q, p)).rows[0] as T | undefined,
    value: async <T>(q: string, ...p: unknown[]) => {
      const r = await query(q, p);
      const row = r.rows[0] as Record<string, unknown> | undefined;
      return (row ? Object.values(row)[0] : undefined) as T;
    },
    run: async (q: string, ...p: unknown[]) => (await query(q, p)).rowCount ?? 0,
    tables: async () =>
      (
        (await query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '__drizzle%'", [])).rows as Array<{
          tablename: string;
        }>
      ).map((r) => r.tablename),
    close: async () => {
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
