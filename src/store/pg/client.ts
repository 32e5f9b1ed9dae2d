/**
 * PostgreSQL connections (node-postgres): a pool for queries and
 * transactions, migrations applied at start under an advisory lock (several
 * instances starting at once apply them once), and the driver's errors in
 * the port's terms.
 */
import pg from 'pg';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import * as schema from '../../../db/pg/schema.js';
import { PG_MIGRATIONS_DIR } from '../../paths.js';
import { StoreUnavailable, UniqueViolation } from '../../services/ports.js';

export type PgDb = NodePgDatabase<typeof schema>;

// int8 (bigint) comes back as a string by default; every bigint here is a
// millisecond time or a sequence number, far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/** Advisory lock keys (any two distinct 64-bit numbers; these spell "sb-migr" and "sb-route"). */
export const MIGRATION_LOCK = 0x73622d6d696772n;
export const ROUTING_LOCK = 0x73622d726f757465n;

/** Connection-level failures: the request cannot be served now, nothing the client did. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** PostgreSQL's errors, in the port's terms. Anything else is a bug and passes through. */
export function mapError(err: unknown): unknown {
  if (err instanceof UniqueViolation || err instanceof StoreUnavailable) return err;
  // drizzle wraps the driver's error ("Failed query: ...", cause: the pg error): look down the chain.
  for (
    let e = err as { code?: unknown; constraint?: unknown; message?: unknown; cause?: unknown } | null, depth = 0;
    e && depth < 4;
    e = e.cause as typeof e, depth++
  ) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    if (code === '23505') return new UniqueViolation(typeof e.constraint === 'string' ? e.constraint : 'unique');
    if (code !== undefined && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) {
      return new StoreUnavailable(`PostgreSQL is unreachable (${code})`, { cause: err });
    }
    const message = typeof e.message === 'string' ? e.message : '';
    if (
      /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect|Connection ended|not queryable/i.test(
        message,
      )
    ) {
      return new StoreUnavailable(`PostgreSQL connection lost: ${message}`, { cause: err });
    }
  }
  return err;
}

export function createPool(url: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // A dead server must fail a request in seconds (the carrier's 15 s window), not hang it.
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'switchboard',
  });
  // An idle client whose connection died: the pool drops it; without a
  // listener the 'error' event would end the process.
  pool.on('error', () => {});
  return pool;
}

/** Applies the generated migrations once, whichever instances start together. */
export async function migrateOnce(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, application_name: 'switchboard-migrate' });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new StoreUnavailable(describeConnectError(err), { cause: err });
  }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
    await migrate(drizzle(client, { schema }), { migrationsFolder: PG_MIGRATIONS_DIR });
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Why connecting failed, without the URL (the caller names SWITCHBOARD_DB, password hidden). */
export function describeConnectError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e.code === 'ECONNREFUSED') return 'nothing accepts connections at that host and port (is PostgreSQL running?)';
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return 'the host name does not resolve';
  if (e.code === '28P01' || e.code === '28000') return 'the server refused the user or password';
  if (e.code === '3D000') return 'the database does not exist (create it first: createdb <name>)';
  return e.message ?? String(err);
}

export { schema };
