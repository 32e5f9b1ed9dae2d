// The routing table on a real SQLite file with the real migrations: the LRU,
// invalidation through mutate(), and the cross-process path (data_version +
// routing_changes) that makes "takes effect immediately" (spec section 3,
// "Assign and unassign") true for every gateway process sharing the file.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { closeDb, openDb, type Db } from '../../db/client.js';
import { assistants, calls, phoneNumbers, routingChanges, teams } from '../../db/schema.js';
import { RoutingTable } from '../../src/routing/routing-table.js';
import type { NumberStatus } from '../../src/domain/types.js';

const HOUR = 60 * 60_000;
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

let dir: string;
let file: string;
let handles: Db[];
let clock: number;
const now = () => clock;

function open(): Db {
  const db = openDb({ path: file });
  handles.push(db);
  return db;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchboard-routing-table-'));
  file = join(dir, 'switchboard.db');
  handles = [];
  clock = T0;
});

afterEach(() => {
  for (const db of handles) closeDb(db);
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Rows, written with drizzle straight into the schema.

function team(db: Db, id: string): void {
  db.insert(teams).values({ id, slug: id, name: id, plan: 'pro', createdAt: clock }).run();
}

function assistant(db: Db, id: string, teamId: string, mediaUrl = `wss://${id}.example.com/stream`): void {
  db.insert(assistants).values({ id, teamId, name: id, mediaUrl, createdAt: clock, updatedAt: clock }).run();
}

function number(
  db: Db,
  id: string,
  e164: string,
  teamId: string,
  over: { status?: NumberStatus; assistantId?: string | null; createdAt?: number; expiresAt?: number | null } = {},
): void {
  db.insert(phoneNumbers)
    .values({
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
      trial: false,
      expiresAt: over.expiresAt ?? null,
      createdAt: over.createdAt ?? clock,
      activatedAt: clock,
      updatedAt: clock,
    })
    .run();
}

function setAssistant(db: Db, numberId: string, assistantId: string | null): void {
  db.update(phoneNumbers).set({ assistantId, updatedAt: clock }).where(eq(phoneNumbers.id, numberId)).run();
}

const A = '+14155552671';
const B = '+14155552672';
const C = '+14155552673';

/** team t1 with assistants x and y; numbers A and B on x, C on y. */
function seed(db: Db): void {
  team(db, 't1');
  assistant(db, 'x', 't1');
  assistant(db, 'y', 't1');
  number(db, 'nA', A, 't1', { assistantId: 'x' });
  number(db, 'nB', B, 't1', { assistantId: 'x' });
  number(db, 'nC', C, 't1', { assistantId: 'y' });
}

// ---------------------------------------------------------------------------

describe('RoutingTable, one process', () => {
  it('a miss loads from the database, the next lookup is a hit', () => {
    const db = open();
    seed(db);
    const rt = new RoutingTable(db, { size: 100 }, now);

    const first = rt.lookup(A);
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

    expect(rt.lookup(A)).toEqual(first);
    expect(rt.snapshotStats()).toMatchObject({ hits: 1, misses: 1, size: 1 });
  });

  it('an unknown number is null, and remembered in the negative cache', () => {
    const db = open();
    seed(db);
    const rt = new RoutingTable(db, { size: 100 }, now);
    expect(rt.lookup('+14155550000')).toBeNull();
    expect(rt.lookup('+14155550000')).toBeNull();
    expect(rt.snapshotStats()).toMatchObject({ hits: 1, misses: 1, size: 0, negativeSize: 1 });
  });

  it('mutate() invalidates the touched number before it returns', () => {
    const db = open();
    seed(db);
    const rt = new RoutingTable(db, { size: 100 }, now);
    expect(rt.lookup(A)!.assistantId).toBe('x');
    expect(rt.lookup(A)!.assistantId).toBe('x'); // cached

    const result = rt.mutate((touch) => {
      setAssistant(db, 'nA', 'y');
      touch(A);
      return 'done';
    });

    expect(result).toBe('done');
    // The very next lookup, with no await and no timer in between.
    const after = rt.lookup(A)!;
    expect(after.assistantId).toBe('y');
    expect(after.mediaUrl).toBe('wss://y.example.com/stream');
    // B was cached and not touched: it stays cached.
    rt.lookup(B);
    const missesBefore = rt.snapshotStats().misses;
    rt.lookup(B);
    expect(rt.snapshotStats().misses).toBe(missesBefore);
    // The change log has the row other processes will read.
    expect(db.select().from(routingChanges).all()).toEqual([{ seq: 1, e164: A, createdAt: T0 }]);
  });

  it('mutate() forgets a negative entry when a number becomes known', () => {
    const db = open();
    seed(db);
    const rt = new RoutingTable(db, { size: 100 }, now);
    const D = '+14155552674';
    expect(rt.lookup(D)).toBeNull();
    rt.mutate((touch) => {
      number(db, 'nD', D, 't1', { assistantId: 'y' });
      touch(D);
    });
    expect(rt.lookup(D)?.assistantId).toBe('y');
  });

  it('a mutate() that throws rolls back and leaves the cache and change log alone', () => {
    const db = open();
    seed(db);
    const rt = new RoutingTable(db, { size: 100 }, now);
    rt.lookup(A);
    expect(() =>
      rt.mutate((touch) => {
        setAssistant(db, 'nA', 'y');
        touch(A);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(rt.lookup(A)!.assistantId).toBe('x');
    expect(db.select().from(routingChanges).all()).toEqual([]);
  });

  it('a write outside mutate() is NOT seen: the cache is what serves lookups', () => {
    // This is why every write that changes routing must go through mutate():
    // a direct write on the same connection does not bump data_version for
    // this connection and records nothing in routing_changes, so the cached
    // entry keeps being served (until the safety-net TTL).
    const db = open();
    seed(db);
    const rt = new RoutingTable(db, { size: 100 }, now);
    expect(rt.lookup(A)!.assistantId).toBe('x');

    setAssistant(db, 'nA', 'y');

    expect(rt.lookup(A)!.assistantId).toBe('x');
    expect(rt.snapshotStats()).toMatchObject({ hits: 1, misses: 1 });
    // A fresh table (cold cache) reads the truth: the database did change.
    expect(new RoutingTable(db, { size: 100 }, now).lookup(A)!.assistantId).toBe('y');
  });

  it('the negative cache is bounded: a flood of unknown numbers cannot grow it or evict real entries', () => {
    const db = open();
    seed(db);
    const rt = new RoutingTable(db, { size: 100, negativeSize: 100 }, now);
    rt.lookup(A);

    // Deterministic pseudo-random distinct unknown numbers (+1 212 xxx xxxx).
    const unknown = new Set<string>();
    let s = 12345;
    while (unknown.size < 1000) {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      unknown.add(`+1212${String(s % 10_000_000).padStart(7, '0')}`);
    }
    for (const n of unknown) expect(rt.lookup(n)).toBeNull();

    const stats = rt.snapshotStats();
    expect(stats.negativeSize).toBeLessThanOrEqual(100);
    expect(stats.negativeSize).toBe(100); // it is used, just bounded
    expect(stats.misses).toBe(1 + 1000);
    // The real entry survived the flood.
    const hits = stats.hits;
    expect(rt.lookup(A)!.assistantId).toBe('x');
    expect(rt.snapshotStats().hits).toBe(hits + 1);
  });

  it('a released number routes as released (its history row); a newer held row wins', () => {
    const db = open();
    team(db, 't1');
    team(db, 't2');
    assistant(db, 'x', 't1');
    assistant(db, 'z', 't2');
    number(db, 'old1', A, 't1', { status: 'released', createdAt: T0 - 3 * HOUR });
    number(db, 'old2', A, 't1', { status: 'released', createdAt: T0 - 2 * HOUR });
    const rt = new RoutingTable(db, { size: 100 }, now);

    // The most recent history row, not "no_route".
    expect(rt.lookup(A)).toMatchObject({ numberId: 'old2', teamId: 't1', status: 'released', assistantId: null });

    // Another team buys the number again (new row, held).
    rt.mutate((touch) => {
      number(db, 'new', A, 't2', { status: 'purchasing', createdAt: T0 });
      touch(A);
    });
    expect(rt.lookup(A)).toMatchObject({ numberId: 'new', teamId: 't2', status: 'purchasing' });

    rt.mutate((touch) => {
      db.update(phoneNumbers).set({ status: 'active', assistantId: 'z' }).where(eq(phoneNumbers.id, 'new')).run();
      touch(A);
    });
    expect(rt.lookup(A)).toMatchObject({ numberId: 'new', teamId: 't2', status: 'active', assistantId: 'z', mediaUrl: 'wss://z.example.com/stream' });
  });

  it('a held row wins over a released row even when the released row is newer', () => {
    // The ORDER BY puts held statuses first; created_at only breaks ties.
    const db = open();
    team(db, 't1');
    number(db, 'held', A, 't1', { status: 'suspended', createdAt: T0 - HOUR });
    number(db, 'hist', A, 't1', { status: 'released', createdAt: T0 });
    expect(new RoutingTable(db, { size: 10 }, now).lookup(A)).toMatchObject({ numberId: 'held', status: 'suspended' });
  });

  it('an assistant deleted under a number: the number reads as unassigned after mutate', () => {
    const db = open();
    seed(db);
    const rt = new RoutingTable(db, { size: 100 }, now);
    rt.lookup(C);
    rt.mutate((touch) => {
      db.delete(assistants).where(eq(assistants.id, 'y')).run(); // ON DELETE SET NULL
      touch(C);
    });
    expect(rt.lookup(C)).toMatchObject({ assistantId: null, mediaUrl: null });
  });
});

describe('RoutingTable, two processes on one file', () => {
  // Two openDb handles are two SQLite connections, exactly what two gateway
  // processes have; data_version only moves for commits by the other one.
  function twoTables() {
    const db1 = open();
    seed(db1);
    const db2 = open();
    const rt1 = new RoutingTable(db1, { size: 100, ttlMs: 24 * HOUR }, now);
    const rt2 = new RoutingTable(db2, { size: 100, ttlMs: 24 * HOUR }, now);
    // Warm both caches.
    for (const rt of [rt1, rt2]) {
      for (const n of [A, B, C]) rt.lookup(n);
      expect(rt.lookup(A)!.assistantId).toBe('x');
    }
    return { db1, db2, rt1, rt2 };
  }

  function missCount(rt: RoutingTable, n: string): number {
    const before = rt.snapshotStats().misses;
    rt.lookup(n);
    return rt.snapshotStats().misses - before;
  }

  it("a reassignment through table 1 is seen by table 2's very next lookup", () => {
    const { db1, rt1, rt2 } = twoTables();
    rt1.mutate((touch) => {
      setAssistant(db1, 'nA', 'y');
      touch(A);
    });
    expect(rt2.lookup(A)).toMatchObject({ assistantId: 'y', mediaUrl: 'wss://y.example.com/stream' });
    expect(rt2.snapshotStats().externalChanges).toBe(1);
    // Only A was dropped: B and C are still served from table 2's cache.
    expect(missCount(rt2, B)).toBe(0);
    expect(missCount(rt2, C)).toBe(0);
  });

  it('several changes in a row, from either side, are all applied', () => {
    const { db1, db2, rt1, rt2 } = twoTables();
    rt1.mutate((touch) => {
      setAssistant(db1, 'nA', 'y');
      touch(A);
    });
    rt1.mutate((touch) => {
      setAssistant(db1, 'nB', null);
      touch(B);
    });
    expect(rt2.lookup(A)!.assistantId).toBe('y');
    expect(rt2.lookup(B)!.assistantId).toBeNull();

    rt2.mutate((touch) => {
      setAssistant(db2, 'nC', 'x');
      touch(C);
    });
    expect(rt1.lookup(C)!.assistantId).toBe('x');
    expect(rt1.lookup(A)!.assistantId).toBe('y');
  });

  it('a commit that changes no routing (a call record) does not empty the other cache', () => {
    const { db1, rt2 } = twoTables();
    db1.insert(calls).values({ id: 'c1', direction: 'inbound', carrier: 'twilio', from: '+12125550123', to: A, status: 'routed', createdAt: clock }).run();
    expect(missCount(rt2, A)).toBe(0);
    expect(missCount(rt2, B)).toBe(0);
  });

  it('pruning past what table 2 saw (gap in the log) makes table 2 clear its cache', () => {
    const { db1, rt1, rt2 } = twoTables();
    rt1.mutate((touch) => {
      setAssistant(db1, 'nA', 'y');
      touch(A);
    });
    clock += 2 * HOUR;
    rt1.mutate((touch) => {
      setAssistant(db1, 'nB', 'y');
      touch(B);
    });
    // Table 2 has looked at nothing meanwhile. A's change is pruned, B's stays.
    expect(rt1.pruneChanges(HOUR)).toBe(1);

    expect(rt2.lookup(A)!.assistantId).toBe('y');
    expect(rt2.lookup(B)!.assistantId).toBe('y');
    // It could not tell what else changed, so C (untouched) was dropped too.
    expect(missCount(rt2, C)).toBe(1);
  });

  it('pruning every change table 2 had not seen makes table 2 clear its cache', () => {
    // The whole log is gone, so there is no gap to notice in the rows read;
    // the table must still not keep serving the old assignment.
    const { db1, rt1, rt2 } = twoTables();
    rt1.mutate((touch) => {
      setAssistant(db1, 'nA', 'y');
      touch(A);
    });
    clock += 2 * HOUR;
    expect(rt1.pruneChanges(HOUR)).toBe(1);
    expect(db1.select().from(routingChanges).all()).toEqual([]);

    expect(rt2.lookup(A)).toMatchObject({ assistantId: 'y', mediaUrl: 'wss://y.example.com/stream' });
    expect(missCount(rt2, C)).toBe(1); // cleared, not just A

    // And it keeps following changes afterwards, one number at a time again.
    rt2.lookup(B);
    rt1.mutate((touch) => {
      setAssistant(db1, 'nA', 'x');
      touch(A);
    });
    expect(rt2.lookup(A)!.assistantId).toBe('x');
    expect(missCount(rt2, B)).toBe(0);
  });

  it('pruning only changes table 2 already applied does not clear its cache', () => {
    const { db1, rt1, rt2 } = twoTables();
    rt1.mutate((touch) => {
      setAssistant(db1, 'nA', 'y');
      touch(A);
    });
    expect(rt2.lookup(A)!.assistantId).toBe('y'); // applied
    clock += 2 * HOUR;
    expect(rt1.pruneChanges(HOUR)).toBe(1);
    expect(missCount(rt2, A)).toBe(0);
    expect(missCount(rt2, B)).toBe(0);
  });

  it('a table opened after the log was pruned still follows new changes', () => {
    const db1 = open();
    seed(db1);
    const rt1 = new RoutingTable(db1, { size: 100 }, now);
    rt1.mutate((touch) => {
      setAssistant(db1, 'nA', 'y');
      touch(A);
    });
    clock += 2 * HOUR;
    rt1.pruneChanges(HOUR);

    const db2 = open();
    const rt2 = new RoutingTable(db2, { size: 100 }, now);
    expect(rt2.lookup(A)!.assistantId).toBe('y');
    rt1.mutate((touch) => {
      setAssistant(db1, 'nA', 'x');
      touch(A);
    });
    expect(rt2.lookup(A)!.assistantId).toBe('x');
  });
});
