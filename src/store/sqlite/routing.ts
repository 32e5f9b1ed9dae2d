/**
 * Routing on SQLite: the cache-miss lookup, routing transactions with their
 * change log, and the change feed between processes sharing the file.
 *
 * Feed: SQLite's `PRAGMA data_version` (on the reader connection) changes
 * whenever another connection commits. sync() checks it (about a microsecond)
 * before every cache read; when it moved, it reads routing_changes after the
 * last sequence seen and drops exactly those numbers. If the log was pruned
 * past that point it drops everything rather than guess. A routing
 * transaction catches up first, inside the write lock, so its own change-log
 * rows can never jump over another process's.
 */
import type { Statement } from 'better-sqlite3';
import type { RoutingEntry } from '../../domain/routing.js';
import type { NumberStatus } from '../../domain/types.js';
import type { RoutingFeed, RoutingRepos, RoutingStore } from '../../services/ports.js';
import type { WriteLock } from '../write-lock.js';
import type { SqliteConnections } from './client.js';
import { mapError } from './repos.js';
import { writesOf } from './writes.js';

interface EntryRow {
  id: string;
  e164: string;
  team_id: string;
  status: NumberStatus;
  assistant_id: string | null;
  media_url: string | null;
  expires_at: number | null;
}

const toEntry = (row: EntryRow): RoutingEntry => ({
  e164: row.e164,
  numberId: row.id,
  teamId: row.team_id,
  status: row.status,
  assistantId: row.assistant_id,
  mediaUrl: row.media_url,
  expiresAt: row.expires_at,
});

// The number's current holder, through the partial unique index (at most one
// row, no sort): the common case on a cache miss.
const HELD = `SELECT p.id, p.e164, p.team_id, p.status, p.assistant_id, a.media_url, p.expires_at
  FROM phone_numbers p LEFT JOIN assistants a ON a.id = p.assistant_id
 WHERE p.e164 = ? AND p.status IN ('purchasing', 'active', 'suspended')`;
// Nobody holds it: its latest history row, so a released number says "released", not "no_route".
const HISTORY = `SELECT p.id, p.e164, p.team_id, p.status, p.assistant_id, NULL AS media_url, p.expires_at
  FROM phone_numbers p WHERE p.e164 = ? ORDER BY p.created_at DESC LIMIT 1`;

class SqliteFeed implements RoutingFeed {
  private readonly dataVersion: Statement<[], number>;
  private readonly changesSince: Statement<[number], { seq: number; e164: string }>;
  private readonly changesSinceW: Statement<[number], { seq: number; e164: string }>;
  private readonly lastAllocated: Statement<[], number>;
  private readonly lastAllocatedW: Statement<[], number>;
  private lastDataVersion: number;
  /** The last change-log sequence this process has applied. */
  lastSeq: number;
  private listener: (e164s: readonly string[] | null) => void = () => {};
  readonly stats = { externalChanges: 0, resets: 0, fenced: 0 };

