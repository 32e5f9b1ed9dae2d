/**
 * Test harness: a real gateway on a real database with the real migrations: a
 * SQLite file in a temporary folder, or (integration tier) a fresh PostgreSQL
 * database. Tests drive it through supertest (no port) or, with listen(),
 * over real sockets on port 0. `sql` is the test's own connection to it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import { expect } from 'vitest';
import { ManualClock, type Clock } from '../../src/clock.js';
import { loadConfig, type Config } from '../../src/config.js';
import { providerFake } from './provider-under-test.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { newTestDb, testSql, type TestDb, type TestSql } from './db.js';

export const ADMIN_TOKEN = 'sb_admin_test_0123456789abcdef';

export interface TestGateway {
  gw: Gateway;
  /** SWITCHBOARD_DB: the SQLite file, or the PostgreSQL URL (restart tests reopen it). */
  dbPath: string;
  dir: string;
  /** The test's own connection to the gateway's database. */
  sql: TestSql;
  clock: Clock;
  /** Every log line written, parsed. */
  logs: Array<Record<string, unknown>>;
  api: ReturnType<typeof request>;
  admin: { Authorization: string };
  /** Orders for this number that reached the provider under test (the simulated carrier's, or the fake's). */
  providerOrders(e164: string): Promise<number>;
  close(): Promise<void>;
}

export function tempDir(prefix = 'switchboard-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface StartOptions extends Partial<Omit<GatewayOptions, 'config'>> {
  env?: Record<string, string>;
  /** Reuse a database (restart tests): a file path or a PostgreSQL URL from an earlier TestGateway. */
  dbPath?: string;
  /** Do not call start() (tests that drive recovery by hand). */
  noStart?: boolean;
  /** Keep the folder when closing (restart tests remove it themselves). */
  keepDir?: boolean;
}

/** Databases made for gateways, by target: removed with the last gateway that does not keep it. */
const made = new Map<string, TestDb>();

export async function startGateway(o: StartOptions = {}): Promise<TestGateway> {
  let dbPath = o.dbPath;
  if (!dbPath) {
    const db = await newTestDb();
    made.set(db.target, db);
    dbPath = db.target;
  }
  const dir = /^postgres/.test(dbPath) ? tempDir() : join(dbPath, '..');
  const fake = await providerFake(o.env ?? {});
  const config: Config = loadConfig({
    SWITCHBOARD_DB: dbPath,
    SWITCHBOARD_ADMIN_TOKEN: ADMIN_TOKEN,
    SWITCHBOARD_SECRET: 'test-secret-0123456789abcdef0123456789',
    SIM_PROVISION_MS: '0',
    SWITCHBOARD_SWEEP_MS: '3600000',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    // Tests send hundreds of requests a second with one token; the rate-limit
    // tests set their own limits.
    SWITCHBOARD_API_RATE: '1000000',
    SWITCHBOARD_API_BURST: '1000000',
    SWITCHBOARD_AUTH_FAILURE_LIMIT: '1000000',
    ...o.env,
    ...fake?.env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  const clock = o.clock ?? new ManualClock(Date.now());
  const { env: _env, dbPath: _db, noStart, keepDir, ...rest } = o;
  const gw = await createGateway({ config, clock, log: createLogger('info', sink), ...rest });
  if (!noStart) await gw.start();
  if (fake?.listening) {
    // The provider's fake calls back (Telnyx's order webhooks): the gateway must listen.
    const { port } = await gw.listen();
    fake.listening(`http://127.0.0.1:${port}`);
  }
  const sql = testSql(dbPath);
  return {
    gw,
    dbPath,
    dir,
    sql,
    clock,
    logs,
    api: request(gw.server),
    admin: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    async providerOrders(e164: string) {
      if (fake) return fake.ordersFor(e164);
      return Number(await sql.value('SELECT count(*) FROM sim_orders WHERE e164 = ?', e164));
    },
    async close() {
      await gw.close();
      await sql.close();
      await fake?.close();
      if (!keepDir) {
        rmSync(dir, { recursive: true, force: true });
        const db = made.get(dbPath);
        if (db) {
          made.delete(dbPath);
          await db.remove();
        }
      }
    },
  };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** Creates a team through the API; returns its id, slug and token headers. */
export async function createTeam(t: TestGateway, slug: string, plan = 'starter') {
  const res = await t.api.post('/api/teams').set(t.admin).send({ name: slug, slug, plan }).expect(201);
  return { id: res.body.team.id as string, slug, token: res.body.token as string, auth: bearer(res.body.token) };
}

/** Searches and returns the first n available numbers for a country. */
export async function availableNumbers(t: TestGateway, countryCode = 'US', n = 1, filters: Record<string, unknown> = {}): Promise<string[]> {
  const res = await t.api
    .post('/api/phone-numbers/search')
    .set(t.admin)
    .send({ filters: { countryCode, limit: 20, ...filters } })
    .expect(200);
  const nums = (res.body.numbers as Array<{ phoneNumber: string }>).map((x) => x.phoneNumber);
  if (nums.length < n) throw new Error(`only ${nums.length} numbers available`);
  return nums.slice(0, n);
}

/** Waits until fn returns a truthy value or the time runs out. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000, stepMs = 10): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Buys a number and waits until it is active. */
export async function buyActive(t: TestGateway, team: { id: string; auth: Record<string, string> }, e164: string) {
  const res = await t.api.post('/api/phone-numbers/purchase').set(team.auth).send({ phoneNumber: e164, teamId: team.id }).expect(201);
  const id = res.body.phoneNumber.id as string;
  await eventually(async () => (await t.api.get(`/api/phone-numbers/${id}`).set(team.auth)).body.phoneNumber?.status === 'active');
  return id;
}

/** Is the number offered by search? (Searches its own area code; the listing is sorted by number.) */
export async function offered(t: TestGateway, e164: string): Promise<boolean> {
  const res = await t.api
    .post('/api/phone-numbers/search')
    .set(t.admin)
    .send({ filters: { countryCode: 'US', areaCode: e164.slice(2, 5), limit: 20 } })
    .expect(200);
  return (res.body.numbers as Array<{ phoneNumber: string }>).some((n) => n.phoneNumber === e164);
}

/** The team's numbersHeld, read with its own token. */
export async function numbersHeld(t: TestGateway, team: { id: string; auth: Record<string, string> }): Promise<number> {
  return (await t.api.get(`/api/teams/${team.id}`).set(team.auth).expect(200)).body.team.numbersHeld as number;
}

/** GET /api/phone-numbers/:id with the team's token; the phoneNumber. */
export async function getNumber(t: TestGateway, team: { auth: Record<string, string> }, id: string) {
  return (await t.api.get(`/api/phone-numbers/${id}`).set(team.auth).expect(200)).body.phoneNumber;
}

export interface ErrorChecks {
  /** The Content-Type is application/json. */
  json?: boolean;
  /** error.message is a string. */
  messageString?: boolean;
  /** error.message is not empty. */
  messageNonEmpty?: boolean;
}

/** An API error answer: the status, then error.code, and whichever of the other checks are asked for. */
export function expectApiError(res: { status: number; body: any; headers?: Record<string, string> }, status: number, code: string, o: ErrorChecks = {}): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  if (o.json) expect(res.headers?.['content-type']).toMatch(/^application\/json/);
  expect(res.body.error.code).toBe(code);
  if (o.messageString) expect(typeof res.body.error.message).toBe('string');
  if (o.messageNonEmpty) expect(res.body.error.message.length).toBeGreaterThan(0);
}
