// The routing table on a real database with the real migrations (SQLite in
// `npm test`, PostgreSQL in the integration tier): the LRU, invalidation
// through mutate(), and the cross-process path (the change feed) that makes
// "takes effect immediately" (api.md section 3, "Assign and unassign") true
// for every gateway process sharing the database.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NumberStatus, PhoneNumber } from '../../src/domain/types.js';
import { RoutingTable } from '../../src/routing/routing-table.js';
import type { RoutingStore, Store } from '../../src/services/ports.js';
import { openStore } from '../../src/store/open.js';
import { newTestDb, testSql, type TestDb, type TestSql } from '../helpers/db.js';

const HOUR = 60 * 60_000;
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

let db: TestDb;
let sql: TestSql;
let opened: Array<{ store: Store; routing: RoutingStore }>;
let clock: number;
const now = () => clock;

/** One "process": its own connections to the database, its own change feed. */
async function open() {
  const target = /^postgres/.test(db.target) ? ({ kind: 'postgres', url: db.target } as const) : ({ kind: 'sqlite', path: db.target } as const);
  const o = await openStore(target, { now, instanceId: randomUUID(), log: pino({ level: 'silent' }), invalidationTimeoutMs: 2000 });
  await o.routing.feed.start();
  opened.push(o);
  return o;
}

beforeEach(async () => {
  db = await newTestDb();
  sql = testSql(db.target);
  opened = [];
  clock = T0;
});

afterEach(async () => {
  for (const o of opened) {
    await o.routing.feed.stop();
    await o.store.close();
  }
  await sql.close();
  await db.remove();
});

// ---------------------------------------------------------------------------
// Rows, written through the ports.

async function team(s: Store, id: string) {
  await s.teams.insert({ id, slug: id, name: id, plan: 'pro', createdAt: clock });
}

async function assistant(s: Store, id: string, teamId: string, mediaUrl = `wss://${id}.example.com/stream`) {
  await s.assistants.insert({ id, teamId, name: id, mediaUrl, createdAt: clock, updatedAt: clock });
}

function numberRow(
  id: string,
  e164: string,
  teamId: string,
  over: { status?: NumberStatus; assistantId?: string | null; createdAt?: number; expiresAt?: number | null } = {},
): PhoneNumber {
  return {
    id,
    e164,
    teamId,
    countryCode: 'US',
    numberType: 'local',
    areaCode: e164.slice(2, 5),
    city: 'San Francisco',
    region: 'CA',
    monthlyCost: 115,
    currency: 'USD',
    status: over.status ?? 'active',
    assistantId: over.assistantId === undefined ? null : over.assistantId,
    provider: 'sim',
    providerNumberId: null,
    imported: false,
    trial: false,
    expiresAt: over.expiresAt ?? null,
    orderId: null,
    failureReason: null,
    lastUsedAt: null,
    createdAt: over.createdAt ?? clock,
    activatedAt: clock,
    releasedAt: null,
    updatedAt: clock,
  };
}

/** Seeds rows through a routing transaction that touches nothing (nobody has cached them yet). */
async function seedNumbers(routing: RoutingStore, rows: PhoneNumber[]) {
  await routing.transaction(async (tx) => {
    for (const n of rows) await tx.routingWrites.insertNumber(n);
  });
}

const A = '+14155552671';
const B = '+14155552672';
const C = '+14155552673';

/** team t1 with assistants x and y; numbers A and B on x, C on y. */
async function seed(o: { store: Store; routing: RoutingStore }) {
  await team(o.store, 't1');
  await assistant(o.store, 'x', 't1');
  await assistant(o.store, 'y', 't1');
  await seedNumbers(o.routing, [
    numberRow('nA', A, 't1', { assistantId: 'x' }),
    numberRow('nB', B, 't1', { assistantId: 'x' }),
    numberRow('nC', C, 't1', { assistantId: 'y' }),
  ]);
}

/** Moves a number to another assistant through mutate(), as the services do. */
const reassign = (rt: RoutingTable, numberId: string, e164: string, assistantId: string | null) =>
  rt.mutate(async (tx, touch) => {
    await tx.routingWrites.setNumberAssistant(numberId, assistantId, clock);
    touch(e164);
  });

const changeLog = () => sql.all<{ seq: number; e164: string; created_at: number }>('SELECT seq, e164, created_at FROM routing_changes ORDER BY seq');

// ---------------------------------------------------------------------------

