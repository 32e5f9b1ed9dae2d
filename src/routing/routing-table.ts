/**
 * The routing table: dialled number (E.164) → routing entry, an LRU in front
 * of the database.
 *
 * "Reassignment takes effect immediately" holds by construction: every write
 * that changes routing runs inside mutate(), which commits the write, records
 * which numbers changed in routing_changes, and drops those numbers from this
 * cache before it returns, so before the API answers. The TTL is only a
 * safety net (a TTL-only cache is the bug that kept jambonz routing reassigned
 * numbers to the old application until restart, sbc-inbound#83).
 *
 * Other gateway processes on the same file learn of a commit through SQLite's
 * data_version, which changes when another connection commits; they then read
 * routing_changes since the last sequence they saw and drop exactly those
 * numbers. Checking data_version is one cheap pragma per lookup.
 */
import type { Statement } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { immediate, type Db } from '../../db/client.js';
import type { RoutingEntry } from '../domain/routing.js';
import type { NumberStatus } from '../domain/types.js';

export interface RoutingTableOptions {
  /** Positive entries kept. */
  size: number;
  /** Unknown numbers remembered, bounded separately so a flood of random numbers cannot evict real entries. */
  negativeSize?: number;
  /** Safety net only; invalidation is the mechanism. */
  ttlMs?: number;
}

export interface RoutingStats {
  hits: number;
  misses: number;
  size: number;
  negativeSize: number;
  invalidations: number;
  externalChanges: number;
}

interface EntryRow {
  id: string;
  e164: string;
  team_id: string;
  status: NumberStatus;
  assistant_id: string | null;
  media_url: string | null;
  expires_at: number | null;
}

/** Records which numbers a write touched; passed to the function given to mutate(). */
export type Touch = (e164: string) => void;

export class RoutingTable {
  private readonly cache: LRUCache<string, RoutingEntry>;
  private readonly negative: LRUCache<string, true>;
  private readonly selectHeld: Statement<[string], EntryRow>;
  private readonly selectHistory: Statement<[string], EntryRow>;
  private readonly dataVersion: Statement<[], number>;
  private readonly changesSince: Statement<[number], { seq: number; e164: string }>;
  private readonly insertChange: Statement<[string, number]>;
  private readonly lastAllocatedSeq: Statement<[], number>;
  private lastDataVersion: number;
  private lastSeq: number;
  readonly stats: RoutingStats = { hits: 0, misses: 0, size: 0, negativeSize: 0, invalidations: 0, externalChanges: 0 };

