/**
 * The routing table: dialled number (E.164) → routing entry, an LRU in front
 * of the database.
 *
 * "Reassignment takes effect immediately" holds by construction: every write
 * that changes routing runs inside mutate(), the only holder of the
 * RoutingStore, which commits the write with its change-log rows, drops the
 * touched numbers from this cache before it returns, and then waits (on
 * PostgreSQL) until every other live instance has dropped them too, or the
 * invalidation bound has passed (see RoutingFeed.published). The TTL is only
 * a safety net (a TTL-only cache is the bug that kept jambonz routing
 * reassigned numbers to the old application until restart, sbc-inbound#83).
 *
 * Other processes' changes arrive through the RoutingFeed port: on every
 * lookup, feed.sync() applies what is known and says whether the cache may be
 * served at all; when it may not (a PostgreSQL connection lost for longer
 * than the bound), lookups go to the database and nothing is cached.
 */
import { LRUCache } from 'lru-cache';
import type { RoutingEntry } from '../domain/routing.js';
import type { RoutingRepos, RoutingStore } from '../services/ports.js';

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
  /** Lookups served from the database because the cache could not be vouched for. */
  fenced: number;
  /** Routing writes whose invalidation some live instance did not acknowledge within the bound. */
  unacknowledged: number;
}

/** Records which numbers a write touched; passed to the function given to mutate(). */
export type Touch = (e164: string) => void;

export class RoutingTable {
  private readonly cache: LRUCache<string, RoutingEntry>;
  private readonly negative: LRUCache<string, true>;
  /** Bumped by clear(): a database read that overlapped it is not cached. */
  private epoch = 0;
  /**
   * Database reads in flight, by number: an invalidation of that number marks
   * them stale, so what they read is returned but not cached (it may predate
   * the change). Invalidations of other numbers leave them alone.
   */
  private readonly inflight = new Map<string, { stale: boolean; n: number }>();
  readonly stats: RoutingStats = { hits: 0, misses: 0, size: 0, negativeSize: 0, invalidations: 0, externalChanges: 0, fenced: 0, unacknowledged: 0 };
  /** How long each routing write waited for other instances to acknowledge (ms); the metrics read it. */
  onPublished: (waitedMs: number, acknowledged: boolean) => void = () => {};

  constructor(
    private readonly store: RoutingStore,
    opts: RoutingTableOptions,
  ) {
    const ttl = opts.ttlMs ?? 10 * 60_000;
    this.cache = new LRUCache({ max: opts.size, ttl });
    this.negative = new LRUCache({ max: opts.negativeSize ?? Math.max(1000, Math.min(opts.size, 50_000)), ttl });
    store.feed.onChange((e164s) => {
      if (e164s === null) this.clear();
      else {
        this.stats.externalChanges += e164s.length;
        this.drop(e164s);
      }
    });
  }

  /**
   * The cached entry without touching the database: an entry, null (known
   * unknown), or undefined (not cached, or the cache may not be served now).
   * The webhook path tries this first and awaits lookup() only on a miss.
   */
  peek(e164: string): RoutingEntry | null | undefined {
    if (!this.store.feed.sync()) return undefined;
    const hit = this.cache.get(e164);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    if (this.negative.get(e164)) {
      this.stats.hits++;
      return null;
    }
    return undefined;
  }

  /** The routing entry for a dialled E.164 number, or null when nobody ever held it. */
  async lookup(e164: string): Promise<RoutingEntry | null> {
    const cached = this.peek(e164);
    if (cached !== undefined) return cached;
    const trusted = this.store.feed.sync();
    if (!trusted) this.stats.fenced++;
    this.stats.misses++;
    const epoch = this.epoch;
    let flight = this.inflight.get(e164);
    if (flight) flight.n++;
    else this.inflight.set(e164, (flight = { stale: false, n: 1 }));
    let entry: RoutingEntry | null;
    try {
      entry = await this.store.lookup(e164);
    } finally {
      if (--flight.n === 0 && this.inflight.get(e164) === flight) this.inflight.delete(e164);
    }
    // Cache only what no invalidation of this number overlapped, and only
    // while the cache is trusted: a read that started before another
    // instance's commit may be older than the change that invalidated it.
    if (trusted && !flight.stale && epoch === this.epoch && this.store.feed.sync()) {
      if (entry) this.cache.set(e164, entry);
      else this.negative.set(e164, true);
    }
    return entry;
  }

  /**
   * Runs a write that changes routing, in one transaction serialised with
   * every other routing write. `fn` calls touch(e164) for every number whose
   * routing it changes. After the commit, before mutate returns: those
   * numbers leave this cache, and every other live instance has dropped them
   * too (or the bound has passed and they have stopped trusting their caches).
   */
  async mutate<T>(fn: (tx: RoutingRepos, touch: Touch) => Promise<T>): Promise<T> {
    const { result, seq, touched } = await this.store.transaction(fn);
    this.drop(touched);
    this.stats.invalidations += touched.size;
    if (seq !== null) {
      const { acknowledged, waitedMs } = await this.store.feed.published(seq);
      if (!acknowledged) this.stats.unacknowledged++;
      this.onPublished(waitedMs, acknowledged);
    }
    return result;
  }

  private drop(e164s: Iterable<string>): void {
    for (const e164 of e164s) {
      this.cache.delete(e164);
      this.negative.delete(e164);
      const flight = this.inflight.get(e164);
      if (flight) {
        // Reads that start after this one begin clean.
        flight.stale = true;
        this.inflight.delete(e164);
      }
    }
  }

  clear(): void {
    this.epoch++;
    this.cache.clear();
    this.negative.clear();
  }

  /** Deletes change-log rows older than maxAgeMs. */
  pruneChanges(maxAgeMs: number, now: number): Promise<number> {
    return this.store.pruneChanges(now - maxAgeMs);
  }

  snapshotStats(): RoutingStats {
    return { ...this.stats, size: this.cache.size, negativeSize: this.negative.size };
  }
}