describe('RoutingTable, one process', () => {
  it('a miss loads from the database, the next lookup is a hit', async () => {
    const o = await open();
    await seed(o);
    const rt = new RoutingTable(o.routing, { size: 100 });

    const first = await rt.lookup(A);
    expect(first).toEqual({
      e164: A,
      numberId: 'nA',
      teamId: 't1',
      status: 'active',
      assistantId: 'x',
      mediaUrl: 'wss://x.example.com/stream',
      expiresAt: null,
    });
    expect(rt.snapshotStats()).toMatchObject({ hits: 0, misses: 1, size: 1 });
    expect(await rt.lookup(A)).toEqual(first);
    expect(rt.peek(A)).toEqual(first);
    expect(rt.snapshotStats()).toMatchObject({ hits: 2, misses: 1, size: 1 });
  });

  it('an unknown number is null, and remembered in the negative cache', async () => {
    const o = await open();
    await seed(o);
    const rt = new RoutingTable(o.routing, { size: 100 });
    expect(await rt.lookup('+14155550000')).toBeNull();
    expect(await rt.lookup('+14155550000')).toBeNull();
    expect(rt.snapshotStats()).toMatchObject({ hits: 1, misses: 1, size: 0, negativeSize: 1 });
  });

  it('mutate() invalidates the touched number before it returns', async () => {
    const o = await open();
    await seed(o);
    const rt = new RoutingTable(o.routing, { size: 100 });
    expect((await rt.lookup(A))!.assistantId).toBe('x');
    expect(rt.peek(A)!.assistantId).toBe('x'); // cached

    const result = await rt.mutate(async (tx, touch) => {
      await tx.routingWrites.setNumberAssistant('nA', 'y', clock);
      touch(A);
      return 'done';
    });

    expect(result).toBe('done');
    // Not cached any more: the very next lookup reads the new assignment.
    expect(rt.peek(A)).toBeUndefined();
    const after = (await rt.lookup(A))!;
    expect(after.assistantId).toBe('y');
    expect(after.mediaUrl).toBe('wss://y.example.com/stream');
    // B was cached and not touched: it stays cached.
    await rt.lookup(B);
    expect(rt.peek(B)).toBeTruthy();
    // The change log has the row other processes will read.
    expect(await changeLog()).toEqual([{ seq: expect.any(Number), e164: A, created_at: T0 }]);
  });

  it('mutate() forgets a negative entry when a number becomes known', async () => {
    const o = await open();
    await seed(o);
    const rt = new RoutingTable(o.routing, { size: 100 });
    const D = '+14155552674';
    expect(await rt.lookup(D)).toBeNull();
    await rt.mutate(async (tx, touch) => {
      await tx.routingWrites.insertNumber(numberRow('nD', D, 't1', { assistantId: 'y' }));
      touch(D);
    });
    expect((await rt.lookup(D))?.assistantId).toBe('y');
  });

  it('a read that overlapped an invalidation of its number is returned but not cached; reads of other numbers still are', async () => {
    const o = await open();
    await seed(o);
    // The real store, but its answer for A is held back until the test lets
    // it go: the read happened (old assignment) before the change committed.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let readA!: () => void;
    const aWasRead = new Promise<void>((r) => (readA = r));
    const slow: RoutingStore = {
      transaction: (fn) => o.routing.transaction(fn),
      pruneChanges: (t) => o.routing.pruneChanges(t),
      feed: o.routing.feed,
      lookup: async (e164) => {
        const entry = await o.routing.lookup(e164);
        if (e164 === A) readA();
        await gate; // A and B both answer only after the change to A
        return entry;
      },
    };
    const rt = new RoutingTable(slow, { size: 100 });
    const stale = rt.lookup(A);
    await aWasRead;
    const other = rt.lookup(B);
    await reassign(rt, 'nA', A, 'y');
    release();
    expect((await other)!.assistantId).toBe('x');
    expect((await stale)!.assistantId).toBe('x'); // what was read, before the change
    expect(rt.peek(A)).toBeUndefined(); // ...but never served from the cache
    expect(rt.peek(B)).toBeTruthy(); // B's read overlapped only A's change
    expect((await rt.lookup(A))!.assistantId).toBe('y');
    // On PostgreSQL this instance hears its own change back (NOTIFY) at a
    // moment of its own: a read that overlaps that echo is not cached either,
    // so the next reads settle on a cached 'y'.
    for (let i = 0; i < 50 && rt.peek(A) === undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      await rt.lookup(A);
    }
    expect(rt.peek(A)!.assistantId).toBe('y');
  });

  it('a mutate() that throws rolls back and leaves the cache and change log alone', async () => {
    const o = await open();
    await seed(o);
    const rt = new RoutingTable(o.routing, { size: 100 });
    await rt.lookup(A);
    await expect(
      rt.mutate(async (tx, touch) => {
        await tx.routingWrites.setNumberAssistant('nA', 'y', clock);
        touch(A);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await rt.lookup(A))!.assistantId).toBe('x');
    expect(await sql.value('SELECT assistant_id FROM phone_numbers WHERE id = ?', 'nA')).toBe('x');
    expect(await changeLog()).toEqual([]);
  });

  it('a write outside mutate() is NOT seen: the cache is what serves lookups', async () => {
    // This is why every write that changes routing goes through mutate() (the
    // ports make it the only way): a write behind its back records nothing in
    // the change log, so the cached entry keeps being served (until the TTL).
    const o = await open();
    await seed(o);
    const rt = new RoutingTable(o.routing, { size: 100 });
    expect((await rt.lookup(A))!.assistantId).toBe('x');

    await sql.run('UPDATE phone_numbers SET assistant_id = ? WHERE id = ?', 'y', 'nA');

    expect((await rt.lookup(A))!.assistantId).toBe('x');
    // A fresh table (cold cache) reads the truth: the database did change.
    expect((await new RoutingTable(o.routing, { size: 100 }).lookup(A))!.assistantId).toBe('y');
  });

  it('the negative cache is bounded: a flood of unknown numbers cannot grow it or evict real entries', async () => {
    const o = await open();
    await seed(o);
    const rt = new RoutingTable(o.routing, { size: 100, negativeSize: 100 });
    await rt.lookup(A);

    // Deterministic pseudo-random distinct unknown numbers (+1 212 xxx xxxx).
    const unknown = new Set<string>();
    let s = 12345;
    while (unknown.size < 300) {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      unknown.add(`+1212${String(s % 10_000_000).padStart(7, '0')}`);
    }
    for (const n of unknown) expect(await rt.lookup(n)).toBeNull();

    const stats = rt.snapshotStats();
    expect(stats.negativeSize).toBe(100); // used, and bounded
    expect(stats.misses).toBe(1 + 300);
    // The real entry survived the flood.
    expect(rt.peek(A)!.assistantId).toBe('x');
  });

  it('a released number routes as released (its history row); a newer held row wins', async () => {
    const o = await open();
    await team(o.store, 't1');
    await team(o.store, 't2');
    await assistant(o.store, 'x', 't1');
    await assistant(o.store, 'z', 't2');
    await seedNumbers(o.routing, [
      numberRow('old1', A, 't1', { status: 'released', createdAt: T0 - 3 * HOUR }),
      numberRow('old2', A, 't1', { status: 'released', createdAt: T0 - 2 * HOUR }),
    ]);
    const rt = new RoutingTable(o.routing, { size: 100 });

    // The most recent history row, not "no_route".
    expect(await rt.lookup(A)).toMatchObject({ numberId: 'old2', teamId: 't1', status: 'released', assistantId: null });

    // Another team buys the number again (new row, held).
    await rt.mutate(async (tx, touch) => {
      await tx.routingWrites.insertNumber(numberRow('new', A, 't2', { status: 'purchasing', createdAt: T0 }));
      touch(A);
    });
    expect(await rt.lookup(A)).toMatchObject({ numberId: 'new', teamId: 't2', status: 'purchasing' });

    await rt.mutate(async (tx, touch) => {
      await tx.routingWrites.transitionNumber('new', ['purchasing'], { status: 'active', assistantId: 'z' });
      touch(A);
    });
    expect(await rt.lookup(A)).toMatchObject({ numberId: 'new', teamId: 't2', status: 'active', assistantId: 'z', mediaUrl: 'wss://z.example.com/stream' });
  });

  it('a held row wins over a released row even when the released row is newer', async () => {
    const o = await open();
    await team(o.store, 't1');
    await seedNumbers(o.routing, [
      numberRow('held', A, 't1', { status: 'suspended', createdAt: T0 - HOUR }),
      numberRow('hist', A, 't1', { status: 'released', createdAt: T0 }),
    ]);
    expect(await new RoutingTable(o.routing, { size: 10 }).lookup(A)).toMatchObject({ numberId: 'held', status: 'suspended' });
  });

  it('an assistant deleted under a number: the number reads as unassigned after mutate', async () => {
    const o = await open();
    await seed(o);
    const rt = new RoutingTable(o.routing, { size: 100 });
    await rt.lookup(C);
    await rt.mutate(async (tx, touch) => {
      await tx.routingWrites.deleteAssistant('y', 't1'); // ON DELETE SET NULL
      touch(C);
    });
    expect(await rt.lookup(C)).toMatchObject({ assistantId: null, mediaUrl: null });
  });
});

describe('RoutingTable, two processes on one database', () => {
  // Two opened stores are two sets of connections, exactly what two gateway
  // processes have; each learns the other's changes through its feed.
  async function twoTables() {
    const o1 = await open();
    await seed(o1);
    const o2 = await open();
    const rt1 = new RoutingTable(o1.routing, { size: 100, ttlMs: 24 * HOUR });
    const rt2 = new RoutingTable(o2.routing, { size: 100, ttlMs: 24 * HOUR });
    // Warm both caches.
    for (const rt of [rt1, rt2]) {
      for (const n of [A, B, C]) await rt.lookup(n);
      expect(rt.peek(A)!.assistantId).toBe('x');
    }
    return { o1, o2, rt1, rt2 };
  }

  const cached = (rt: RoutingTable, n: string) => rt.peek(n) !== undefined;

  it("a reassignment through table 1 is seen by table 2's very next lookup", async () => {
    const { rt1, rt2 } = await twoTables();
    await reassign(rt1, 'nA', A, 'y');
    expect(await rt2.lookup(A)).toMatchObject({ assistantId: 'y', mediaUrl: 'wss://y.example.com/stream' });
    expect(rt2.snapshotStats().externalChanges).toBeGreaterThanOrEqual(1);
    // Only A was dropped: B and C are still served from table 2's cache.
    expect(cached(rt2, B)).toBe(true);
    expect(cached(rt2, C)).toBe(true);
  });

  it('several changes in a row, from either side, are all applied', async () => {
    const { rt1, rt2 } = await twoTables();
    await reassign(rt1, 'nA', A, 'y');
    await reassign(rt1, 'nB', B, null);
    expect((await rt2.lookup(A))!.assistantId).toBe('y');
    expect((await rt2.lookup(B))!.assistantId).toBeNull();

    await reassign(rt2, 'nC', C, 'x');
    expect((await rt1.lookup(C))!.assistantId).toBe('x');
    expect((await rt1.lookup(A))!.assistantId).toBe('y');
  });

  it('a commit that changes no routing (a call record) does not empty the other cache', async () => {
    const { o1, rt2 } = await twoTables();
    await o1.store.calls.insertBatch([
      {
        id: 'c1',
        teamId: null,
        direction: 'inbound',
        carrier: 'twilio',
        carrierCallId: null,
        from: '+12125550123',
        to: A,
        phoneNumberId: null,
        assistantId: null,
        mediaUrl: null,
        status: 'routed',
        reason: null,
        carrierStatus: null,
        carrierSeq: null,
        createdAt: clock,
        answeredAt: null,
        endedAt: null,
        durationSec: null,
        endReason: null,
        mediaClaimedAt: null,
      },
    ]);
    expect(cached(rt2, A)).toBe(true);
    expect(cached(rt2, B)).toBe(true);
  });

  it('pruning past what table 2 saw (gap in the log) makes table 2 clear its cache', async () => {
    const { o2, rt1, rt2 } = await twoTables();
    // Table 2 must not see A's change before the prune: on PostgreSQL stop its feed for a moment.
    await o2.routing.feed.stop();
    await reassign(rt1, 'nA', A, 'y');
    clock += 2 * HOUR;
    await reassign(rt1, 'nB', B, 'y');
    // A's change is pruned, B's stays.
    expect(await rt1.pruneChanges(HOUR, clock)).toBe(1);
    await o2.routing.feed.start();

    expect((await rt2.lookup(A))!.assistantId).toBe('y');
    expect((await rt2.lookup(B))!.assistantId).toBe('y');
    // It could not tell what else changed, so C (untouched) was dropped too.
    expect(cached(rt2, C)).toBe(false);
  });

  it('pruning only changes table 2 already applied does not clear its cache', async () => {
    const { rt1, rt2 } = await twoTables();
    await reassign(rt1, 'nA', A, 'y');
    expect((await rt2.lookup(A))!.assistantId).toBe('y'); // applied
    clock += 2 * HOUR;
    expect(await rt1.pruneChanges(HOUR, clock)).toBe(1);
    expect(cached(rt2, A)).toBe(true);
    expect(cached(rt2, B)).toBe(true);
  });

  it('a table opened after the log was pruned still follows new changes', async () => {
    const o1 = await open();
    await seed(o1);
    const rt1 = new RoutingTable(o1.routing, { size: 100 });
    await reassign(rt1, 'nA', A, 'y');
    clock += 2 * HOUR;
    await rt1.pruneChanges(HOUR, clock);

    const o2 = await open();
    const rt2 = new RoutingTable(o2.routing, { size: 100 });
    expect((await rt2.lookup(A))!.assistantId).toBe('y');
    await reassign(rt1, 'nA', A, 'x');
    expect((await rt2.lookup(A))!.assistantId).toBe('x');
  });
});