  constructor(
    private readonly db: Db,
    opts: RoutingTableOptions,
    private readonly now: () => number = Date.now,
  ) {
    const ttl = opts.ttlMs ?? 10 * 60_000;
    this.cache = new LRUCache({ max: opts.size, ttl });
    this.negative = new LRUCache({ max: opts.negativeSize ?? Math.max(1000, Math.min(opts.size, 50_000)), ttl });
    const c = db.$client;
    // The number's current holder, through the partial unique index (at most
    // one row, no sort): the common case on a cache miss.
    this.selectHeld = c.prepare(
      `SELECT p.id, p.e164, p.team_id, p.status, p.assistant_id, a.media_url, p.expires_at
         FROM phone_numbers p LEFT JOIN assistants a ON a.id = p.assistant_id
        WHERE p.e164 = ? AND p.status IN ('purchasing', 'active', 'suspended')`,
    );
    // Nobody holds it: its most recent history row, so a released number
    // says "released", not "no_route".
    this.selectHistory = c.prepare(
      `SELECT p.id, p.e164, p.team_id, p.status, p.assistant_id, NULL AS media_url, p.expires_at
         FROM phone_numbers p
        WHERE p.e164 = ?
        ORDER BY p.created_at DESC
        LIMIT 1`,
    );
    this.dataVersion = c.prepare('PRAGMA data_version').pluck() as Statement<[], number>;
    this.changesSince = c.prepare('SELECT seq, e164 FROM routing_changes WHERE seq > ? ORDER BY seq');
    this.insertChange = c.prepare('INSERT INTO routing_changes (e164, created_at) VALUES (?, ?)');
    // AUTOINCREMENT keeps the last seq handed out in sqlite_sequence even
    // after pruneChanges deleted every row, so it tells "nothing changed"
    // apart from "changes happened and were already pruned".
    this.lastAllocatedSeq = c
      .prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'routing_changes'), 0)")
      .pluck() as Statement<[], number>;
    this.lastDataVersion = this.dataVersion.get() as number;
    this.lastSeq = this.lastAllocatedSeq.get() as number;
  }

  /** The routing entry for a dialled E.164 number, or null when nobody ever held it. */
  lookup(e164: string): RoutingEntry | null {
    this.catchUp();
    const hit = this.cache.get(e164);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    if (this.negative.get(e164)) {
      this.stats.hits++;
      return null;
    }
    this.stats.misses++;
    const row = this.selectHeld.get(e164) ?? this.selectHistory.get(e164);
    if (!row) {
      this.negative.set(e164, true);
      return null;
    }
    const entry: RoutingEntry = {
      e164: row.e164,
      numberId: row.id,
      teamId: row.team_id,
      status: row.status,
      assistantId: row.assistant_id,
      mediaUrl: row.media_url,
      expiresAt: row.expires_at,
    };
    this.cache.set(e164, entry);
    return entry;
  }

  /**
   * Runs a write that changes routing, in one IMMEDIATE transaction. `fn` calls
   * touch(e164) for every number whose routing it changes; after the commit,
   * and before mutate returns, those numbers leave this cache, and the change
   * log tells other processes.
   */
  mutate<T>(fn: (touch: Touch) => T): T {
    const touched = new Set<string>();
    const touch: Touch = (e164) => touched.add(e164);
    const result = immediate(this.db, () => {
      // Holding the write lock now: take in other processes' changes first,
      // so lastSeq below cannot jump over a change we have not applied.
      this.catchUp();
      const r = fn(touch);
      const at = this.now();
      for (const e164 of touched) {
        const info = this.insertChange.run(e164, at);
        this.lastSeq = Number(info.lastInsertRowid);
      }
      return r;
    });
    this.invalidate(touched);
    return result;
  }

  invalidate(e164s: Iterable<string>): void {
    for (const e164 of e164s) {
      this.cache.delete(e164);
      this.negative.delete(e164);
      this.stats.invalidations++;
    }
  }

  clear(): void {
    this.cache.clear();
    this.negative.clear();
  }

  /** Drops what other processes changed since we last looked. */
  private catchUp(): void {
    const dv = this.dataVersion.get() as number;
    if (dv === this.lastDataVersion) return;
    this.lastDataVersion = dv;
    const rows = this.changesSince.all(this.lastSeq);
    if (rows.length === 0) {
      // Either the commit did not touch routing (a call record, say), or the
      // log was pruned of every change we had not seen yet: then we cannot
      // tell what changed either, and must forget everything.
      const allocated = this.lastAllocatedSeq.get() as number;
      if (allocated > this.lastSeq) {
        this.clear();
        this.lastSeq = allocated;
      }
      return;
    }
    if (rows[0]!.seq !== this.lastSeq + 1) {
      // The change log was pruned past what we saw: we cannot tell what
      // changed, so forget everything (rare; costs only cache misses).
      this.clear();
    } else {
      for (const r of rows) {
        this.cache.delete(r.e164);
        this.negative.delete(r.e164);
      }
    }
    this.stats.externalChanges += rows.length;
    this.lastSeq = rows[rows.length - 1]!.seq;
  }

  /** Deletes change-log rows older than maxAgeMs. */
  pruneChanges(maxAgeMs: number): number {
    return this.db.$client.prepare('DELETE FROM routing_changes WHERE created_at < ?').run(this.now() - maxAgeMs).changes;
  }

  snapshotStats(): RoutingStats {
    return { ...this.stats, size: this.cache.size, negativeSize: this.negative.size };
  }
}