  constructor(c: SqliteConnections) {
    const r = c.reader.$client;
    const w = c.writer.$client;
    this.dataVersion = r.prepare('PRAGMA data_version').pluck() as Statement<[], number>;
    this.changesSince = r.prepare('SELECT seq, e164 FROM routing_changes WHERE seq > ? ORDER BY seq');
    this.changesSinceW = w.prepare('SELECT seq, e164 FROM routing_changes WHERE seq > ? ORDER BY seq');
    // AUTOINCREMENT keeps the last seq handed out in sqlite_sequence even
    // after pruning deleted every row, so "nothing changed" and "changes
    // happened and were pruned already" can be told apart.
    const allocated = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'routing_changes'), 0)";
    this.lastAllocated = r.prepare(allocated).pluck() as Statement<[], number>;
    this.lastAllocatedW = w.prepare(allocated).pluck() as Statement<[], number>;
    this.lastDataVersion = this.dataVersion.get() as number;
    this.lastSeq = this.lastAllocated.get() as number;
  }

  onChange(listener: (e164s: readonly string[] | null) => void): void {
    this.listener = listener;
  }

  sync(): boolean {
    const dv = this.dataVersion.get() as number;
    if (dv !== this.lastDataVersion) {
      this.lastDataVersion = dv;
      this.apply(this.changesSince, this.lastAllocated);
    }
    return true;
  }

  /** Inside the write lock, on the writer: every change committed before ours. */
  catchUpForWrite(): void {
    this.apply(this.changesSinceW, this.lastAllocatedW);
  }

  private apply(since: Statement<[number], { seq: number; e164: string }>, allocated: Statement<[], number>): void {
    const rows = since.all(this.lastSeq);
    if (rows.length === 0) {
      // Either the commit did not touch routing (a call record, say), or the
      // log was pruned of every change we had not seen: then forget everything.
      const last = allocated.get() as number;
      if (last > this.lastSeq) {
        this.stats.resets++;
        this.listener(null);
        this.lastSeq = last;
      }
      return;
    }
    if (rows[0]!.seq !== this.lastSeq + 1) {
      this.stats.resets++;
      this.listener(null);
    } else {
      this.listener(rows.map((r) => r.e164));
    }
    this.stats.externalChanges += rows.length;
    this.lastSeq = rows[rows.length - 1]!.seq;
  }

  published(): Promise<{ acknowledged: boolean; waitedMs: number }> {
    // Other processes on the file see data_version move on their next lookup.
    return Promise.resolve({ acknowledged: true, waitedMs: 0 });
  }
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

export class SqliteRoutingStore implements RoutingStore {
  readonly feed: SqliteFeed;
  private readonly held: Statement<[string], EntryRow>;
  private readonly history: Statement<[string], EntryRow>;
  private readonly insertChange: Statement<[string, number]>;
  private readonly prune: Statement<[number]>;

  constructor(
    private readonly c: SqliteConnections,
    private readonly lock: WriteLock,
    private readonly inside: RoutingRepos,
    private readonly now: () => number,
  ) {
    this.feed = new SqliteFeed(c);
    this.held = c.reader.$client.prepare(HELD);
    this.history = c.reader.$client.prepare(HISTORY);
    this.insertChange = c.writer.$client.prepare('INSERT INTO routing_changes (e164, created_at) VALUES (?, ?)');
    this.prune = c.writer.$client.prepare('DELETE FROM routing_changes WHERE created_at < ?');
  }

  lookup(e164: string): Promise<RoutingEntry | null> {
    try {
      const row = this.held.get(e164) ?? this.history.get(e164);
      return Promise.resolve(row ? toEntry(row) : null);
    } catch (err) {
      return Promise.reject(mapError(err));
    }
  }

  transaction<T>(fn: (tx: RoutingRepos, touch: (e164: string) => void) => Promise<T>) {
    return this.lock.run(async () => {
      const db = this.c.writer.$client;
      const touched = new Set<string>();
      try {
        writesOf(db).stmt('BEGIN IMMEDIATE').run();
      } catch (err) {
        throw mapError(err);
      }
      try {
        this.feed.catchUpForWrite();
        const result = await fn(this.inside, (e164) => touched.add(e164));
        const at = this.now();
        let seq: number | null = null;
        for (const e164 of touched) seq = Number(this.insertChange.run(e164, at).lastInsertRowid);
        writesOf(db).stmt('COMMIT').run();
        if (seq !== null) this.feed.lastSeq = seq;
        return { result, seq, touched };
      } catch (err) {
        if (db.inTransaction) writesOf(db).stmt('ROLLBACK').run();
        throw mapError(err);
      }
    });
  }

  pruneChanges(olderThan: number): Promise<number> {
    return this.lock.sync(() => this.prune.run(olderThan).changes);
  }
}
